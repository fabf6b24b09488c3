package ec

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"

	"github.com/weedvol/weedvol/engine/idx"
)

// Index is an open .ecx: rows sorted by key, memory-mapped read-only and
// searched by bisection. Tombstones are written through the file
// descriptor (pwrite), which a shared mapping sees; where there is no
// mapping the in-memory copy is patched too. The mapping is owned by the
// Index and released by Close; no slice of it escapes.
//
// INVARIANT: the file's length is a whole number of rows and does not
// change while open (the .ecx is sealed after encoding).
type Index struct {
	mu     sync.RWMutex
	f      *os.File
	data   []byte
	mapped bool
	fmt    idx.Format
	rows   int
	torn   int64 // bytes of a partial row past the last whole one
	path   string
}

// OpenIndex opens the .ecx at path with the given offset width. A length
// that is not a whole number of rows opens with the whole rows only, as
// upstream mounts it; Check reports the partial row. The file
// is opened read-write when possible (for MarkDeleted) and read-only
// otherwise, in which case MarkDeleted fails. Sortedness is not checked
// here (Check does; an unsorted file only makes lookups miss).
func OpenIndex(path string, offsetWidth int) (*Index, error) {
	f, err := formatFor(offsetWidth)
	if err != nil {
		return nil, err
	}
	file, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		if file, err = os.Open(path); err != nil {
			return nil, fmt.Errorf("ec: open index %s: %w", path, err)
		}
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("ec: stat index %s: %w", path, err)
	}
	es := int64(f.EntrySize())
	torn := fi.Size() % es
	whole := fi.Size() - torn
	if fi.Size() > int64(int(^uint(0)>>1)) {
		file.Close()
		return nil, fmt.Errorf("ec: index %s too large to map", path)
	}
	x := &Index{f: file, fmt: f, rows: int(whole / es), torn: torn, path: path}
	if whole > 0 {
		if x.data, x.mapped, err = mapFile(file, int(whole)); err != nil {
			file.Close()
			return nil, fmt.Errorf("ec: map index %s: %w", path, err)
		}
	}
	return x, nil
}

// Len is the number of rows (live and tombstoned): upstream's file count.
func (x *Index) Len() int { return x.rows }

// search returns the row number holding key, or -1. Caller holds mu.
func (x *Index) search(key uint64) int {
	es := x.fmt.EntrySize()
	lo, hi := 0, x.rows
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		k := binary.BigEndian.Uint64(x.data[m*es:])
		switch {
		case k == key:
			return m
		case k < key:
			lo = m + 1
		default:
			hi = m
		}
	}
	return -1
}

// Lookup finds key: its byte offset in the .dat and its size, which is
// negative (the tombstone) for a deleted needle. ok is false when the key
// has no row or the index is closed.
func (x *Index) Lookup(key uint64) (offset int64, size int32, ok bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.data == nil {
		return 0, 0, false
	}
	r := x.search(key)
	if r < 0 {
		return 0, 0, false
	}
	e := x.fmt.Entry(x.data[r*x.fmt.EntrySize():])
	return e.Offset, e.Size, true
}

// MarkDeleted writes the tombstone size into key's row in place, as
// upstream's MarkNeedleDeleted does, without fsync (durability of a delete
// is the .ecj's job; Sync flushes the tombstones). found is false when key
// has no row. A row already tombstoned is left alone (found is true).
func (x *Index) MarkDeleted(key uint64) (found bool, err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.data == nil {
		return false, nil
	}
	r := x.search(key)
	if r < 0 {
		return false, nil
	}
	es := x.fmt.EntrySize()
	sizeAt := r*es + es - 4
	if int32(binary.BigEndian.Uint32(x.data[sizeAt:])) == tombstone {
		return true, nil
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], 0xFFFFFFFF)
	if _, err := x.f.WriteAt(b[:], int64(sizeAt)); err != nil {
		return true, fmt.Errorf("ec: tombstone %x in %s: %w", key, x.path, err)
	}
	if !x.mapped {
		copy(x.data[sizeAt:], b[:])
	}
	return true, nil
}

// Sync flushes tombstones written by MarkDeleted to stable storage.
func (x *Index) Sync() error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.f == nil {
		return nil
	}
	return x.f.Sync()
}

// Walk calls fn for every row in key order; offset is in bytes. It stops at
// the first error of fn and returns it.
func (x *Index) Walk(fn func(key uint64, offset int64, size int32) error) error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	es := x.fmt.EntrySize()
	for r := 0; r < x.rows && x.data != nil; r++ {
		e := x.fmt.Entry(x.data[r*es:])
		if err := fn(e.Key, e.Offset, e.Size); err != nil {
			return err
		}
	}
	return nil
}

// Check verifies the index is usable: keys strictly ascending. It returns
// an ErrCorruptIndex error naming the first bad row.
func (x *Index) Check() error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.torn != 0 {
		return fmt.Errorf("%w: %s: %d trailing bytes", ErrCorruptIndex, x.path, x.torn)
	}
	return checkSortedRows(x.data, x.fmt, x.path)
}

func checkSortedRows(data []byte, f idx.Format, path string) error {
	es := f.EntrySize()
	if len(data)%es != 0 {
		return fmt.Errorf("%w: %s: %d trailing bytes", ErrCorruptIndex, path, len(data)%es)
	}
	for p := es; p < len(data); p += es {
		prev, cur := binary.BigEndian.Uint64(data[p-es:]), binary.BigEndian.Uint64(data[p:])
		if cur <= prev {
			return fmt.Errorf("%w: %s: row %d key %x does not follow key %x", ErrCorruptIndex, path, p/es, cur, prev)
		}
	}
	return nil
}

// Close releases the mapping and the file. Lookups after Close miss.
func (x *Index) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	var err error
	if x.data != nil && x.mapped {
		err = unmapFile(x.data)
	}
	x.data = nil
	if x.f != nil {
		if cerr := x.f.Close(); err == nil {
			err = cerr
		}
		x.f = nil
	}
	return err
}
