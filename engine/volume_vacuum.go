package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/needle"
)

// Compaction is upstream's two-phase vacuum:
//
//  1. Compact copies the live records, in .dat order, into <base>.cpd
//     (with the super block's compaction revision raised by one) and their
//     rows into <base>.cpx, while the volume keeps serving reads and
//     writes. It notes how far into the .idx the copy went.
//  2. CommitCompact, with the volume's operations drained and held off,
//     appends to the copy the records and rows the .idx gained since
//     (writes and deletes in their order, so the copy ends in the same
//     state), swaps the files in and opens the result as a new Volume.
//     The replaced Volume forwards every later call to it (see enter), so
//     holders of the old pointer keep working.
//
// CleanupCompact drops an uncommitted copy.

// ErrNotCompacted is returned by CommitCompact without a prior Compact.
var ErrNotCompacted = errors.New("no compacted copy to commit")

// compaction is an uncommitted compacted copy.
type compaction struct {
	idxEnd   int64 // .idx rows below this are reflected in the copy
	cpdEnd   int64 // length of .cpd
	cpxEnd   int64 // length of .cpx
	revision uint16
}

// compactBuffer is the write buffer of the compacted .dat.
const compactBuffer = 1 << 20

// Compact writes the compacted copy. progress hears the .dat bytes
// scanned so far and may stop the compaction by returning false. A
// previous uncommitted copy is replaced.
func (v *Volume) Compact(progress func(scanned int64) bool) (err error) {
	v = v.lockCompaction()
	defer v.compactMu.Unlock()
	if err := v.acquire(); err != nil {
		return err
	}
	defer v.life.RUnlock()
	v.compaction = nil

	datEnd, idxEnd := v.CommittedSizes()
	sb := v.super
	sb.CompactionRevision++
	hdr, err := sb.Encode()
	if err != nil {
		return err
	}
	cpd, err := createFresh(v.FileName(".cpd"))
	if err != nil {
		return err
	}
	cpx, err := createFresh(v.FileName(".cpx"))
	if err != nil {
		cpd.Close()
		return err
	}
	defer func() {
		errs := []error{err}
		if err == nil {
			errs = append(errs, cpd.Sync(), cpx.Sync())
		}
		errs = append(errs, cpd.Close(), cpx.Close())
		if err = errors.Join(errs...); err != nil {
			os.Remove(cpd.Name())
			os.Remove(cpx.Name())
		}
	}()

	w := bufio.NewWriterSize(cpd, compactBuffer)
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	pos := int64(len(hdr))
	var rows []byte
	stopped := fmt.Errorf("volume %d: compaction stopped", v.ID)
	visit := func(off int64, h needle.Header) (bool, error) {
		if progress != nil && !progress(off) {
			return false, stopped
		}
		ioff, size, ok := v.lookup(h.ID)
		return ok && ioff == off && size >= 0, nil
	}
	keep := func(off int64, rec []byte) error {
		h, _ := needle.ParseHeader(rec)
		if _, err := w.Write(rec); err != nil {
			return err
		}
		rows = v.format.AppendEntry(rows, idx.Entry{Key: h.ID, Offset: pos, Size: h.Size})
		pos += int64(len(rec))
		if len(rows) >= 1<<20 {
			if _, err := cpx.Write(rows); err != nil {
				return err
			}
			rows = rows[:0]
		}
		return nil
	}
	read := func(p []byte, off int64) error { return v.readFull(p, off) }
	if _, err := needle.WalkRecords(read, v.super.Version, int64(v.super.BlockSize()), datEnd, nil, visit, keep); err != nil {
		if err == stopped {
			return err
		}
		return fmt.Errorf("volume %d: compact: %w", v.ID, err)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if _, err := cpx.Write(rows); err != nil {
		return err
	}
	cpxEnd, err := cpx.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	v.compaction = &compaction{idxEnd: idxEnd, cpdEnd: pos, cpxEnd: cpxEnd, revision: sb.CompactionRevision}
	return nil
}

// lockCompaction locks compactMu of the volume that now holds v's data
// and returns that volume. Lock order: compactMu before life.
func (v *Volume) lockCompaction() *Volume {
	for {
		v = v.current()
		v.compactMu.Lock()
		if v.successor.Load() == nil {
			return v
		}
		v.compactMu.Unlock() // replaced meanwhile: lock the successor
	}
}

// CleanupCompact removes an uncommitted compacted copy, if any.
func (v *Volume) CleanupCompact() error {
	v = v.lockCompaction()
	defer v.compactMu.Unlock()
	v.compaction = nil
	var errs []error
	for _, ext := range []string{".cpd", ".cpx"} {
		if err := os.Remove(v.FileName(ext)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// CommitCompact brings the compacted copy up to date and swaps it in. It
// returns the Volume now serving the data; v forwards to it from then on.
// When the swapped files fail to open, the original files are put back and
// reopened, and the error is returned with that Volume.
func (v *Volume) CommitCompact() (*Volume, error) {
	v = v.lockCompaction()
	defer v.compactMu.Unlock()
	c := v.compaction
	if c == nil {
		return v, fmt.Errorf("volume %d: %w", v.ID, ErrNotCompacted)
	}
	v.life.Lock()
	defer v.life.Unlock()
	if v.closed {
		return v, ErrClosed
	}
	if err := v.catchUp(c); err != nil {
		return v, fmt.Errorf("volume %d: bring compacted copy up to date: %w", v.ID, err)
	}
	v.compaction = nil

	dat, idxPath := v.FileName(".dat"), v.FileName(".idx")
	if err := errors.Join(v.dat.Sync(), v.idxOS.Sync(), v.closeFiles()); err != nil {
		v.logf("volume %d: close before compaction swap: %v", v.ID, err)
	}
	// keep the originals until the compacted files open
	backups := [][2]string{{dat, dat + ".precompact"}, {idxPath, idxPath + ".precompact"}}
	for _, b := range backups {
		os.Remove(b[1])
		if err := os.Link(b[0], b[1]); err != nil {
			return v.reopenAfterFailedSwap(backups, fmt.Errorf("keep %s: %w", b[0], err))
		}
	}
	os.Remove(v.FileName(".wvx"))
	if err := os.Rename(v.FileName(".cpd"), dat); err != nil {
		return v.reopenAfterFailedSwap(backups, err)
	}
	if err := os.Rename(v.FileName(".cpx"), idxPath); err != nil {
		return v.reopenAfterFailedSwap(backups, err)
	}
	nv, err := openVolume(v.cfg, false)
	if err != nil {
		return v.reopenAfterFailedSwap(backups, fmt.Errorf("open compacted volume: %w", err))
	}
	for _, b := range backups {
		os.Remove(b[1])
	}
	v.successor.Store(nv)
	v.closed = true
	return nv, nil
}

// catchUp appends to the copy what the .idx gained after c was taken:
// each put's record (moved to the copy's end) and each delete's tombstone,
// with their rows, in order. Called with life held exclusively.
func (v *Volume) catchUp(c *compaction) error {
	cpd, err := openNoFollow(v.FileName(".cpd"), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer cpd.Close()
	cpx, err := openNoFollow(v.FileName(".cpx"), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer cpx.Close()
	ver := v.super.Version
	pos := c.cpdEnd
	var rows, rec []byte
	size := int64(v.format.EntrySize())
	for at := c.idxEnd; at+size <= v.idxSize; at += size {
		e, err := v.readIdxRow(at)
		if err != nil {
			return err
		}
		if e.Offset == 0 { // a delete without a record (old upstream)
			rows = v.format.AppendEntry(rows, e)
			continue
		}
		rec = growTo(rec, int(needle.ActualSize(recordSize(e.Size), ver)))
		if err := v.readFull(rec, e.Offset); err != nil {
			return fmt.Errorf("read needle %d at %d: %w", e.Key, e.Offset, err)
		}
		if _, err := cpd.WriteAt(rec, pos); err != nil {
			return err
		}
		rows = v.format.AppendEntry(rows, idx.Entry{Key: e.Key, Offset: pos, Size: e.Size})
		pos += int64(len(rec))
	}
	if _, err := cpx.WriteAt(rows, c.cpxEnd); err != nil {
		return err
	}
	if err := cpd.Truncate(pos); err != nil {
		return err
	}
	if err := cpx.Truncate(c.cpxEnd + int64(len(rows))); err != nil {
		return err
	}
	return errors.Join(cpd.Sync(), cpx.Sync())
}

// reopenAfterFailedSwap puts the original files back (from backups, when
// the swap got that far) and reopens them as v's successor, so the volume
// keeps serving; it returns cause.
func (v *Volume) reopenAfterFailedSwap(backups [][2]string, cause error) (*Volume, error) {
	for _, b := range backups {
		if err := os.Rename(b[1], b[0]); err != nil && !errors.Is(err, os.ErrNotExist) {
			v.logf("volume %d: restore %s: %v", v.ID, b[0], err)
		}
	}
	os.Remove(v.FileName(".wvx"))
	os.Remove(v.FileName(".cpd"))
	os.Remove(v.FileName(".cpx"))
	nv, err := openVolume(v.cfg, false)
	v.closed = true
	if err != nil {
		return v, errors.Join(cause, fmt.Errorf("reopen original volume: %w", err))
	}
	v.successor.Store(nv)
	return nv, fmt.Errorf("volume %d: compaction swap: %w", v.ID, cause)
}

// growTo returns b resized to n bytes, reallocated only when too small.
func growTo(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// finishInterruptedCompaction settles the files a crash left in the middle
// of compaction, before the volume is opened. A .cpx without its .cpd means
// the commit had moved the compacted .dat into place: the .cpx is the
// index that goes with it, so it is moved in too. A .cpd means no commit
// got to the swap: the copy is stale and dropped (its state lived in
// memory). Backups a finished swap did not get to remove are removed.
func (v *Volume) finishInterruptedCompaction() {
	exists := func(p string) bool { st, err := os.Lstat(p); return err == nil && st.Mode().IsRegular() }
	cpd, cpx := v.FileName(".cpd"), v.FileName(".cpx")
	switch {
	case exists(cpd):
		os.Remove(cpd)
		os.Remove(cpx)
	case exists(cpx):
		if err := os.Rename(cpx, v.FileName(".idx")); err != nil {
			v.logf("volume %d: finish interrupted compaction: %v", v.ID, err)
			return
		}
		os.Remove(v.FileName(".wvx"))
		v.logf("volume %d: finished a compaction interrupted after its .dat was swapped in", v.ID)
	}
	os.Remove(v.FileName(".dat") + ".precompact")
	os.Remove(v.FileName(".idx") + ".precompact")
}
