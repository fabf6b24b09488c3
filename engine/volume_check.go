package engine

import (
	"errors"
	"fmt"
	"io"

	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/needle"
)

// checkTail reconciles the ends of the .idx and the .dat after a crash.
//
// A write appends its record to the .dat, then its row to the .idx. So a
// crash can leave (1) a partial .idx row, (2) a partial .dat record past the
// last row, (3) complete records past the last row, whose rows were never
// written, and, when the page cache flushed out of order, (4) rows naming
// bytes past the end of the .dat. checkTail drops (1) and (4), cuts (2) off
// and indexes (3), logging each. A record past the last row that is damaged
// while more data follows it cannot be a torn append: the volume is then
// left untouched and marked damaged (read-only).
//
// It runs before the index is loaded and sets idxSize, datSize and
// lastAppendAtNs.
func (v *Volume) checkTail() error {
	st, err := v.idxOS.Stat()
	if err != nil {
		return err
	}
	es := int64(v.format.EntrySize())
	idxSize := st.Size()
	if rem := idxSize % es; rem != 0 {
		v.logf("volume %d: dropping %d bytes of a partial index row at the end of %s", v.ID, rem, v.idxOS.Name())
		idxSize -= rem
		if err := v.idxOS.Truncate(idxSize); err != nil {
			return fmt.Errorf("volume %d: truncate index: %w", v.ID, err)
		}
	}
	datSize := v.datSize.Load()
	ver := v.super.Version
	// Rows whose record ends past the .dat lost their data: drop them.
	for idxSize > 0 {
		e, err := v.readIdxRow(idxSize - es)
		if err != nil {
			return err
		}
		if e.Offset == 0 || e.Offset+needle.ActualSize(recordSize(e.Size), ver) <= datSize {
			break
		}
		v.logf("volume %d: index row of needle %x names bytes past the end of the data file; dropping it", v.ID, e.Key)
		idxSize -= es
		if err := v.idxOS.Truncate(idxSize); err != nil {
			return fmt.Errorf("volume %d: truncate index: %w", v.ID, err)
		}
	}
	v.idxSize = idxSize

	tailEnd, lastNs, err := v.findTail(idxSize)
	if err != nil {
		return err
	}
	v.lastAppendAtNs = lastNs
	if tailEnd >= datSize {
		return nil
	}
	return v.repairDatTail(tailEnd, datSize)
}

// recordSize is the size field of the .dat record an .idx size describes:
// a delete's record is an empty needle.
func recordSize(idxSize int32) int32 {
	if idxSize < 0 {
		return 0
	}
	return idxSize
}

func (v *Volume) readIdxRow(at int64) (idx.Entry, error) {
	b := make([]byte, v.format.EntrySize())
	if _, err := v.idxOS.ReadAt(b, at); err != nil {
		return idx.Entry{}, fmt.Errorf("volume %d: read index row at %d: %w", v.ID, at, err)
	}
	return v.format.Entry(b), nil
}

// findTail returns the end of the record physically last among those the
// .idx names, and its append timestamp. The last row normally names it; an
// .idx rewritten in key order (by offline tools) needs a scan.
func (v *Volume) findTail(idxSize int64) (end int64, appendAtNs uint64, err error) {
	ver := v.super.Version
	end = int64(v.super.BlockSize())
	if idxSize == 0 {
		return end, 0, nil
	}
	last, err := v.readIdxRow(idxSize - int64(v.format.EntrySize()))
	if err != nil {
		return 0, 0, err
	}
	best := last
	if last.Offset == 0 || last.Offset+needle.ActualSize(recordSize(last.Size), ver) != v.datSize.Load() {
		best = idx.Entry{}
		err := v.format.Walk(io.NewSectionReader(v.idxOS, 0, idxSize), func(e idx.Entry) error {
			if e.Offset > best.Offset {
				best = e
			}
			return nil
		})
		if err != nil {
			return 0, 0, fmt.Errorf("volume %d: scan index: %w", v.ID, err)
		}
		if best.Offset == 0 {
			return end, 0, nil
		}
	}
	size := recordSize(best.Size)
	rec := make([]byte, needle.ActualSize(size, ver))
	if err := v.readFull(rec, best.Offset); err != nil {
		return 0, 0, fmt.Errorf("volume %d: read last needle at %d: %w", v.ID, best.Offset, err)
	}
	var n needle.Needle
	if err := n.Decode(rec, size, ver); err != nil || n.ID != best.Key {
		v.logf("volume %d: last indexed needle %x at %d does not check out (%v); marking the volume read-only", v.ID, best.Key, best.Offset, err)
		v.damaged.Store(true)
	}
	return best.Offset + int64(len(rec)), n.AppendAtNs, nil
}

// repairDatTail handles .dat bytes past the last indexed record: complete,
// intact records get their rows; a torn last record is cut off.
//
// An empty record (size 0) past the last row is never indexed: on disk a
// delete's tombstone and an empty upload are the same bytes, and a
// tombstone read back as a live empty needle would bring a deleted file
// back as 0 bytes. Such a record was never acknowledged (a batch's rows are
// written before any of its writers is answered), so leaving it out loses
// nothing: the needle keeps whatever the .idx says. Empty records at the
// very end are cut off with the torn bytes, so the next open starts clean.
func (v *Volume) repairDatTail(start, datSize int64) error {
	ver := v.super.Version
	var rows []byte
	lastNs := v.lastAppendAtNs
	at := start
	var buf []byte
	// keepEnd is the end of the last record indexed (or start); what lies
	// past it when the scan ends is torn bytes or skipped empty records.
	keepEnd, keptNs, skipped := start, lastNs, 0
	for at < datSize {
		if datSize-at < needle.HeaderSize {
			break
		}
		var hb [needle.HeaderSize]byte
		if err := v.readFull(hb[:], at); err != nil {
			return fmt.Errorf("volume %d: read needle header at %d: %w", v.ID, at, err)
		}
		h, _ := needle.ParseHeader(hb[:])
		if h.Size < 0 || (h.ID == 0 && h.Size == 0 && h.Cookie == 0) {
			return v.unexplainedTail(at, datSize, "zero or negative header")
		}
		size := needle.ActualSize(h.Size, ver)
		if at+size > datSize {
			break
		}
		if int64(cap(buf)) < size {
			buf = make([]byte, size)
		}
		rec := buf[:size]
		if err := v.readFull(rec, at); err != nil {
			return fmt.Errorf("volume %d: read needle at %d: %w", v.ID, at, err)
		}
		var n needle.Needle
		if err := n.Decode(rec, h.Size, ver); err != nil {
			if errors.Is(err, needle.ErrCorrupted) && at+size == datSize {
				break
			}
			return v.unexplainedTail(at, datSize, err.Error())
		}
		if ver == needle.Version3 {
			if n.AppendAtNs <= lastNs {
				return v.unexplainedTail(at, datSize, "append timestamps go backwards")
			}
			lastNs = n.AppendAtNs
		}
		at += size
		if n.Size == 0 {
			skipped++
			continue
		}
		rows = v.format.AppendEntry(rows, idx.Entry{Key: n.ID, Offset: at - size, Size: n.Size})
		keepEnd, keptNs = at, n.AppendAtNs
	}
	if skipped > 0 {
		v.logf("volume %d: leaving %d empty records past the index out of it (a delete or an empty write that was never acknowledged)", v.ID, skipped)
	}
	if len(rows) > 0 {
		v.logf("volume %d: indexing %d needles the index was missing", v.ID, len(rows)/v.format.EntrySize())
		if err := v.dat.Sync(); err != nil {
			return err
		}
		if _, err := v.idxOS.WriteAt(rows, v.idxSize); err != nil {
			return fmt.Errorf("volume %d: append index rows: %w", v.ID, err)
		}
		if err := v.idxOS.Sync(); err != nil {
			return err
		}
		v.idxSize += int64(len(rows))
	}
	if keepEnd < datSize {
		v.logf("volume %d: cutting %d bytes of torn or unindexed empty records off the end of %s", v.ID, datSize-keepEnd, v.datOS.Name())
		if err := v.datOS.Truncate(keepEnd); err != nil {
			return fmt.Errorf("volume %d: truncate data file: %w", v.ID, err)
		}
		if err := v.datOS.Sync(); err != nil {
			return err
		}
	}
	v.datSize.Store(keepEnd)
	if ver == needle.Version3 {
		v.lastAppendAtNs = keptNs
	}
	return nil
}

func (v *Volume) unexplainedTail(at, datSize int64, why string) error {
	v.logf("volume %d: %d bytes past the last indexed needle are not a torn write (%s at %d); marking the volume read-only", v.ID, datSize-at, why, at)
	v.damaged.Store(true)
	return nil
}
