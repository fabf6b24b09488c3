package engine

import (
	"errors"
	"fmt"
	"io"

	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/wlog"
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
		wlog.Warningf("volume %d: dropping %d bytes of a partial index row at the end of %s", v.ID, rem, v.idxOS.Name())
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
		wlog.Warningf("volume %d: index row of needle %x names bytes past the end of the data file; dropping it", v.ID, e.Key)
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
		sorted := false
		err := v.format.Walk(io.NewSectionReader(v.idxOS, 0, idxSize), func(e idx.Entry) error {
			if e.Offset > best.Offset {
				best = e
			} else if e.Offset > 0 {
				sorted = true // a row naming an earlier record than one before it
			}
			return nil
		})
		v.sortedIdx = sorted
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
		wlog.Warningf("volume %d: last indexed needle %x at %d does not check out (%v); marking the volume read-only", v.ID, best.Key, best.Offset, err)
		v.damaged.Store(true)
	}
	return best.Offset + int64(len(rec)), n.AppendAtNs, nil
}

// repairDatTail handles .dat bytes past the last indexed record: complete,
// intact records are kept for indexTail, which gives them rows once the
// index is loaded; a torn last record is cut off.
func (v *Volume) repairDatTail(start, datSize int64) error {
	ver := v.super.Version
	lastNs := v.lastAppendAtNs
	at := start
	var buf []byte
	var pending []tailRecord
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
		pending = append(pending, tailRecord{key: n.ID, offset: at, size: n.Size})
		at += size
	}
	if at < datSize {
		wlog.Warningf("volume %d: cutting %d bytes of a torn write off the end of %s", v.ID, datSize-at, v.datOS.Name())
		if err := v.datOS.Truncate(at); err != nil {
			return fmt.Errorf("volume %d: truncate data file: %w", v.ID, err)
		}
		if err := v.datOS.Sync(); err != nil {
			return err
		}
	}
	v.datSize.Store(at)
	v.lastAppendAtNs = lastNs
	v.pendingTail = pending
	return nil
}

// tailRecord is a complete record past the last .idx row.
type tailRecord struct {
	key    uint64
	offset int64
	size   int32
}

// indexTail gives the records repairDatTail kept their .idx rows, in .dat
// order, against the loaded index.
//
// A non-empty record is a write. An empty record (size 0) is either a
// delete's tombstone or an empty upload: the bytes are the same. Deletes
// are appended only for needles that are live (a delete of an absent or
// deleted needle writes nothing), so an empty record whose needle is not
// live at that point is an empty upload, and one whose needle is live is
// taken for a delete, by far the likelier of the two. A tombstone is
// never read back as a live empty needle (which would bring a deleted
// file back as 0 bytes). When the .idx is not in append order (sortedIdx:
// a volume decoded from EC shards keeps rows only for live needles, so a
// needle deleted before the encode has its tombstone past the last
// indexed record and no row), an empty record of a needle not live is
// taken for such a delete too and left unindexed.
func (v *Volume) indexTail() error {
	pending := v.pendingTail
	v.pendingTail = nil
	if len(pending) == 0 {
		return nil
	}
	if err := v.dat.Sync(); err != nil {
		return err
	}
	var rows []byte
	// live tracks the needles the tail itself makes live or deletes, which
	// the index does not show until the rows are applied.
	live := map[uint64]bool{}
	deletes := 0
	type apply struct {
		key    uint64
		offset int64
		size   int32
		delete bool
	}
	applies := make([]apply, 0, len(pending))
	for _, r := range pending {
		isLive, seen := live[r.key]
		if !seen {
			_, size, ok := v.index.Get(r.key)
			isLive = ok && size >= 0
		}
		a := apply{key: r.key, offset: r.offset, size: r.size}
		if r.size == 0 && !isLive && v.sortedIdx {
			live[r.key] = false
			deletes++
			continue
		}
		if r.size == 0 && isLive {
			a.delete, a.size = true, needle.TombstoneSize
			deletes++
		}
		live[r.key] = !a.delete
		rows = v.format.AppendEntry(rows, idx.Entry{Key: a.key, Offset: a.offset, Size: a.size})
		applies = append(applies, a)
	}
	v.logf("volume %d: indexing %d records the index was missing (%d empty ones taken for deletes)", v.ID, len(pending), deletes)
	if len(rows) == 0 {
		return nil
	}
	if _, err := v.idxOS.WriteAt(rows, v.idxSize); err != nil {
		return fmt.Errorf("volume %d: append index rows: %w", v.ID, err)
	}
	if err := v.idxOS.Sync(); err != nil {
		return err
	}
	v.idxSize += int64(len(rows))
	for _, a := range applies {
		if a.delete {
			v.index.Delete(a.key)
		} else {
			v.index.Put(a.key, uint64(a.offset)/idx.Unit, a.size)
		}
	}
	return nil
}

func (v *Volume) unexplainedTail(at, datSize int64, why string) error {
	wlog.Warningf("volume %d: %d bytes past the last indexed needle are not a torn write (%s at %d); marking the volume read-only", v.ID, datSize-at, why, at)
	v.damaged.Store(true)
	return nil
}
