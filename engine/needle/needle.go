package needle

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Errors returned by the decoders. Every decode failure wraps ErrCorrupted
// so callers can tell damaged bytes from I/O errors with errors.Is.
var (
	ErrCorrupted    = errors.New("needle data corrupted")
	ErrSizeMismatch = errors.New("needle size mismatch")
	ErrChecksum     = fmt.Errorf("%w: checksum mismatch", ErrCorrupted)
	ErrVersion      = errors.New("unsupported needle version")
)

// Needle is one decoded or to-be-encoded record. After Decode, the byte
// slices alias the buffer that was decoded: the caller owns that buffer and
// must not reuse it while the Needle is in use.
type Needle struct {
	Cookie uint32
	ID     uint64
	// Size is the record's size field: the length of the v2/v3 body, or of
	// data in v1. Encode computes it.
	Size int32

	Data  []byte
	Flags byte
	Name  []byte // at most 255 bytes are stored
	Mime  []byte // at most 255 bytes
	Pairs []byte // JSON object of extra headers, at most 65535 bytes
	// LastModified is in Unix seconds; 5 bytes of it are stored.
	LastModified uint64
	TTL          TTL

	Checksum   CRC
	AppendAtNs uint64 // v3 only
}

// Has reports whether the flag bit f is set.
func (n *Needle) Has(f byte) bool { return n.Flags&f != 0 }

// IsCompressed reports whether Data is stored gzip-compressed.
func (n *Needle) IsCompressed() bool { return n.Has(FlagIsCompressed) }

// IsChunkManifest reports whether Data is a chunk manifest.
func (n *Needle) IsChunkManifest() bool { return n.Has(FlagIsChunkManifest) }

// SetName stores name and sets or clears FlagHasName.
func (n *Needle) SetName(name []byte) { n.Name = name; n.setFlag(FlagHasName, len(name) > 0) }

// SetMime stores mime and sets or clears FlagHasMime.
func (n *Needle) SetMime(mime []byte) { n.Mime = mime; n.setFlag(FlagHasMime, len(mime) > 0) }

// SetPairs stores pairs and sets or clears FlagHasPairs.
func (n *Needle) SetPairs(pairs []byte) { n.Pairs = pairs; n.setFlag(FlagHasPairs, len(pairs) > 0) }

// SetLastModified stores the time in seconds and sets FlagHasLastModifiedDate.
func (n *Needle) SetLastModified(sec uint64) {
	n.LastModified = sec
	n.setFlag(FlagHasLastModifiedDate, sec != 0)
}

// SetTTL stores t and sets or clears FlagHasTTL.
func (n *Needle) SetTTL(t TTL) { n.TTL = t; n.setFlag(FlagHasTTL, !t.IsZero()) }

func (n *Needle) setFlag(f byte, on bool) {
	if on {
		n.Flags |= f
	} else {
		n.Flags &^= f
	}
}

// Etag is the checksum as upstream prints it in ETag headers: 8 hex digits.
func (n *Needle) Etag() string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(n.Checksum))
	return hex.EncodeToString(b[:])
}

// HasExpired reports whether the needle's own TTL has run out at now. As
// upstream, only needles carrying both a TTL and a last-modified date
// expire, and the clock starts at the append timestamp.
func (n *Needle) HasExpired(now time.Time) bool {
	if !n.Has(FlagHasTTL) || n.TTL.Seconds() == 0 || !n.Has(FlagHasLastModifiedDate) {
		return false
	}
	return now.UnixNano() >= int64(n.AppendAtNs)+int64(n.TTL.Seconds())*int64(time.Second)
}

func (n *Needle) storedNameLen() int { return min(len(n.Name), 255) }

// bodySize computes the v2/v3 size field from the fields and flags.
func (n *Needle) bodySize() int32 {
	if len(n.Data) == 0 {
		return 0
	}
	s := int32(DataSizeSize + len(n.Data) + 1)
	if n.Has(FlagHasName) {
		s += 1 + int32(n.storedNameLen())
	}
	if n.Has(FlagHasMime) {
		s += 1 + int32(len(n.Mime))
	}
	if n.Has(FlagHasLastModifiedDate) {
		s += lastModifiedSize
	}
	if n.Has(FlagHasTTL) {
		s += ttlSize
	}
	if n.Has(FlagHasPairs) {
		s += pairsSizeSize + int32(len(n.Pairs))
	}
	return s
}

// Validate reports field values that cannot be encoded.
func (n *Needle) Validate() error {
	switch {
	case len(n.Mime) > 255:
		return fmt.Errorf("mime type longer than 255 bytes")
	case len(n.Pairs) > 65535:
		return fmt.Errorf("pairs longer than 65535 bytes")
	case int64(len(n.Data)) > 1<<31-64:
		return fmt.Errorf("data of %d bytes is too large for one needle", len(n.Data))
	}
	return nil
}

// EncodedSize returns the number of bytes Encode appends for version v, and
// sets n.Size.
func (n *Needle) EncodedSize(v Version) int64 {
	if v == Version1 {
		n.Size = int32(len(n.Data))
	} else {
		n.Size = n.bodySize()
	}
	return ActualSize(n.Size, v)
}

// Encode appends the record for version v to dst and returns the extended
// slice. It sets n.Size. The checksum field is written from n.Checksum, which
// the caller sets (normally NewCRC(n.Data)). Call Validate first for input
// from outside.
func (n *Needle) Encode(dst []byte, v Version) []byte {
	dst, _ = n.encode(dst, v, true)
	return dst
}

// EncodeAround appends the record for version v as Encode does but leaves
// n.Data out, and returns the extended slice and the position, relative to
// the record's start, where the data belongs: rec[:at] + n.Data + rec[at:]
// is byte for byte Encode's record. A writer hands the three parts to one
// vectored write so a large body is never copied.
func (n *Needle) EncodeAround(dst []byte, v Version) (rec []byte, at int) {
	return n.encode(dst, v, false)
}

func (n *Needle) encode(dst []byte, v Version, withData bool) ([]byte, int) {
	total := int(n.EncodedSize(v))
	if !withData {
		total -= len(n.Data)
	}
	start := len(dst)
	dst = grow(dst, total)
	b := dst[start:]
	at := HeaderSize
	binary.BigEndian.PutUint32(b[0:4], n.Cookie)
	binary.BigEndian.PutUint64(b[4:12], n.ID)
	binary.BigEndian.PutUint32(b[12:16], uint32(n.Size))
	p := HeaderSize
	if v == Version1 {
		if withData {
			p += copy(b[p:], n.Data)
		}
	} else if n.Size > 0 {
		binary.BigEndian.PutUint32(b[p:], uint32(len(n.Data)))
		p += DataSizeSize
		at = p
		if withData {
			p += copy(b[p:], n.Data)
		}
		b[p] = n.Flags
		p++
		if n.Has(FlagHasName) {
			l := n.storedNameLen()
			b[p] = byte(l)
			p++
			p += copy(b[p:], n.Name[:l])
		}
		if n.Has(FlagHasMime) {
			b[p] = byte(len(n.Mime))
			p++
			p += copy(b[p:], n.Mime)
		}
		if n.Has(FlagHasLastModifiedDate) {
			var lm [8]byte
			binary.BigEndian.PutUint64(lm[:], n.LastModified)
			p += copy(b[p:], lm[8-lastModifiedSize:])
		}
		if n.Has(FlagHasTTL) {
			b[p], b[p+1] = n.TTL.Count, n.TTL.Unit
			p += ttlSize
		}
		if n.Has(FlagHasPairs) {
			binary.BigEndian.PutUint16(b[p:], uint16(len(n.Pairs)))
			p += pairsSizeSize
			p += copy(b[p:], n.Pairs)
		}
	}
	binary.BigEndian.PutUint32(b[p:], uint32(n.Checksum))
	p += ChecksumSize
	if v == Version3 {
		binary.BigEndian.PutUint64(b[p:], n.AppendAtNs)
		p += TimestampSize
	}
	n.fillPadding(b[p:], v)
	return dst, at
}

// AppendAtNsOffset is the position of the v3 append timestamp inside a
// record whose size field is size; a writer that assigns timestamps late
// patches the encoded record there.
func AppendAtNsOffset(size int32) int { return HeaderSize + int(size) + ChecksumSize }

// fillPadding writes the padding bytes upstream's encoder leaves: leftovers
// of its scratch header (see the package comment).
func (n *Needle) fillPadding(pad []byte, v Version) {
	var scratch [24]byte
	binary.BigEndian.PutUint64(scratch[4:12], n.ID)
	binary.BigEndian.PutUint32(scratch[12:16], uint32(n.Size))
	switch v {
	case Version1:
		copy(pad, scratch[4:])
	case Version2:
		if n.Size > 0 && n.Has(FlagHasLastModifiedDate) {
			var lm [8]byte
			binary.BigEndian.PutUint64(lm[:], n.LastModified)
			copy(scratch[4:8], lm[4:8])
		}
		copy(pad, scratch[4:])
	default:
		copy(pad, scratch[12:])
	}
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n, 2*len(b)+n)
	copy(nb, b)
	return nb
}

// Header is the fixed 16-byte start of every record.
type Header struct {
	Cookie uint32
	ID     uint64
	Size   int32
}

// ParseHeader decodes the first HeaderSize bytes of b.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: header needs %d bytes, have %d", ErrCorrupted, HeaderSize, len(b))
	}
	return Header{
		Cookie: binary.BigEndian.Uint32(b[0:4]),
		ID:     binary.BigEndian.Uint64(b[4:12]),
		Size:   int32(binary.BigEndian.Uint32(b[12:16])),
	}, nil
}

// Decode parses a whole record of version v from rec, which must hold at
// least ActualSize(size) bytes, and verifies the checksum. expectSize is the
// size the index recorded; it must equal the header's (ErrSizeMismatch
// otherwise). The slices in n alias rec.
func (n *Needle) Decode(rec []byte, expectSize int32, v Version) error {
	if !v.Supported() {
		return fmt.Errorf("%w %d", ErrVersion, v)
	}
	h, err := ParseHeader(rec)
	if err != nil {
		return err
	}
	if h.Size != expectSize {
		return fmt.Errorf("%w: id %x has size %d, index says %d", ErrSizeMismatch, h.ID, h.Size, expectSize)
	}
	return n.decodeAfterHeader(h, rec, v)
}

// DecodeAny parses a record whose size is taken from its own header, as a
// scan of a .dat does.
func (n *Needle) DecodeAny(rec []byte, v Version) error {
	if !v.Supported() {
		return fmt.Errorf("%w %d", ErrVersion, v)
	}
	h, err := ParseHeader(rec)
	if err != nil {
		return err
	}
	return n.decodeAfterHeader(h, rec, v)
}

func (n *Needle) decodeAfterHeader(h Header, rec []byte, v Version) error {
	*n = Needle{Cookie: h.Cookie, ID: h.ID, Size: h.Size}
	if h.Size < 0 {
		return fmt.Errorf("%w: negative size %d", ErrCorrupted, h.Size)
	}
	tail := int64(ChecksumSize)
	if v == Version3 {
		tail += TimestampSize
	}
	if int64(len(rec)) < HeaderSize+int64(h.Size)+tail {
		return fmt.Errorf("%w: record of size %d truncated at %d bytes", ErrCorrupted, h.Size, len(rec))
	}
	body := rec[HeaderSize : HeaderSize+int(h.Size)]
	if v == Version1 {
		n.Data = body
	} else if err := n.decodeBody(body); err != nil {
		return err
	}
	return n.decodeTail(rec[HeaderSize+int(h.Size):], v)
}

// decodeBody parses a v2/v3 body. Fields run in flag order; a field is read
// only while bytes remain, as upstream's reader does.
func (n *Needle) decodeBody(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if len(b) < DataSizeSize {
		return fmt.Errorf("%w: body of %d bytes has no data size", ErrCorrupted, len(b))
	}
	ds := binary.BigEndian.Uint32(b)
	p := DataSizeSize
	if uint64(ds) > uint64(len(b)-p) {
		return fmt.Errorf("%w: data size %d beyond body of %d bytes", ErrCorrupted, ds, len(b))
	}
	n.Data = b[p : p+int(ds)]
	p += int(ds)
	_, err := n.decodeMeta(b[p:])
	return err
}

// decodeMeta parses the fields after data: flags, name, mime, last
// modified, ttl, pairs. It returns the bytes consumed.
func (n *Needle) decodeMeta(b []byte) (int, error) {
	p := 0
	if p < len(b) {
		n.Flags = b[p]
		p++
	}
	field := func(flag byte, lenBytes int, what string) ([]byte, error) {
		if p >= len(b) || !n.Has(flag) {
			return nil, nil
		}
		if len(b)-p < lenBytes {
			return nil, fmt.Errorf("%w: %s length cut off", ErrCorrupted, what)
		}
		var l int
		if lenBytes == 1 {
			l = int(b[p])
		} else {
			l = int(binary.BigEndian.Uint16(b[p:]))
		}
		p += lenBytes
		if l > len(b)-p {
			return nil, fmt.Errorf("%w: %s of %d bytes beyond body", ErrCorrupted, what, l)
		}
		v := b[p : p+l]
		p += l
		return v, nil
	}
	var err error
	if n.Name, err = field(FlagHasName, 1, "name"); err != nil {
		return p, err
	}
	if n.Mime, err = field(FlagHasMime, 1, "mime"); err != nil {
		return p, err
	}
	if p < len(b) && n.Has(FlagHasLastModifiedDate) {
		if len(b)-p < lastModifiedSize {
			return p, fmt.Errorf("%w: last modified cut off", ErrCorrupted)
		}
		var lm [8]byte
		copy(lm[8-lastModifiedSize:], b[p:p+lastModifiedSize])
		n.LastModified = binary.BigEndian.Uint64(lm[:])
		p += lastModifiedSize
	}
	if p < len(b) && n.Has(FlagHasTTL) {
		if len(b)-p < ttlSize {
			return p, fmt.Errorf("%w: ttl cut off", ErrCorrupted)
		}
		n.TTL = TTL{Count: b[p], Unit: b[p+1]}
		p += ttlSize
	}
	if n.Pairs, err = field(FlagHasPairs, 2, "pairs"); err != nil {
		return p, err
	}
	return p, nil
}

func (n *Needle) decodeTail(b []byte, v Version) error {
	stored := binary.BigEndian.Uint32(b)
	if len(n.Data) > 0 {
		sum := NewCRC(n.Data)
		if !sum.Matches(stored) {
			return fmt.Errorf("%w: needle %x has crc %08x, stored %08x", ErrChecksum, n.ID, uint32(sum), stored)
		}
		n.Checksum = sum
	} else {
		n.Checksum = CRC(stored)
	}
	if v == Version3 {
		n.AppendAtNs = binary.BigEndian.Uint64(b[ChecksumSize:])
	}
	return nil
}

// DecodeMeta parses a record's metadata without its data: hdr is the first
// HeaderSize+DataSizeSize bytes of the record and tail the bytes from the
// end of data to the end of the record (for v2/v3). Data is left nil and
// DataSize returned, so a server can stream data straight from the file.
// The checksum is not verified (there is no data to verify it against).
func (n *Needle) DecodeMeta(hdr, tail []byte, v Version) (dataSize uint32, err error) {
	if v == Version1 || !v.Supported() {
		return 0, fmt.Errorf("%w %d for metadata-only decode", ErrVersion, v)
	}
	h, err := ParseHeader(hdr)
	if err != nil {
		return 0, err
	}
	*n = Needle{Cookie: h.Cookie, ID: h.ID, Size: h.Size}
	if h.Size == 0 {
		if len(tail) < ChecksumSize {
			return 0, fmt.Errorf("%w: tail cut off", ErrCorrupted)
		}
		n.Checksum = CRC(binary.BigEndian.Uint32(tail))
		if v == Version3 && len(tail) >= ChecksumSize+TimestampSize {
			n.AppendAtNs = binary.BigEndian.Uint64(tail[ChecksumSize:])
		}
		return 0, nil
	}
	if len(hdr) < HeaderSize+DataSizeSize || h.Size < DataSizeSize {
		return 0, fmt.Errorf("%w: header cut off", ErrCorrupted)
	}
	dataSize = binary.BigEndian.Uint32(hdr[HeaderSize:])
	metaLen := int64(h.Size) - DataSizeSize - int64(dataSize)
	if metaLen < 0 || int64(len(tail)) < metaLen+ChecksumSize {
		return 0, fmt.Errorf("%w: data size %d does not fit size %d", ErrCorrupted, dataSize, h.Size)
	}
	if _, err := n.decodeMeta(tail[:metaLen]); err != nil {
		return 0, err
	}
	t := tail[metaLen:]
	n.Checksum = CRC(binary.BigEndian.Uint32(t))
	if v == Version3 && len(t) >= ChecksumSize+TimestampSize {
		n.AppendAtNs = binary.BigEndian.Uint64(t[ChecksumSize:])
	}
	return dataSize, nil
}
