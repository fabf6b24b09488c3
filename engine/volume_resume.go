package engine

import (
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/weedvol/weedvol/engine/needle"
)

// ErrCopyDiverged says a backup is not a prefix of this volume's rows, so
// an incremental copy cannot resume from it (the backup must start over).
// The text is upstream's; gRPC answers it as FailedPrecondition.
var ErrCopyDiverged = errors.New("local copy diverged from the replica")

// ResumePoint is where an incremental copy resumed by index entry goes on.
type ResumePoint struct {
	// UpToDate: the backup holds every row; nothing is to be sent.
	UpToDate bool
	// HasData: DatFrom is the first record to send (the first row after
	// the backup's with a record); false when only index rows follow.
	HasData bool
	DatFrom int64
}

// ResumeAfterEntry checks a backup's claim to hold this volume's first
// entryCount .idx rows, the last one (key, size, cookie), and an FNV-1a
// hash of the (key, size) bytes of all of them as stored (offsets differ
// between replicas and are left out), as upstream's ResumeByLastEntry
// does. Any mismatch, or fewer rows here than the backup has, is
// ErrCopyDiverged. The cookie is not compared for a row naming no record
// (an index-only tombstone). Rows at or past idxBound (the caller's
// committed index size) are not looked at for the data start.
func (v *Volume) ResumeAfterEntry(entryCount, key uint64, cookie uint32, size int32, hash uint64, idxBound int64) (ResumePoint, error) {
	v, aerr := v.enter()
	if aerr != nil {
		return ResumePoint{}, aerr
	}
	defer v.life.RUnlock()
	es := int64(v.format.EntrySize())
	v.mu.Lock()
	rows := v.idxSize / es
	v.mu.Unlock()
	if entryCount == 0 || uint64(rows) < entryCount {
		return ResumePoint{}, ErrCopyDiverged
	}
	last, err := v.readIdxRow((int64(entryCount) - 1) * es)
	if err != nil {
		return ResumePoint{}, err
	}
	if last.Key != key || last.Size != size {
		return ResumePoint{}, ErrCopyDiverged
	}
	if last.Offset != 0 {
		var hb [needle.HeaderSize]byte
		if err := v.readFull(hb[:], last.Offset); err != nil {
			return ResumePoint{}, fmt.Errorf("volume %d: read needle header at %d: %w", v.ID, last.Offset, err)
		}
		if h, _ := needle.ParseHeader(hb[:]); h.Cookie != cookie {
			return ResumePoint{}, ErrCopyDiverged
		}
	}
	got, err := v.hashRows(int64(entryCount))
	if err != nil {
		return ResumePoint{}, err
	}
	if got != hash {
		return ResumePoint{}, ErrCopyDiverged
	}
	if uint64(rows) == entryCount {
		return ResumePoint{UpToDate: true}, nil
	}
	row, off, err := v.nextRecordRow(int64(entryCount), min(rows, idxBound/es))
	if err != nil || row < 0 {
		return ResumePoint{}, err
	}
	return ResumePoint{HasData: true, DatFrom: off}, nil
}

// hashRows is the FNV-1a hash of the key and size bytes of the first n
// .idx rows. Buffer ownership: buf is local to the call.
func (v *Volume) hashRows(n int64) (uint64, error) {
	es := int64(v.format.EntrySize())
	h := fnv.New64a()
	buf := make([]byte, min(n*es, (1<<20)/es*es))
	for at, end := int64(0), n*es; at < end; {
		chunk := buf[:min(int64(len(buf)), end-at)]
		if _, err := v.idxOS.ReadAt(chunk, at); err != nil {
			return 0, fmt.Errorf("volume %d: read index at %d: %w", v.ID, at, err)
		}
		for i := int64(0); i+es <= int64(len(chunk)); i += es {
			h.Write(chunk[i : i+8])
			h.Write(chunk[i+es-4 : i+es])
		}
		at += int64(len(chunk))
	}
	return h.Sum64(), nil
}

// IndexEntrySize is the byte size of one of the volume's .idx rows (16,
// or 17 with 5-byte offsets).
func (v *Volume) IndexEntrySize() int { return v.format.EntrySize() }
