// Package idx encodes the entries of a volume's .idx file, the append-only
// log that maps needle ids to their place in the .dat.
//
//	+---------+--------------------------------+--------+
//	| key (8) | offset (4 or 5)                | size 4 |
//	+---------+--------------------------------+--------+
//
// Integers are big-endian. The offset counts 8-byte units from the start of
// the .dat. With 5-byte offsets the first four bytes hold the low 32 bits and
// the fifth byte bits 32..39 (upstream's `5BytesOffset` build layout). A size
// of -1 (the tombstone) or any negative size records a delete; an offset of
// 0 never names a needle.
//
// A volume's offset width is fixed when it is created and recorded in its
// .vif (bytesOffset); one process serves both widths side by side.
package idx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Offset widths.
const (
	Offset4 = 4
	Offset5 = 5
)

// Unit is the granularity of stored offsets.
const Unit = 8

// ErrCorrupted wraps decode failures.
var ErrCorrupted = errors.New("index corrupted")

// Entry is one decoded .idx row. Offset is in bytes (already multiplied by Unit).
type Entry struct {
	Key    uint64
	Offset int64
	Size   int32
}

// Format is the entry layout of one volume.
type Format struct {
	OffsetSize int // 4 or 5
}

// FormatFor returns the layout for an offset width, which must be 4 or 5.
func FormatFor(offsetSize int) (Format, error) {
	if offsetSize != Offset4 && offsetSize != Offset5 {
		return Format{}, fmt.Errorf("unsupported index offset size %d", offsetSize)
	}
	return Format{OffsetSize: offsetSize}, nil
}

// EntrySize is the length of one row: 16 or 17 bytes.
func (f Format) EntrySize() int { return 8 + f.OffsetSize + 4 }

// MaxVolumeSize is the largest .dat the offset width can address.
func (f Format) MaxVolumeSize() int64 {
	if f.OffsetSize == Offset5 {
		return Unit << 40
	}
	return Unit << 32
}

// PutEntry writes e into b, which must hold EntrySize bytes. e.Offset must be
// a multiple of Unit and below MaxVolumeSize.
func (f Format) PutEntry(b []byte, e Entry) {
	units := uint64(e.Offset) / Unit
	binary.BigEndian.PutUint64(b[0:8], e.Key)
	binary.BigEndian.PutUint32(b[8:12], uint32(units))
	p := 12
	if f.OffsetSize == Offset5 {
		b[12] = byte(units >> 32)
		p = 13
	}
	binary.BigEndian.PutUint32(b[p:p+4], uint32(e.Size))
}

// AppendEntry appends the encoded e to dst.
func (f Format) AppendEntry(dst []byte, e Entry) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, f.EntrySize())...)
	f.PutEntry(dst[n:], e)
	return dst
}

// Entry decodes the row at the start of b, which must hold EntrySize bytes.
func (f Format) Entry(b []byte) Entry {
	units := uint64(binary.BigEndian.Uint32(b[8:12]))
	p := 12
	if f.OffsetSize == Offset5 {
		units |= uint64(b[12]) << 32
		p = 13
	}
	return Entry{
		Key:    binary.BigEndian.Uint64(b[0:8]),
		Offset: int64(units * Unit),
		Size:   int32(binary.BigEndian.Uint32(b[p : p+4])),
	}
}

// Decode decodes b as a whole number of rows, calling fn for each in order.
// A trailing partial row is an ErrCorrupted error, reported after the
// complete rows were visited.
func (f Format) Decode(b []byte, fn func(Entry) error) error {
	es := f.EntrySize()
	whole := len(b) - len(b)%es
	for p := 0; p < whole; p += es {
		if err := fn(f.Entry(b[p:])); err != nil {
			return err
		}
	}
	if whole != len(b) {
		return fmt.Errorf("%w: %d trailing bytes are not a whole entry of %d", ErrCorrupted, len(b)-whole, es)
	}
	return nil
}

// Walk reads the rows of r from the start in large blocks, calling fn for
// each. It stops at the first error of fn or of reading. A trailing partial
// row is reported as in Decode.
func (f Format) Walk(r io.ReaderAt, fn func(Entry) error) error {
	es := f.EntrySize()
	buf := make([]byte, es*4096)
	var off int64
	for {
		n, err := r.ReadAt(buf, off)
		whole := n - n%es
		if derr := f.Decode(buf[:whole], fn); derr != nil {
			return derr
		}
		off += int64(whole)
		if err == io.EOF {
			if n != whole {
				return fmt.Errorf("%w: %d trailing bytes are not a whole entry of %d", ErrCorrupted, n-whole, es)
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}
