package engine

import (
	"encoding/binary"
	"fmt"

	"github.com/weedvol/weedvol/engine/needle"
)

// FirstAppendAfter returns the .dat offset of the first record appended
// after sinceNs, by binary search over the .idx rows, which are in append
// order, reading each probed record's v3 append timestamp. ok is false when
// no record is newer. Rows with offset 0 (deletes written by old upstream
// versions) name no record and are stepped over. Volumes older than v3
// carry no timestamps: every record counts as appended at 0.
//
// It reads the rows committed when it starts; later appends are left to
// the caller's next call.
func (v *Volume) FirstAppendAfter(sinceNs uint64) (off int64, ok bool, err error) {
	v, aerr := v.enter()
	if aerr != nil {
		return 0, false, aerr
	}
	defer v.life.RUnlock()
	v.mu.Lock()
	rows := v.idxSize / int64(v.format.EntrySize())
	v.mu.Unlock()

	// best is the lowest row known to name a record newer than sinceNs.
	best, bestOff := int64(-1), int64(0)
	lo, hi := int64(0), rows
	for lo < hi {
		mid := lo + (hi-lo)/2
		row, at, err := v.nextRecordRow(mid, hi)
		if err != nil {
			return 0, false, err
		}
		if row < 0 { // rows mid..hi-1 name no record
			hi = mid
			continue
		}
		ts, err := v.appendAtNsAt(at)
		if err != nil {
			return 0, false, err
		}
		if ts <= sinceNs {
			lo = row + 1
		} else {
			best, bestOff, hi = row, at, mid
		}
	}
	if best < 0 {
		return 0, false, nil
	}
	return bestOff, true, nil
}

// nextRecordRow returns the first row in [from, to) with a non-zero offset
// and that offset, or -1 when there is none.
func (v *Volume) nextRecordRow(from, to int64) (row, off int64, err error) {
	size := int64(v.format.EntrySize())
	for row = from; row < to; row++ {
		e, err := v.readIdxRow(row * size)
		if err != nil {
			return 0, 0, err
		}
		if e.Offset != 0 {
			return row, e.Offset, nil
		}
	}
	return -1, 0, nil
}

// appendAtNsAt reads the append timestamp of the record at off (0 before
// version 3).
func (v *Volume) appendAtNsAt(off int64) (uint64, error) {
	if v.super.Version < needle.Version3 {
		return 0, nil
	}
	var hb [needle.HeaderSize]byte
	if err := v.readFull(hb[:], off); err != nil {
		return 0, fmt.Errorf("volume %d: read needle header at %d: %w", v.ID, off, err)
	}
	h, _ := needle.ParseHeader(hb[:])
	if h.Size < 0 {
		return 0, fmt.Errorf("volume %d: needle at %d has negative size %d", v.ID, off, h.Size)
	}
	var ts [needle.TimestampSize]byte
	if err := v.readFull(ts[:], off+int64(needle.AppendAtNsOffset(h.Size))); err != nil {
		return 0, fmt.Errorf("volume %d: read append time of needle at %d: %w", v.ID, off, err)
	}
	return binary.BigEndian.Uint64(ts[:]), nil
}

// CommittedSizes returns the .dat and .idx sizes as of the last committed
// append, taken together: every record below dat has its row below idx.
func (v *Volume) CommittedSizes() (dat, idx int64) {
	v = v.current()
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.datSize.Load(), v.idxSize
}

// ReadIndexAt reads raw .idx bytes (rows as stored, for copies).
func (v *Volume) ReadIndexAt(p []byte, off int64) (int, error) {
	aerr := v.acquire()
	if aerr != nil {
		return 0, aerr
	}
	defer v.life.RUnlock()
	return v.idxOS.ReadAt(p, off)
}

// LastAppendAtNs is the append time of the newest record (0 for an empty
// or pre-v3 volume).
func (v *Volume) LastAppendAtNs() uint64 {
	v = v.current()
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.lastAppendAtNs
}
