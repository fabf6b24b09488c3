package mmapidx

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Persist after Close.
var ErrClosed = errors.New("mmapidx: index closed")

// view is what readers see: an immutable triple, replaced as a whole.
// Lookups consult delta, then frozen, then base; the first hit wins.
type view struct {
	base   *mapping
	frozen *table // delta being merged into a new base by Persist, or nil
	delta  *table // the table the writer updates
}

// OpenInfo tells how Open obtained the index.
type OpenInfo struct {
	Rebuilt     bool   // the .wvx was missing, stale or corrupt and was rebuilt from the .idx
	Reason      string // why it was rebuilt
	InMemory    bool   // the rebuilt index could not be written or mapped and lives on the heap
	TailEntries int64  // .idx entries replayed on top of a valid .wvx
}

// Index is a volume's needle map: a mapped, sorted .wvx plus an in-memory
// delta of what was applied since that file was written.
//
// Offsets are in 8-byte units, exactly as stored in the .idx.
//
// Lock order: persistMu before wmu. Readers take neither.
type Index struct {
	idxPath string
	wvxPath string
	width   int
	es      int64
	offMask uint64
	info    OpenInfo

	// view is loaded by readers without locks.
	// INVARIANT: view is stored only with wmu held.
	view atomic.Pointer[view]

	// wmu serializes writers (Put, Delete, the tail replay of Open) and the
	// view swaps of Persist and Close. It guards the contents of
	// view.delta and the fields below. Metrics, Len, IdxSize and DeltaLen
	// take it for a moment; Get never does.
	wmu      sync.Mutex
	wm       Metrics
	idxSize  int64 // .idx bytes applied
	count    int64 // distinct keys in the map
	deltaLen int64 // entries in view.delta and view.frozen
	closed   bool

	// persistMu serializes Persist and Close and guards retired.
	persistMu sync.Mutex
	retired   []*mapping // replaced bases that readers may still use
}

// Open opens the index of the volume whose .idx is idxPath, with the given
// offset width (4 or 5). When <base>.wvx is valid for the .idx it is mapped
// and only the .idx entries past what it covers are replayed; otherwise it
// is rebuilt from the whole .idx. A trailing partial .idx entry is ignored:
// IdxSize tells where the caller should truncate.
func Open(idxPath string, offsetSize int) (*Index, error) {
	if !validWidth(offsetSize) {
		return nil, fmt.Errorf("mmapidx: unsupported offset size %d", offsetSize)
	}
	idx, err := os.Open(idxPath)
	if err != nil {
		return nil, fmt.Errorf("mmapidx: %w", err)
	}
	defer idx.Close()
	return OpenFile(idx, idxPath, offsetSize, OpenOptions{})
}

// reasonNoWVX is Info.Reason when there was no .wvx to use.
const reasonNoWVX = "no .wvx"

// OpenOptions tell OpenFile what the caller already knows.
type OpenOptions struct {
	// NoWVX says the .wvx is known to be absent (from a directory
	// listing): it is not looked for.
	NoWVX bool
}

// OpenFile is Open on the .idx at idxPath that the caller holds open as
// idx (read from with ReadAt only; it stays the caller's), saving the
// opens a volume server starting thousands of volumes would pay twice.
func OpenFile(idx *os.File, idxPath string, offsetSize int, opt OpenOptions) (*Index, error) {
	if !validWidth(offsetSize) {
		return nil, fmt.Errorf("mmapidx: unsupported offset size %d", offsetSize)
	}
	st, err := idx.Stat()
	if err != nil {
		return nil, fmt.Errorf("mmapidx: %w", err)
	}
	es := int64(entrySize(offsetSize))
	usable := st.Size() - st.Size()%es
	ix := &Index{
		idxPath: idxPath,
		wvxPath: wvxPath(idxPath),
		width:   offsetSize,
		es:      es,
		offMask: offsetMask(offsetSize),
	}
	var base *mapping
	err = fs.ErrNotExist
	if !opt.NoWVX {
		base, err = openMapping(ix.wvxPath, offsetSize, idx, usable)
	}
	if err != nil {
		ix.info.Rebuilt = true
		ix.info.Reason = err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			ix.info.Reason = reasonNoWVX
		}
		if base, err = ix.rebuild(idx, usable); err != nil {
			return nil, err
		}
	}
	ix.wm = base.hdr.metrics
	ix.count = int64(base.n)
	ix.idxSize = int64(base.hdr.covered)
	ix.view.Store(&view{base: base, delta: emptyDelta})
	if tail := usable - int64(base.hdr.covered); tail > 0 {
		if err := ix.replayTail(idx, int64(base.hdr.covered), usable); err != nil {
			base.release()
			return nil, err
		}
		ix.info.TailEntries = tail / es
		ix.persistMu.Lock()
		if ix.shouldPersist() {
			// A failure leaves a valid index with a large delta; the next
			// Persist or Close tries again.
			ix.persistLocked()
		}
		ix.persistMu.Unlock()
	}
	return ix, nil
}

// smallIndexEntries is the number of entries up to which an index lives on
// the heap instead of in a .wvx: at most a few KB, while a file costs a
// create, two fsyncs and a mapping per volume, which dominates the first
// start of thousands of small volumes.
// The package's tests set it to 0 to exercise the file path with small
// fixtures (TestMain), and back for TestSmallIndexInMemory.
var smallIndexEntries uint64 = 256

func small(h header) bool { return smallIndexEntries > 0 && h.count <= smallIndexEntries }

// rebuild builds the .wvx from the first usable bytes of idx and maps it. If
// it cannot be written or mapped, the index lives on the heap instead.
func (ix *Index) rebuild(idx *os.File, usable int64) (*mapping, error) {
	keys, vals, hi, err := readIdx(idx, usable, ix.width)
	if err != nil {
		return nil, err
	}
	keys, vals, hi = sortEntries(keys, vals, hi)
	n, m := replaySorted(keys, vals, hi)
	h := header{width: ix.width, count: uint64(n), metrics: m, covered: uint64(usable)}
	var buf [idxWindow]byte
	if h.idxHeadCRC, h.idxTailCRC, err = idxWindows(idx, usable, buf[:]); err != nil {
		return nil, fmt.Errorf("mmapidx: read .idx: %w", err)
	}
	emit := func(x *wvxWriter) error {
		for i := range n {
			var b byte
			if hi != nil {
				b = hi[i]
			}
			x.add(keys[i], vals[i], b)
		}
		return x.finish()
	}
	if small(h) {
		// a tiny index costs less on the heap than as a file of its own
		// (no write, no fsync, no mapping, no descriptor at start-up)
		image := make([]byte, h.fileSize())
		if err := emit(newWVXWriter(memFile(image), h)); err != nil {
			return nil, err
		}
		if ix.info.Reason != reasonNoWVX {
			_ = os.Remove(ix.wvxPath) // a stale one would only be tried again
		}
		ix.info.InMemory = true
		ix.info.Reason += "; small, kept in memory"
		return newMapping(image, false, ix.width)
	}
	err = replaceFile(ix.wvxPath, func(f *os.File) error { return emit(newWVXWriter(f, h)) })
	if err == nil {
		var base *mapping
		if base, err = openMapping(ix.wvxPath, ix.width, idx, usable); err == nil {
			return base, nil
		}
	}
	ix.info.InMemory = true
	ix.info.Reason += "; kept in memory: " + err.Error()
	image := make([]byte, h.fileSize())
	if err := emit(newWVXWriter(memFile(image), h)); err != nil {
		return nil, err
	}
	return newMapping(image, false, ix.width)
}

// replayTail applies the .idx entries in [from, to) as live writes.
func (ix *Index) replayTail(idx *os.File, from, to int64) error {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	es := int(ix.es)
	buf := make([]byte, es*4096)
	for pos := from; pos < to; {
		b := buf[:min(int64(len(buf)), to-pos)]
		if _, err := idx.ReadAt(b, pos); err != nil {
			return fmt.Errorf("mmapidx: read .idx: %w", err)
		}
		for i := 0; i < len(b); i += es {
			ix.applyLocked(decodeIdxEntry(b[i:], ix.width))
		}
		pos += int64(len(b))
	}
	return nil
}

// OpenInfo tells how Open obtained the index.
func (ix *Index) OpenInfo() OpenInfo { return ix.info }

// IdxSize is the number of .idx bytes the index reflects: after Open, the
// .idx length less any torn trailing entry; then one entry more per Put or
// Delete.
func (ix *Index) IdxSize() int64 {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	return ix.idxSize
}

// Len is the number of keys in the map, deleted-marked ones included.
func (ix *Index) Len() int {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	return int(ix.count)
}

// DeltaLen is the number of entries held in memory rather than in the
// mapped .wvx; Persist brings it to zero.
func (ix *Index) DeltaLen() int {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	return int(ix.deltaLen)
}

// Metrics returns the needle-map counters, all of the same state.
func (ix *Index) Metrics() Metrics {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	return ix.wm
}

// acquire returns the current view with its base held against unmapping.
// The caller releases the returned counter with Add(-1).
//
// INVARIANT: a reader touches view.base's data only between a successful
// acquire and the matching release. acquire increments a counter of the
// base and then checks that the base is still published; a retirer
// unpublishes first and then waits for the counters to drain. Both sides
// use sequentially consistent atomics, so either the retirer sees the
// increment or the reader sees the new view and retries.
func (ix *Index) acquire() (*view, *atomic.Int64) {
	for {
		v := ix.view.Load()
		c := v.base.reader()
		c.Add(1)
		if ix.view.Load().base == v.base {
			return v, c
		}
		c.Add(-1)
	}
}

// lookup finds key in v: delta, then frozen, then base.
func (v *view) lookup(key uint64) (offset uint64, size int32, ok bool) {
	if val, hi, ok := v.delta.lookup(key); ok {
		offset, size = unpackVal(val, byte(hi))
		return offset, size, true
	}
	return v.lookupBelowDelta(key)
}

// lookupBelowDelta finds key in frozen, then base.
func (v *view) lookupBelowDelta(key uint64) (offset uint64, size int32, ok bool) {
	if v.frozen != nil {
		if val, hi, ok := v.frozen.lookup(key); ok {
			offset, size = unpackVal(val, byte(hi))
			return offset, size, true
		}
	}
	if i := v.base.find(key); i >= 0 {
		offset, size = v.base.entry(i)
		return offset, size, true
	}
	return 0, 0, false
}

// Get returns the entry of key, deleted-marked ones (size < 0) included.
// It takes no lock and does not allocate.
func (ix *Index) Get(key uint64) (offset uint64, size int32, ok bool) {
	v, c := ix.acquire()
	offset, size, ok = v.lookup(key)
	c.Add(-1)
	return offset, size, ok
}

// Put applies one .idx entry the caller has appended: it accounts for
// exactly one entry of IdxSize. An entry with offset 0 or a negative size
// is a delete, as in the .idx replay. Offset bits beyond the width are
// dropped, as the .idx encoding drops them. Writers (Put, Delete) are
// serialized internally; readers run concurrently. No-op after Close.
func (ix *Index) Put(key uint64, offset uint64, size int32) {
	ix.wmu.Lock()
	if !ix.closed {
		ix.applyLocked(key, offset&ix.offMask, size)
	}
	ix.wmu.Unlock()
}

// Delete applies a tombstone entry the caller has appended (it accounts for
// one entry of IdxSize, like Put): a live entry of key is marked deleted,
// keeping its offset. It returns the size the entry had, or 0 if key was
// absent or already deleted.
func (ix *Index) Delete(key uint64) (oldSize int32) {
	ix.wmu.Lock()
	if !ix.closed {
		oldSize = ix.applyLocked(key, 0, -1)
	}
	ix.wmu.Unlock()
	return oldSize
}

// applyLocked is upstream's replay of one .idx entry. It returns the size a
// delete found, 0 for a put. ix.wmu must be held.
//
// The view's base cannot be retired while wmu is held (a new base is
// published only under wmu), so the writer reads it without acquire.
func (ix *Index) applyLocked(key, offset uint64, size int32) (oldSize int32) {
	m := &ix.wm
	m.MaxFileKey = max(m.MaxFileKey, key)
	ix.idxSize += ix.es
	v := ix.view.Load()
	d := v.delta
	if d.needsGrow() {
		d = d.grow()
		v = &view{base: v.base, frozen: v.frozen, delta: d}
		ix.view.Store(v)
	}
	// One probe finds both the old entry, if it is in the delta, and the
	// slot to write.
	slot, inDelta := d.probe(key)
	var (
		oldOff  uint64
		oldSz   int32
		present bool
	)
	if inDelta {
		val, hi := d.at(slot)
		oldOff, oldSz = unpackVal(val, byte(hi))
		present = true
	} else {
		oldOff, oldSz, present = v.lookupBelowDelta(key)
	}
	var newOff uint64
	var newSz int32
	switch {
	case offset != 0 && !isDeleted(size):
		m.FileCount++
		m.FileBytes += uint64(size)
		if present && oldOff != 0 && isValid(oldSz) {
			m.DeletionCount++
			m.DeletionBytes += uint64(oldSz)
		}
		newOff, newSz = offset, size
	case present && !isDeleted(oldSz):
		if oldSz > 0 {
			m.DeletionCount++
			m.DeletionBytes += uint64(oldSz)
		}
		newOff, newSz = oldOff, deletedSize(oldSz)
		oldSize = oldSz
	default:
		return 0 // a delete of an absent or deleted key changes nothing
	}
	d.store(slot, key, packVal(newOff, newSz), uint32(newOff>>32))
	if !inDelta {
		ix.deltaLen++
		if !present {
			ix.count++
		}
	}
	return oldSize
}

// shouldPersist says whether the delta is large enough that writing a new
// .wvx beats replaying it at the next Open: at least 1/8 of the map (a
// rewrite costs O(Len)), or 256Ki entries (~0.1 s of replay) whatever the
// map size.
func (ix *Index) shouldPersist() bool {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	d := ix.deltaLen
	return d > 0 && (d >= 1<<18 || d >= ix.count/8)
}

// Close persists the index if its delta is large (see shouldPersist),
// then unmaps it, waiting for readers still inside Get or Ascend. After
// Close, Get finds nothing and Put and Delete do nothing. fn passed to
// Ascend must not call Close.
func (ix *Index) Close() error {
	ix.persistMu.Lock()
	defer ix.persistMu.Unlock()
	if ix.isClosed() {
		return nil
	}
	var err error
	if ix.shouldPersist() {
		err = ix.persistLocked()
	}
	ix.wmu.Lock()
	old := ix.view.Load()
	ix.view.Store(&view{base: emptyMapping, delta: emptyDelta})
	ix.closed = true
	ix.wmu.Unlock()
	ix.retired = append(ix.retired, old.base)
	if rerr := ix.reap(true); err == nil {
		err = rerr
	}
	return err
}

func (ix *Index) isClosed() bool {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	return ix.closed
}

// reap unmaps retired bases no reader holds. With wait it waits for all
// of them. ix.persistMu must be held.
func (ix *Index) reap(wait bool) error {
	var err error
	for spins := 0; len(ix.retired) > 0; spins++ {
		kept := ix.retired[:0]
		for _, m := range ix.retired {
			if m.active() {
				kept = append(kept, m)
			} else if rerr := m.release(); err == nil {
				err = rerr
			}
		}
		clear(ix.retired[len(kept):])
		ix.retired = kept
		if !wait && spins >= 64 {
			break // left for the next Persist or Close
		}
		switch {
		case len(ix.retired) == 0:
		case spins < 64:
			runtime.Gosched()
		default:
			time.Sleep(50 * time.Microsecond) // an Ascend is still running
		}
	}
	return err
}

// Remove deletes the .wvx of the volume whose .idx is idxPath, and any
// leftover temporary file. Call it when the .idx is replaced (compaction).
func Remove(idxPath string) error {
	p := wvxPath(idxPath)
	var err error
	for _, name := range []string{p, p + ".tmp"} {
		if rerr := os.Remove(name); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	return err
}
