package engine

import (
	"errors"
	"fmt"
	"os"

	"github.com/weedvol/weedvol/atomicfile"
	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/mmapidx"
	"github.com/weedvol/weedvol/wlog"
)

// The swap of a compacted copy (crash story in doc.go).
//
// The .cpc marker (empty; its presence is what counts) says the .cpd and
// .cpx next to it are complete and are the volume's next .dat and .idx.
// Whoever finds it moves whichever of the two is still there into place,
// then removes it: CommitCompact right away, or Open after a crash
// (finishInterruptedCompaction). Without it a .cpd or .cpx is an
// uncommitted copy, which Open drops.
//
// INVARIANT: while a .cpc exists, <base>.dat.precompact exists in the data
// directory too (the backups are linked before the .cpc is written and
// removed after it is gone), so the store's directory listing, which
// looks for compaction leftovers by those names, sends Open to finish the
// swap.
//
// INVARIANT: the .cpd and .cpx, and the directory entries naming them,
// are synced before the .cpc is written, and the .cpc is synced before
// the first rename; the renames are synced before the .cpc is removed.

// swapSteps names the crash points of one swap (nil: none reported).
type swapSteps struct{ marker, dat, idx, done string }

var (
	commitSwap   = &swapSteps{stepCommitMarker, stepCommitDat, stepCommitIdx, stepCommitDone}
	rollbackSwap = &swapSteps{stepRollbackMarker, stepRollbackDat, stepRollbackIdx, stepRollbackDone}
)

// reach reports the step that name picks out of s, if s is set.
func (s *swapSteps) reach(name func(*swapSteps) string) error {
	if s == nil {
		return nil
	}
	return reached(name(s))
}

// CommitCompact brings the compacted copy up to date and swaps it in. It
// returns the Volume now serving the data; v forwards to it from then on.
//
// A failure before the .cpc is written leaves the original files in place
// and reopened. Once it is written the compacted files are the volume's:
// a failed rename is retried (as Open would) and reported with the new
// Volume. When the compacted files do not open, the originals are swapped
// back in the same way, from their backups. An error comes with the
// Volume that serves, or with v closed when no state could be reopened
// safely (the next Open settles the files).
func (v *Volume) CommitCompact() (_ *Volume, rerr error) {
	v = v.lockCompaction()
	defer v.compactMu.Unlock()
	c := v.compaction
	if c == nil {
		return v, fmt.Errorf("volume %d: %w", v.ID, ErrNotCompacted)
	}
	// Flush the originals while requests still run, so that the sync
	// under the exclusive lock below has little left to write.
	_ = v.Sync()
	// The backups' removal frees the old .dat's blocks, which takes long
	// for a large volume: it runs once requests are let through to the new
	// volume (after life is released, deferred below), still under
	// compactMu so no next compaction links new backups meanwhile.
	var cleanup func()
	defer func() {
		if cleanup != nil {
			cleanup()
		}
	}()
	v.life.Lock()
	defer v.life.Unlock()
	if v.closed {
		return v, ErrClosed
	}
	err := v.catchUp(c)
	if err == nil {
		err = reached(stepCommitCaughtUp)
	}
	if err != nil {
		return v, fmt.Errorf("volume %d: bring compacted copy up to date: %w", v.ID, err)
	}
	v.compaction = nil

	if err := errors.Join(v.dat.Sync(), v.idxOS.Sync(), v.closeFiles()); err != nil {
		wlog.Warningf("volume %d: close before compaction swap: %v", v.ID, err)
	}
	// the originals are kept until the compacted files open
	if err := v.linkBackups(); err != nil {
		return v.reopenOriginals(fmt.Errorf("keep the original files: %w", err))
	}
	err = v.markSwap()
	if err == nil {
		err = reached(stepCommitMarker)
	}
	if err != nil {
		return v.reopenOriginals(fmt.Errorf("mark the swap: %w", err))
	}

	// committed: the compacted files are the volume's from here on
	var late []error
	if err := v.finishSwap(commitSwap); err != nil {
		wlog.Warningf("volume %d: compaction swap: %v; retrying", v.ID, err)
		if rerr := v.finishSwap(nil); rerr != nil {
			v.closed = true
			return v, fmt.Errorf("volume %d: compaction swap: %w (the next open finishes it)", v.ID, errors.Join(err, rerr))
		}
		late = append(late, err)
	}
	nv, err := openVolume(v.cfg, false)
	if err == nil {
		if err = reached(stepCommitOpened); err != nil {
			nv.Close()
		}
	}
	if err != nil {
		return v.rollbackSwap(errors.Join(append(late, fmt.Errorf("open compacted volume: %w", err))...))
	}
	nv.inheritMarks(v)
	v.successor.Store(nv)
	v.closed = true
	if len(late) > 0 {
		return nv, fmt.Errorf("volume %d: compaction committed, but: %w", v.ID, errors.Join(late...))
	}
	cleanup = func() {
		err := v.removeBackups()
		if err == nil {
			err = reached(stepCommitCleaned)
		}
		if err != nil && rerr == nil {
			rerr = fmt.Errorf("volume %d: compaction committed, but: %w", v.ID, err)
		}
	}
	return nv, nil
}

// backups are the original .dat and .idx and their .precompact links.
func (v *Volume) backups() [2][2]string {
	dat, idxPath := v.FileName(".dat"), v.FileName(".idx")
	return [2][2]string{{dat, dat + ".precompact"}, {idxPath, idxPath + ".precompact"}}
}

// linkBackups links the original .dat and .idx to their .precompact names.
// They need no sync: only this process uses them (Open drops them).
func (v *Volume) linkBackups() error {
	for _, b := range v.backups() {
		os.Remove(b[1])
		if err := os.Link(b[0], b[1]); err != nil {
			v.removeBackups()
			return err
		}
	}
	return reached(stepCommitBackups)
}

// removeBackups removes the .precompact links.
func (v *Volume) removeBackups() error {
	var errs []error
	for _, b := range v.backups() {
		if err := os.Remove(b[1]); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// markSwap commits the .cpd/.cpx pair: it syncs the directories that name
// them, writes the .cpc and syncs its directory.
func (v *Volume) markSwap() error {
	if err := v.syncDirs(); err != nil {
		return err
	}
	f, err := createFresh(v.FileName(".cpc"))
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return atomicfile.SyncDir(v.dir)
}

// finishSwap moves whichever of the .cpd and .cpx a .cpc marks is still
// there into place, syncs the directories and removes the .cpc. It may be
// run again after any failure or crash. s names the steps to report.
func (v *Volume) finishSwap(s *swapSteps) error {
	if err := renamePresent(v.FileName(".cpd"), v.FileName(".dat")); err != nil {
		return err
	}
	if err := s.reach(func(s *swapSteps) string { return s.dat }); err != nil {
		return err
	}
	// the snapshot of the replaced index goes before the index does
	if err := mmapidx.Remove(v.FileName(".idx")); err != nil {
		return err
	}
	if err := renamePresent(v.FileName(".cpx"), v.FileName(".idx")); err != nil {
		return err
	}
	if err := v.syncDirs(); err != nil {
		return err
	}
	if err := s.reach(func(s *swapSteps) string { return s.idx }); err != nil {
		return err
	}
	if err := os.Remove(v.FileName(".cpc")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := atomicfile.SyncDir(v.dir); err != nil {
		return err
	}
	return s.reach(func(s *swapSteps) string { return s.done })
}

// renamePresent renames from to to unless from does not exist.
func renamePresent(from, to string) error {
	if err := os.Rename(from, to); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// dropCopy drops a .cpd/.cpx pair that is not to be swapped in: the .cpc
// first (dropMarker), then the pair, which is garbage from then on.
func (v *Volume) dropCopy() error {
	if err := v.dropMarker(); err != nil {
		return err
	}
	var errs []error
	for _, p := range []string{v.FileName(".cpd"), v.FileName(".cpx")} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(append(errs, v.syncDirs())...)
}

// dropMarker removes a .cpc and syncs its directory: a .cpc beside half a
// pair would make Open move that half in.
func (v *Volume) dropMarker() error {
	if err := os.Remove(v.FileName(".cpc")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return atomicfile.SyncDir(v.dir)
}

// reopenOriginals ends a commit that failed before its .cpc was in place:
// the copy is dropped and the untouched original files are reopened as
// v's successor. It returns cause.
func (v *Volume) reopenOriginals(cause error) (*Volume, error) {
	if err := v.dropMarker(); err != nil {
		// the copy might still be swapped in by the next Open: taking
		// writes into the originals now could lose them then
		v.closed = true
		return v, fmt.Errorf("volume %d: compaction swap: %w", v.ID, errors.Join(cause, fmt.Errorf("drop the compacted copy: %w", err)))
	}
	if err := v.dropCopy(); err != nil {
		wlog.Warningf("volume %d: remove the compacted copy: %v", v.ID, err)
	}
	v.removeBackups()
	return v.reopenAs(cause)
}

// reopenAs opens v's files as its successor and returns cause with it,
// or, when they do not open, leaves v closed.
func (v *Volume) reopenAs(cause error) (*Volume, error) {
	nv, err := openVolume(v.cfg, false)
	if err != nil {
		v.closed = true
		return v, fmt.Errorf("volume %d: compaction swap: %w", v.ID, errors.Join(cause, fmt.Errorf("reopen: %w", err)))
	}
	nv.inheritMarks(v)
	v.successor.Store(nv)
	v.closed = true
	return nv, fmt.Errorf("volume %d: compaction swap: %w", v.ID, cause)
}

// rollbackSwap puts the original files back after the compacted ones,
// swapped in, failed to open: the backups are linked to the .cpd/.cpx
// names and swapped in as a compacted copy would be. It returns cause.
func (v *Volume) rollbackSwap(cause error) (*Volume, error) {
	err := v.stageBackups()
	if err == nil {
		err = reached(stepRollbackStaged)
	}
	if err == nil {
		if err = v.markSwap(); err == nil {
			err = reached(stepRollbackMarker)
		}
	}
	if err != nil {
		// the compacted files stay in place, unopened
		if derr := v.dropCopy(); derr != nil {
			err = errors.Join(err, derr)
		}
		v.closed = true
		return v, fmt.Errorf("volume %d: compaction swap: %w", v.ID, errors.Join(cause, fmt.Errorf("put the original files back: %w", err)))
	}
	if err := v.finishSwap(rollbackSwap); err != nil {
		wlog.Warningf("volume %d: compaction rollback: %v; retrying", v.ID, err)
		if rerr := v.finishSwap(nil); rerr != nil {
			v.closed = true
			return v, fmt.Errorf("volume %d: compaction swap: %w (the next open finishes the rollback)", v.ID, errors.Join(cause, err, rerr))
		}
		cause = errors.Join(cause, err)
	}
	v.removeBackups()
	return v.reopenAs(cause)
}

// stageBackups links the .precompact backups to the .cpd/.cpx names and
// syncs nothing (markSwap does).
func (v *Volume) stageBackups() error {
	b := v.backups()
	for i, to := range []string{v.FileName(".cpd"), v.FileName(".cpx")} {
		os.Remove(to)
		if err := os.Link(b[i][1], to); err != nil {
			return err
		}
	}
	return nil
}

// finishInterruptedCompaction settles, before the volume is opened, what a
// crash left of a compaction: a .cpc means the commit was decided, so the
// swap is finished; without one a .cpd or .cpx is a copy that was never
// committed (its state lived in memory) and is dropped. Backups are
// removed either way. An error means the files could not be settled and
// the volume must not be opened.
func (v *Volume) finishInterruptedCompaction() error {
	regular := func(p string) bool { st, err := os.Lstat(p); return err == nil && st.Mode().IsRegular() }
	switch {
	case regular(v.FileName(".cpc")):
		if err := v.finishSwap(nil); err != nil {
			return fmt.Errorf("volume %d: finish a compaction commit a crash interrupted: %w", v.ID, err)
		}
		v.logf("volume %d: finished a compaction commit a crash interrupted", v.ID)
	case !regular(v.FileName(".cpd")) && regular(v.FileName(".cpx")) && v.cpxFitsDat():
		// an older weedvol's commit (no .cpc) stopped between its renames:
		// the .dat in place is the compacted one and the .cpx its index
		if err := errors.Join(mmapidx.Remove(v.FileName(".idx")), os.Rename(v.FileName(".cpx"), v.FileName(".idx")), v.syncDirs()); err != nil {
			return fmt.Errorf("volume %d: finish an interrupted compaction: %w", v.ID, err)
		}
		v.logf("volume %d: finished a compaction interrupted after its .dat was swapped in", v.ID)
	case regular(v.FileName(".cpd")) || regular(v.FileName(".cpx")):
		if err := v.dropCopy(); err != nil {
			return fmt.Errorf("volume %d: drop an uncommitted compacted copy: %w", v.ID, err)
		}
		v.logf("volume %d: dropped an uncommitted compacted copy", v.ID)
	}
	v.removeBackups()
	return nil
}

// cpxFitsDat reports whether the .cpx, without its .cpd and .cpc, is the
// index of the .dat in place: its last row names a record of that needle
// ending exactly at the end of the .dat, in either offset width. A commit
// of this weedvol never leaves such a .cpx beside an original .dat it
// fits (one with no garbage before its last record has the compacted
// layout, and then the two indexes agree).
func (v *Volume) cpxFitsDat() bool {
	dat, err := openNoFollow(v.FileName(".dat"), os.O_RDONLY, 0)
	if err != nil {
		return false
	}
	defer dat.Close()
	cpx, err := openNoFollow(v.FileName(".cpx"), os.O_RDONLY, 0)
	if err != nil {
		return false
	}
	defer cpx.Close()
	dst, err1 := dat.Stat()
	xst, err2 := cpx.Stat()
	var head [needle.HeaderSize]byte
	if err1 != nil || err2 != nil || xst.Size() == 0 {
		return false
	}
	if _, err := dat.ReadAt(head[:1], 0); err != nil {
		return false
	}
	ver := needle.Version(head[0])
	if !ver.Supported() {
		return false
	}
	for _, width := range []int{idx.Offset4, idx.Offset5} {
		f, _ := idx.FormatFor(width)
		es := int64(f.EntrySize())
		if xst.Size()%es != 0 {
			continue
		}
		row := make([]byte, es)
		if _, err := cpx.ReadAt(row, xst.Size()-es); err != nil {
			continue
		}
		e := f.Entry(row)
		if e.Offset == 0 || e.Offset+needle.ActualSize(recordSize(e.Size), ver) != dst.Size() {
			continue
		}
		if _, err := dat.ReadAt(head[:], e.Offset); err != nil {
			continue
		}
		if h, err := needle.ParseHeader(head[:]); err == nil && h.ID == e.Key {
			return true
		}
	}
	return false
}

// inheritMarks carries the read-only marks v held in memory (set without
// persist) over to its successor nv, which read only the .vif's: as
// upstream's volume keeps its flags across a compaction's reload.
func (nv *Volume) inheritMarks(v *Volume) {
	if v.readOnly.Load() {
		nv.readOnly.Store(true)
	}
	if v.canDelete.Load() {
		nv.canDelete.Store(true)
	}
}
