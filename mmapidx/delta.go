package mmapidx

import (
	"runtime"
	"sync/atomic"
)

// slot is one cell of a delta table. Its fields are read by any number of
// lock-free readers and written by the single writer under a per-slot
// sequence lock.
//
// INVARIANT: seq is 0 while the slot is empty, odd while the writer updates
// it, even and non-zero otherwise; an insert stores key, hi and val before
// turning seq from 0 to 2. Once non-zero it never returns to 0,
// and key never changes after the first even value: slots are never freed
// (a delete is an entry with a negative size).
type slot struct {
	seq atomic.Uint32
	hi  atomic.Uint32 // offset bits 32..39
	key atomic.Uint64
	val atomic.Uint64 // packVal(offset, size)
}

// table is an open-addressing (linear probing) hash table of entries that
// are not, or not in this state, in the mapped base. It holds at most half
// as many entries as slots, so probes are short and every probe sequence
// ends at an empty slot.
//
// INVARIANT: only the writer (holding Index.wmu) calls set or grow, and only
// on the table published as view.delta; a table that was replaced by grow or
// frozen by Persist is never written again.
type table struct {
	slots []slot
	shift uint         // 64 - log2(len(slots))
	used  atomic.Int64 // entries; written by the writer only
}

const minTableSlots = 64

// newTable returns a table with room for at least n entries.
func newTable(n int) *table { return newTableSlots(slotsFor(n)) }

// slotsFor is the smallest table size holding n entries.
func slotsFor(n int) int {
	size := minTableSlots
	for size < 2*n+2 {
		size *= 2
	}
	return size
}

// newTableSlots returns a table of size slots, a power of two.
func newTableSlots(size int) *table {
	shift := uint(64)
	for s := size; s > 1; s >>= 1 {
		shift--
	}
	return &table{slots: make([]slot, size), shift: shift}
}

func (t *table) home(key uint64) int {
	return int((key * 0x9e3779b97f4a7c15) >> t.shift) // Fibonacci hashing
}

// lookup returns the entry of key. It is safe concurrently with set.
func (t *table) lookup(key uint64) (val uint64, hi uint32, ok bool) {
	mask := len(t.slots) - 1
	for i := t.home(key); ; i = (i + 1) & mask {
		s := &t.slots[i]
		for spins := 0; ; spins++ {
			seq := s.seq.Load()
			if seq == 0 {
				return 0, 0, false
			}
			if seq&1 == 0 {
				k, h, v := s.key.Load(), s.hi.Load(), s.val.Load()
				if s.seq.Load() == seq {
					if k != key {
						break
					}
					return v, h, true
				}
			}
			if spins > 16 {
				runtime.Gosched() // the writer was preempted mid-store
			}
		}
	}
}

// needsGrow reports whether one more insert would pass the load limit.
func (t *table) needsGrow() bool { return 2*(t.len()+1) > len(t.slots) }

// len is the number of entries; safe concurrently with set.
func (t *table) len() int { return int(t.used.Load()) }

// probe returns the slot of key, or the empty slot where key would go.
// Writer only.
func (t *table) probe(key uint64) (i int, found bool) {
	mask := len(t.slots) - 1
	for i = t.home(key); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.seq.Load() == 0 {
			return i, false
		}
		if s.key.Load() == key {
			return i, true
		}
	}
}

// at returns the entry in slot i. Writer only.
func (t *table) at(i int) (val uint64, hi uint32) {
	return t.slots[i].val.Load(), t.slots[i].hi.Load()
}

// store writes an entry into slot i found by probe: an insert if the slot
// is empty (the table must have room, see needsGrow), else an update of the
// same key.
func (t *table) store(i int, key, val uint64, hi uint32) {
	s := &t.slots[i]
	seq := s.seq.Load()
	if seq == 0 {
		// Readers skip the slot until seq turns non-zero, which it does
		// after the other fields are stored.
		s.key.Store(key)
		s.hi.Store(hi)
		s.val.Store(val)
		s.seq.Store(2)
		t.used.Add(1)
		return
	}
	next := seq + 2
	if next == 0 {
		next = 2 // never back to "empty"
	}
	s.seq.Store(seq + 1)
	s.hi.Store(hi)
	s.val.Store(val)
	s.seq.Store(next)
}

// set inserts or updates key and reports whether it was new to the table.
// Writer only; the table must have room.
func (t *table) set(key, val uint64, hi uint32) (inserted bool) {
	i, found := t.probe(key)
	t.store(i, key, val, hi)
	return !found
}

// grow returns a copy of t with twice the slots (minTableSlots at least).
func (t *table) grow() *table {
	return t.copyInto(newTableSlots(max(2*len(t.slots), minTableSlots)))
}

// emptyDelta is the delta of a view that has none: one shared table of a
// single empty slot, so that an idle index costs no table of its own.
// Lookups find nothing in it, and its needsGrow is true from the start, so
// the writer replaces it before the first insert and nothing ever writes
// to it. INVARIANT: never passed to set or store.
var emptyDelta = &table{slots: make([]slot, 1), shift: 64}

// growTo returns a copy of t with room for n entries and at least minSlots
// slots.
func (t *table) growTo(n, minSlots int) *table {
	return t.copyInto(newTableSlots(max(slotsFor(n), minSlots, len(t.slots))))
}

// copyInto inserts the entries of t into nt, which must have at least as
// many slots: t is walked in slot order, which is hash order, and inserting
// in hash order into a smaller table piles every key onto one run of slots
// (quadratic time).
func (t *table) copyInto(nt *table) *table {
	t.forEach(func(key, val uint64, hi uint32) { nt.set(key, val, hi) })
	return nt
}

// forEach calls fn for every entry, each read consistently. It is safe
// concurrently with set; entries set during the call may be missed.
func (t *table) forEach(fn func(key, val uint64, hi uint32)) {
	for i := range t.slots {
		s := &t.slots[i]
		for spins := 0; ; spins++ {
			seq := s.seq.Load()
			if seq == 0 {
				break
			}
			if seq&1 == 0 {
				k, h, v := s.key.Load(), s.hi.Load(), s.val.Load()
				if s.seq.Load() == seq {
					fn(k, v, h)
					break
				}
			}
			if spins > 16 {
				runtime.Gosched()
			}
		}
	}
}
