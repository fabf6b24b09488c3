package mmapidx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
)

// Offset widths of a volume's .idx entries.
const (
	Offset4 = 4
	Offset5 = 5
)

// .idx entry layout (upstream, big-endian):
//
//	0        8                 8+w        8+w+4
//	+--------+------------------+----------+
//	| key u64| offset (w=4 or 5)| size i32 |
//	+--------+------------------+----------+
//
// With w=5 the offset's bytes 8..11 hold its low 32 bits (big-endian) and
// byte 12 holds bits 32..39: the high byte comes last.
const (
	idxKeyLen  = 8
	idxSizeLen = 4
)

// entrySize is the length of one .idx entry: 16 or 17 bytes.
func entrySize(width int) int { return idxKeyLen + width + idxSizeLen }

// offsetMask keeps the offset bits an entry of the given width can hold.
func offsetMask(width int) uint64 { return 1<<(8*uint(width)) - 1 }

func validWidth(width int) bool { return width == Offset4 || width == Offset5 }

// decodeIdxEntry decodes the entry at the start of b, which holds at least
// entrySize(width) bytes. The offset is in 8-byte units, as stored.
func decodeIdxEntry(b []byte, width int) (key, offset uint64, size int32) {
	key = binary.BigEndian.Uint64(b[0:8])
	offset = uint64(binary.BigEndian.Uint32(b[8:12]))
	p := 12
	if width == Offset5 {
		offset |= uint64(b[12]) << 32
		p = 13
	}
	size = int32(binary.BigEndian.Uint32(b[p : p+4]))
	return key, offset, size
}

// appendIdxEntry appends the .idx encoding of one entry to b; the inverse of
// decodeIdxEntry. Offset bits beyond the width are dropped, as upstream does.
func appendIdxEntry(b []byte, width int, key, offset uint64, size int32) []byte {
	b = binary.BigEndian.AppendUint64(b, key)
	b = binary.BigEndian.AppendUint32(b, uint32(offset))
	if width == Offset5 {
		b = append(b, byte(offset>>32))
	}
	return binary.BigEndian.AppendUint32(b, uint32(size))
}

// Upstream's size predicates. The tombstone size is -1; any negative size
// marks a deleted needle.
func isDeleted(size int32) bool { return size < 0 }
func isValid(size int32) bool   { return size > 0 }

// deletedSize is the size a live entry takes when it is marked deleted:
// negated, and -1 for a zero size so the mark stays visible.
func deletedSize(size int32) int32 {
	if size == 0 {
		return -1
	}
	return -size
}

// .wvx file layout (ours, little-endian, fixed size for a given count n):
//
//	0    +--------------------------------------+
//	     | header (headerSize = 128 bytes)      |
//	128  +--------------------------------------+
//	     | keys: n × u64, strictly ascending    |  searched
//	     +--------------------------------------+  128 + 8n
//	     | vals: n × u64                        |  bits 0..31 offset low,
//	     |                                      |  bits 32..63 size (i32)
//	     +--------------------------------------+  128 + 16n
//	     | hi: n × u8, offset bits 32..39       |  only when width = 5
//	     +--------------------------------------+  128 + 16n (+ n)
//
// Why split arrays rather than records: a lookup probes only keys (a few
// with interpolation search on the near-uniform ids of a volume, about
// log2(n) with bisection) and then reads exactly one value. Dense keys put
// 8 per cache line and 512 per page: half the lines and pages that
// interleaved 16/17-byte records would make a search touch, a third of
// padded 24-byte records. The cost is 16 bytes a needle (17 with 5-byte
// offsets), no more than the .idx itself, and every u64 is naturally
// aligned: the keys and vals regions start at multiples of 8.
//
// Header:
//
//	off size field
//	0   8    magic "WVXIDX\x00\x01"
//	8   4    format version (wvxVersion)
//	12  4    offset width (4 or 5)
//	16  8    n, entry count (deleted-marked entries included)
//	24  8    FileCount       metrics of the replay of the covered .idx
//	32  8    FileBytes
//	40  8    DeletionCount
//	48  8    DeletionBytes
//	56  8    MaxFileKey
//	64  8    covered: bytes of .idx this file reflects (multiple of entry size)
//	72  4    crc32c of .idx bytes [0, min(W, covered))          W = idxWindow
//	76  4    crc32c of .idx bytes [covered-min(W, covered), covered)
//	80  4    crc32c of the keys region
//	84  4    crc32c of the vals region
//	88  4    crc32c of the hi region (crc of nothing when width = 4)
//	92  32   reserved, zero
//	124 4    crc32c of header bytes [0, 124)
//
// Open checks the header CRC, the file length and the two .idx windows:
// O(1) work whatever n is. The region CRCs are checked by Verify and never
// on open, so that opening does not fault in the whole file.
const (
	wvxMagic   = "WVXIDX\x00\x01"
	wvxVersion = 1

	hdrMagic      = 0
	hdrVersion    = 8
	hdrWidth      = 12
	hdrCount      = 16
	hdrFileCount  = 24
	hdrFileBytes  = 32
	hdrDelCount   = 40
	hdrDelBytes   = 48
	hdrMaxKey     = 56
	hdrCovered    = 64
	hdrIdxHeadCRC = 72
	hdrIdxTailCRC = 76
	hdrKeysCRC    = 80
	hdrValsCRC    = 84
	hdrHiCRC      = 88
	hdrReserved   = 92
	hdrCRC        = 124
	headerSize    = 128

	keyRecLen = 8
	valRecLen = 8

	// idxWindow is the length of each .idx window whose CRC the header
	// keeps. Two 4 KiB preads are cheap, and after a compaction rewrote
	// the .idx both windows differ (offsets change).
	idxWindow = 4096
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt marks a .wvx that cannot be used; Open rebuilds it.
var errCorrupt = errors.New("mmapidx: corrupt index file")

// Metrics are upstream's needle-map counters for a volume.
type Metrics struct {
	FileCount     uint64 // entries ever put (overwrites count again)
	FileBytes     uint64 // sum of their sizes
	DeletionCount uint64 // live entries deleted or overwritten
	DeletionBytes uint64 // sum of their sizes
	MaxFileKey    uint64 // largest key in any .idx entry
}

// header is the decoded .wvx header.
type header struct {
	width      int
	count      uint64
	metrics    Metrics
	covered    uint64
	idxHeadCRC uint32
	idxTailCRC uint32
	keysCRC    uint32
	valsCRC    uint32
	hiCRC      uint32
}

// hiLen is the length of one entry's hi region part.
func hiLen(width int) uint64 {
	if width == Offset5 {
		return 1
	}
	return 0
}

// recordLen is the bytes one entry takes in the record area.
func recordLen(width int) uint64 { return keyRecLen + valRecLen + hiLen(width) }

// fileSize is the exact length of a .wvx holding h.count entries. The
// caller has checked that it does not overflow.
func (h *header) fileSize() uint64 { return headerSize + h.count*recordLen(h.width) }

func (h *header) keysOff() uint64 { return headerSize }
func (h *header) valsOff() uint64 { return headerSize + h.count*keyRecLen }
func (h *header) hiOff() uint64   { return headerSize + h.count*(keyRecLen+valRecLen) }

// encode writes h into b[:headerSize].
func (h *header) encode(b []byte) {
	b = b[:headerSize]
	clear(b)
	copy(b[hdrMagic:], wvxMagic)
	le := binary.LittleEndian
	le.PutUint32(b[hdrVersion:], wvxVersion)
	le.PutUint32(b[hdrWidth:], uint32(h.width))
	le.PutUint64(b[hdrCount:], h.count)
	le.PutUint64(b[hdrFileCount:], h.metrics.FileCount)
	le.PutUint64(b[hdrFileBytes:], h.metrics.FileBytes)
	le.PutUint64(b[hdrDelCount:], h.metrics.DeletionCount)
	le.PutUint64(b[hdrDelBytes:], h.metrics.DeletionBytes)
	le.PutUint64(b[hdrMaxKey:], h.metrics.MaxFileKey)
	le.PutUint64(b[hdrCovered:], h.covered)
	le.PutUint32(b[hdrIdxHeadCRC:], h.idxHeadCRC)
	le.PutUint32(b[hdrIdxTailCRC:], h.idxTailCRC)
	le.PutUint32(b[hdrKeysCRC:], h.keysCRC)
	le.PutUint32(b[hdrValsCRC:], h.valsCRC)
	le.PutUint32(b[hdrHiCRC:], h.hiCRC)
	le.PutUint32(b[hdrCRC:], crc32.Checksum(b[:hdrCRC], castagnoli))
}

// decodeHeader decodes and checks a header: magic, version, CRC, width,
// and that the entry count is consistent with the covered .idx length and
// small enough for fileSize not to overflow. It does not look at the file
// length or the .idx.
func decodeHeader(b []byte) (header, error) {
	var h header
	if len(b) < headerSize {
		return h, fmt.Errorf("%w: header is %d bytes", errCorrupt, len(b))
	}
	b = b[:headerSize]
	le := binary.LittleEndian
	if string(b[hdrMagic:hdrMagic+len(wvxMagic)]) != wvxMagic {
		return h, fmt.Errorf("%w: bad magic", errCorrupt)
	}
	if got, want := le.Uint32(b[hdrCRC:]), crc32.Checksum(b[:hdrCRC], castagnoli); got != want {
		return h, fmt.Errorf("%w: header crc %08x, want %08x", errCorrupt, got, want)
	}
	for _, c := range b[hdrReserved:hdrCRC] {
		if c != 0 {
			return h, fmt.Errorf("%w: reserved bytes set", errCorrupt)
		}
	}
	if v := le.Uint32(b[hdrVersion:]); v != wvxVersion {
		return h, fmt.Errorf("%w: version %d", errCorrupt, v)
	}
	w := le.Uint32(b[hdrWidth:])
	if w != Offset4 && w != Offset5 {
		return h, fmt.Errorf("%w: offset width %d", errCorrupt, w)
	}
	h.width = int(w)
	h.count = le.Uint64(b[hdrCount:])
	h.metrics = Metrics{
		FileCount:     le.Uint64(b[hdrFileCount:]),
		FileBytes:     le.Uint64(b[hdrFileBytes:]),
		DeletionCount: le.Uint64(b[hdrDelCount:]),
		DeletionBytes: le.Uint64(b[hdrDelBytes:]),
		MaxFileKey:    le.Uint64(b[hdrMaxKey:]),
	}
	h.covered = le.Uint64(b[hdrCovered:])
	h.idxHeadCRC = le.Uint32(b[hdrIdxHeadCRC:])
	h.idxTailCRC = le.Uint32(b[hdrIdxTailCRC:])
	h.keysCRC = le.Uint32(b[hdrKeysCRC:])
	h.valsCRC = le.Uint32(b[hdrValsCRC:])
	h.hiCRC = le.Uint32(b[hdrHiCRC:])
	es := uint64(entrySize(h.width))
	if h.covered%es != 0 {
		return h, fmt.Errorf("%w: covered %d is not a multiple of %d", errCorrupt, h.covered, es)
	}
	// Every entry comes from at least one .idx entry, and the .idx fits in
	// an int64, so count*17 cannot overflow below.
	if h.count > h.covered/es || h.covered > 1<<62 {
		return h, fmt.Errorf("%w: %d entries for %d .idx bytes", errCorrupt, h.count, h.covered)
	}
	return h, nil
}

// idxWindows returns the CRCs of the two .idx windows of a prefix of
// length covered: [0, min(W, covered)) and [covered-min(W, covered), covered).
// buf must hold idxWindow bytes.
func idxWindows(r io.ReaderAt, covered int64, buf []byte) (head, tail uint32, err error) {
	w := min(int64(idxWindow), covered)
	if w == 0 {
		return 0, 0, nil
	}
	b := buf[:w]
	if _, err := r.ReadAt(b, 0); err != nil {
		return 0, 0, err
	}
	head = crc32.Checksum(b, castagnoli)
	if _, err := r.ReadAt(b, covered-w); err != nil {
		return 0, 0, err
	}
	tail = crc32.Checksum(b, castagnoli)
	return head, tail, nil
}

// packVal packs an offset's low 32 bits and a size into a vals word.
func packVal(offset uint64, size int32) uint64 {
	return uint64(uint32(offset)) | uint64(uint32(size))<<32
}

// unpackVal is the inverse of packVal; hi holds offset bits 32..39.
func unpackVal(val uint64, hi byte) (offset uint64, size int32) {
	return uint64(uint32(val)) | uint64(hi)<<32, int32(uint32(val >> 32))
}

// wvxPath names the .wvx of the volume whose .idx is idxPath.
func wvxPath(idxPath string) string {
	return strings.TrimSuffix(idxPath, ".idx") + ".wvx"
}
