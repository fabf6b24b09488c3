package mmapidx

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
)

// deltaEntry is a delta table entry copied out for sorting.
type deltaEntry struct {
	key, val uint64
	hi       byte
	newer    bool // from view.delta rather than view.frozen
}

// sortedEntries returns the entries of t (and of under, if not nil, where
// t's entries win) in ascending key order, one per key.
func sortedEntries(t, under *table) []deltaEntry {
	n := t.len()
	if under != nil {
		n += under.len()
	}
	es := make([]deltaEntry, 0, n)
	if under != nil {
		under.forEach(func(key, val uint64, hi uint32) {
			es = append(es, deltaEntry{key: key, val: val, hi: byte(hi)})
		})
	}
	t.forEach(func(key, val uint64, hi uint32) {
		es = append(es, deltaEntry{key: key, val: val, hi: byte(hi), newer: true})
	})
	slices.SortFunc(es, func(a, b deltaEntry) int {
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		if a.newer == b.newer {
			return 0
		}
		if a.newer {
			return -1
		}
		return 1
	})
	return slices.CompactFunc(es, func(a, b deltaEntry) bool { return a.key == b.key })
}

// Persist writes a new .wvx holding everything applied so far, maps it and
// publishes it to readers with an empty delta. Writers may run during the
// merge: their entries go to a fresh delta that survives the swap. The old
// mapping is unmapped once no reader holds it (at the latest by Close).
//
// Before writing, Persist fsyncs the .idx so that the .wvx never covers
// .idx bytes a crash could lose.
func (ix *Index) Persist() error {
	ix.persistMu.Lock()
	defer ix.persistMu.Unlock()
	if ix.isClosed() {
		return ErrClosed
	}
	return ix.persistLocked()
}

// persistLocked is Persist with ix.persistMu held.
func (ix *Index) persistLocked() error {
	ix.wmu.Lock()
	v := ix.view.Load()
	covered := ix.idxSize
	if v.delta.len() == 0 && covered == int64(v.base.hdr.covered) && v.base.onDisk {
		ix.wmu.Unlock()
		return nil
	}
	frozen := v.delta
	ix.view.Store(&view{base: v.base, frozen: frozen, delta: emptyDelta})
	h := header{
		width:   ix.width,
		count:   uint64(ix.count),
		metrics: ix.wm,
		covered: uint64(covered),
	}
	ix.wmu.Unlock()

	nb, err := ix.writeMerged(v.base, frozen, h)

	ix.wmu.Lock()
	cur := ix.view.Load()
	if err != nil {
		ix.unfreezeLocked(cur)
		ix.wmu.Unlock()
		return err
	}
	ix.view.Store(&view{base: nb, delta: cur.delta})
	ix.deltaLen = int64(cur.delta.len())
	ix.wmu.Unlock()
	ix.retired = append(ix.retired, v.base)
	return ix.reap(false)
}

// unfreezeLocked folds the frozen table of cur back into its delta after a
// failed Persist; entries already in the delta are newer and stay. Readers
// look in the delta before the frozen table, and every copied entry equals
// the frozen one, so they never see a change. ix.wmu must be held.
func (ix *Index) unfreezeLocked(cur *view) {
	d, frozen := cur.delta, cur.frozen
	if need := d.len() + frozen.len(); 2*(need+1) > len(d.slots) || len(d.slots) < len(frozen.slots) {
		// Room for all, and no smaller than frozen (see copyInto).
		d = d.growTo(need, len(frozen.slots))
		ix.view.Store(&view{base: cur.base, frozen: frozen, delta: d})
	}
	frozen.forEach(func(key, val uint64, hi uint32) {
		if i, found := d.probe(key); !found {
			d.store(i, key, val, hi)
		}
	})
	ix.view.Store(&view{base: cur.base, delta: d})
	ix.deltaLen = int64(d.len())
}

// writeMerged writes base merged with frozen (frozen wins) as the new .wvx
// with header h, and maps it.
func (ix *Index) writeMerged(base *mapping, frozen *table, h header) (*mapping, error) {
	idx, err := os.Open(ix.idxPath)
	if err != nil {
		return nil, fmt.Errorf("mmapidx: %w", err)
	}
	defer idx.Close()
	st, err := idx.Stat()
	if err != nil {
		return nil, fmt.Errorf("mmapidx: %w", err)
	}
	usable := st.Size() - st.Size()%ix.es
	if usable < int64(h.covered) {
		return nil, fmt.Errorf("mmapidx: %d .idx bytes applied but %s holds %d", h.covered, ix.idxPath, st.Size())
	}
	if syncFiles {
		if err := idx.Sync(); err != nil {
			return nil, fmt.Errorf("mmapidx: sync .idx: %w", err)
		}
	}
	var buf [idxWindow]byte
	if h.idxHeadCRC, h.idxTailCRC, err = idxWindows(idx, int64(h.covered), buf[:]); err != nil {
		return nil, fmt.Errorf("mmapidx: read .idx: %w", err)
	}
	delta := sortedEntries(frozen, nil)
	if base.mapped {
		adviseSequential(base.data)
		defer adviseRandom(base.data)
	}
	merge := func(x *wvxWriter) error {
		le := binary.LittleEndian
		i, j := 0, 0
		for i < base.n || j < len(delta) {
			if j == len(delta) || (i < base.n && base.key(i) < delta[j].key) {
				var hi byte
				if base.hi != nil {
					hi = base.hi[i]
				}
				x.add(base.key(i), le.Uint64(base.vals[i*valRecLen:]), hi)
				i++
				continue
			}
			if i < base.n && base.key(i) == delta[j].key {
				i++
			}
			x.add(delta[j].key, delta[j].val, delta[j].hi)
			j++
		}
		return x.finish()
	}
	if small(h) {
		image := make([]byte, h.fileSize())
		if err := merge(newWVXWriter(memFile(image), h)); err != nil {
			return nil, err
		}
		return newMapping(image, false, ix.width)
	}
	if err := replaceFile(ix.wvxPath, func(f *os.File) error { return merge(newWVXWriter(f, h)) }); err != nil {
		return nil, err
	}
	return openMapping(ix.wvxPath, ix.width, idx, usable)
}

// Ascend calls fn for every entry in ascending key order, deleted-marked
// ones included, until fn returns false. It sees the in-memory entries as
// of its start and the mapped base it started with; entries written during
// the call may or may not be seen. fn must not call Close.
func (ix *Index) Ascend(fn func(key uint64, offset uint64, size int32) bool) {
	v, c := ix.acquire()
	defer c.Add(-1)
	delta := sortedEntries(v.delta, v.frozen)
	base := v.base
	i, j := 0, 0
	for i < base.n || j < len(delta) {
		var key, offset uint64
		var size int32
		if j == len(delta) || (i < base.n && base.key(i) < delta[j].key) {
			key = base.key(i)
			offset, size = base.entry(i)
			i++
		} else {
			if i < base.n && base.key(i) == delta[j].key {
				i++
			}
			key = delta[j].key
			offset, size = unpackVal(delta[j].val, delta[j].hi)
			j++
		}
		if !fn(key, offset, size) {
			return
		}
	}
}

// Verify checks the mapped .wvx against its region checksums and key order:
// an O(Len) scan that faults in the whole file, for a background scrub.
// On error the caller should Close the index, Remove the .wvx and reopen.
func (ix *Index) Verify() error {
	v, c := ix.acquire()
	defer c.Add(-1)
	return v.base.verify()
}
