package mmapidx

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// row is one .idx entry.
type row struct {
	key    uint64
	offset uint64 // 8-byte units
	size   int32
}

// refEntry and refMap are the reference model: upstream's replay written as
// plainly as possible over a Go map.
type refEntry struct {
	offset uint64
	size   int32
}

type refMap struct {
	m   map[uint64]refEntry
	met Metrics
}

func newRef() *refMap { return &refMap{m: map[uint64]refEntry{}} }

// apply replays one entry and returns the old size a delete found.
func (r *refMap) apply(key, offset uint64, size int32) int32 {
	r.met.MaxFileKey = max(r.met.MaxFileKey, key)
	if offset != 0 && size >= 0 {
		r.met.FileCount++
		r.met.FileBytes += uint64(size)
		old, ok := r.m[key]
		r.m[key] = refEntry{offset, size}
		if ok && old.offset != 0 && old.size > 0 && old.size != -1 {
			r.met.DeletionCount++
			r.met.DeletionBytes += uint64(old.size)
		}
		return 0
	}
	old, ok := r.m[key]
	if !ok || old.size < 0 {
		return 0
	}
	ns := -old.size
	if old.size == 0 {
		ns = -1
	}
	r.m[key] = refEntry{old.offset, ns}
	if old.size > 0 {
		r.met.DeletionCount++
		r.met.DeletionBytes += uint64(old.size)
	}
	return old.size
}

func refOf(rows []row, width int) *refMap {
	r := newRef()
	mask := offsetMask(width)
	for _, e := range rows {
		r.apply(e.key, e.offset&mask, e.size)
	}
	return r
}

func encodeRows(width int, rows []row) []byte {
	var b []byte
	for _, e := range rows {
		b = appendIdxEntry(b, width, e.key, e.offset, e.size)
	}
	return b
}

// vol is a volume under test: its .idx path and offset width.
type vol struct {
	t     testing.TB
	dir   string
	idx   string
	width int
}

func newVol(t testing.TB, width int) *vol {
	dir := t.TempDir()
	v := &vol{t: t, dir: dir, idx: filepath.Join(dir, "7.idx"), width: width}
	v.writeIdx(nil)
	return v
}

func (v *vol) wvx() string { return wvxPath(v.idx) }

func (v *vol) writeIdx(rows []row) {
	v.t.Helper()
	if err := os.WriteFile(v.idx, encodeRows(v.width, rows), 0o644); err != nil {
		v.t.Fatal(err)
	}
}

func (v *vol) appendRaw(b []byte) {
	v.t.Helper()
	f, err := os.OpenFile(v.idx, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		v.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		v.t.Fatal(err)
	}
}

func (v *vol) appendIdx(rows ...row) { v.appendRaw(encodeRows(v.width, rows)) }

func (v *vol) open() *Index {
	v.t.Helper()
	ix, err := Open(v.idx, v.width)
	if err != nil {
		v.t.Fatal(err)
	}
	return ix
}

// put does what the engine does: append the row to the .idx, then apply it.
func (v *vol) put(ix *Index, ref *refMap, e row) {
	v.appendIdx(e)
	ix.Put(e.key, e.offset, e.size)
	ref.apply(e.key, e.offset&offsetMask(v.width), e.size)
}

// del appends a tombstone row and applies it; both sides must agree on the
// size the delete found.
func (v *vol) del(ix *Index, ref *refMap, key uint64) {
	v.t.Helper()
	v.appendIdx(row{key, 0, -1})
	got := ix.Delete(key)
	if want := ref.apply(key, 0, -1); got != want {
		v.t.Fatalf("Delete(%d) = %d, want %d", key, got, want)
	}
}

// check compares every observable of ix with ref.
func check(t testing.TB, ix *Index, ref *refMap) {
	t.Helper()
	for k, want := range ref.m {
		off, size, ok := ix.Get(k)
		if !ok || off != want.offset || size != want.size {
			t.Fatalf("Get(%d) = %d, %d, %v; want %d, %d, true", k, off, size, ok, want.offset, want.size)
		}
	}
	for _, k := range []uint64{0, 1, 2, 1<<64 - 1, 1 << 40, 123456789} {
		if _, ok := ref.m[k]; ok {
			continue
		}
		if off, size, ok := ix.Get(k); ok {
			t.Fatalf("Get(%d) = %d, %d, true; want absent", k, off, size)
		}
	}
	if got := ix.Metrics(); got != ref.met {
		t.Fatalf("Metrics = %+v, want %+v", got, ref.met)
	}
	if got := ix.Len(); got != len(ref.m) {
		t.Fatalf("Len = %d, want %d", got, len(ref.m))
	}
	keys := make([]uint64, 0, len(ref.m))
	for k := range ref.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	i := 0
	ix.Ascend(func(k, off uint64, size int32) bool {
		if i >= len(keys) || k != keys[i] {
			t.Fatalf("Ascend entry %d: key %d, want %v", i, k, keys[min(i, len(keys)-1):min(i+1, len(keys))])
		}
		if w := ref.m[k]; w.offset != off || w.size != size {
			t.Fatalf("Ascend(%d) = %d, %d; want %d, %d", k, off, size, w.offset, w.size)
		}
		i++
		return true
	})
	if i != len(keys) {
		t.Fatalf("Ascend visited %d entries, want %d", i, len(keys))
	}
}
