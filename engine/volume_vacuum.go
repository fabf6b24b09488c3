package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/weedvol/weedvol/atomicfile"
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
//     state), swaps the files in (volume_commit.go; crash story in doc.go)
//     and opens the result as a new Volume.
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
//
// The copy runs on an OS thread of its own at the lowest CPU priority
// (background.go): on a busy node requests get the cores first, on an
// idle one the copy runs at full speed.
func (v *Volume) Compact(progress func(scanned int64) bool) error {
	return inBackground(func() error { return v.compact(progress) })
}

func (v *Volume) compact(progress func(scanned int64) bool) (err error) {
	v = v.lockCompaction()
	defer v.compactMu.Unlock()
	if err := v.acquire(); err != nil {
		return err
	}
	defer v.life.RUnlock()
	if v.remote.Load() != nil {
		return fmt.Errorf("volume %d: %w", v.ID, ErrRemoteVolume)
	}
	v.compaction = nil
	// A .cpc makes Open move a .cpd/.cpx pair into place. Commits remove
	// theirs (volume_commit.go); one left over must not adopt this copy.
	if err := os.Remove(v.FileName(".cpc")); err == nil {
		if err := atomicfile.SyncDir(v.dir); err != nil {
			return err
		}
	}

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

// growTo returns b resized to n bytes, reallocated only when too small.
func growTo(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
