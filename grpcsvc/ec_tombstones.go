package grpcsvc

import (
	"encoding/binary"
	"fmt"
)

// ecxTombstones collects the keys an .ecx marks deleted, read as it
// streams in. An upstream holder folds its .ecj into .ecx tombstones
// (during a rebuild or decode) and then serves an empty journal, so with
// copy_ecj_file VolumeEcShardsCopy also merges these keys into the local
// journal: stricter than upstream, which copies the journal alone and so
// loses such deletes on the receiving node.
//
// The row width (8-byte key, 4- or 5-byte offset, 4-byte size: 16 or 17
// bytes) is not in the stream, so both are parsed side by side and the one
// under which the file is whole and its keys strictly ascending (an .ecx
// is sorted) is taken, 16 when both are.
type ecxTombstones struct {
	w16, w17 ecxRows
	total    int64
}

// ecxRows parses rows of one width.
type ecxRows struct {
	width   int
	partial [17]byte
	pending int
	rows    int64
	last    uint64
	sorted  bool
	ids     []uint64
}

func newEcxTombstones() *ecxTombstones {
	return &ecxTombstones{w16: ecxRows{width: 16, sorted: true}, w17: ecxRows{width: 17, sorted: true}}
}

// write takes the next bytes of the .ecx; it fails past maxEcjBytes of
// tombstones under either width (8 bytes per id kept).
func (t *ecxTombstones) write(p []byte) error {
	t.total += int64(len(p))
	for _, r := range []*ecxRows{&t.w16, &t.w17} {
		if err := r.write(p); err != nil {
			return err
		}
	}
	return nil
}

func (r *ecxRows) row(b []byte) error {
	key := binary.BigEndian.Uint64(b)
	if r.rows > 0 && key <= r.last {
		r.sorted = false
	}
	r.last = key
	r.rows++
	if int32(binary.BigEndian.Uint32(b[r.width-4:])) < 0 && r.sorted {
		if len(r.ids) >= maxEcjBytes/8 {
			return fmt.Errorf(".ecx holds over %d tombstones", maxEcjBytes/8)
		}
		r.ids = append(r.ids, key)
	}
	return nil
}

func (r *ecxRows) write(p []byte) error {
	if !r.sorted {
		return nil // this width is out; stop collecting
	}
	if r.pending > 0 {
		n := copy(r.partial[r.pending:r.width], p)
		r.pending += n
		p = p[n:]
		if r.pending < r.width {
			return nil
		}
		if err := r.row(r.partial[:r.width]); err != nil {
			return err
		}
		r.pending = 0
	}
	whole := len(p) - len(p)%r.width
	for i := 0; i < whole && r.sorted; i += r.width {
		if err := r.row(p[i : i+r.width]); err != nil {
			return err
		}
	}
	r.pending = copy(r.partial[:], p[whole:])
	return nil
}

// ids is the tombstoned keys under the width the file fits, nil when it
// fits neither.
func (t *ecxTombstones) ids() []uint64 {
	for _, r := range []*ecxRows{&t.w16, &t.w17} {
		if r.sorted && r.pending == 0 && t.total%int64(r.width) == 0 {
			return r.ids
		}
	}
	return nil
}
