package engine

import (
	"fmt"
	"io"
	"sort"

	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/needle"
)

// Scrub checks the volume's files against each other and returns the
// number of .idx rows it walked and what it found wrong (nothing for a
// healthy volume). Every row must name a record that lies inside the .dat
// past the super block, and no two records may overlap. With full set it
// also reads every record a row names, checking its checksum and that its
// id is the row's key, and that the records account for the whole .dat.
//
// It checks the state committed when it starts; appends made meanwhile are
// left for the next scrub.
func (v *Volume) Scrub(full bool) (rows int64, problems []error) {
	v, err := v.enter()
	if err != nil {
		return 0, []error{err}
	}
	defer v.life.RUnlock()
	datEnd, idxEnd := v.CommittedSizes()
	size := int64(v.format.EntrySize())
	if idxEnd%size != 0 {
		problems = append(problems, fmt.Errorf("volume %d: index size %d is not a multiple of its %d-byte rows", v.ID, idxEnd, size))
	}
	ver := v.super.Version
	start := int64(v.super.BlockSize())
	inOrder, prevEnd := true, start
	var total int64
	var rec []byte
	walkErr := v.format.Walk(io.NewSectionReader(v.idxOS, 0, idxEnd/size*size), func(e idx.Entry) error {
		rows++
		if e.Offset == 0 {
			return nil // a delete with no record (old upstream)
		}
		recSize := recordSize(e.Size)
		end := e.Offset + needle.ActualSize(recSize, ver)
		if e.Offset < start || end > datEnd {
			problems = append(problems, fmt.Errorf("volume %d: needle %d at %d..%d lies outside the data (%d..%d)", v.ID, e.Key, e.Offset, end, start, datEnd))
			return nil
		}
		if e.Offset < prevEnd {
			inOrder = false
		}
		prevEnd = max(prevEnd, end)
		total += end - e.Offset
		if full {
			problems = append(problems, v.checkRecord(e, recSize, &rec)...)
		}
		return nil
	})
	if walkErr != nil {
		problems = append(problems, fmt.Errorf("volume %d: read index: %w", v.ID, walkErr))
	}
	if !inOrder {
		// rows out of append order (an index rewritten by key): sort the
		// records to tell real overlaps from reordering
		type extent struct{ off, end int64 }
		var extents []extent
		walkErr := v.format.Walk(io.NewSectionReader(v.idxOS, 0, idxEnd/size*size), func(e idx.Entry) error {
			if e.Offset != 0 {
				extents = append(extents, extent{e.Offset, e.Offset + needle.ActualSize(recordSize(e.Size), ver)})
			}
			return nil
		})
		if walkErr != nil {
			problems = append(problems, walkErr)
		}
		sort.Slice(extents, func(i, j int) bool { return extents[i].off < extents[j].off })
		for i := 1; i < len(extents); i++ {
			if extents[i].off < extents[i-1].end {
				problems = append(problems, fmt.Errorf("volume %d: records at %d and %d overlap", v.ID, extents[i-1].off, extents[i].off))
			}
		}
	}
	if full && start+total != datEnd {
		problems = append(problems, fmt.Errorf("volume %d: data file size %d does not match the %d bytes of the %d records its index names", v.ID, datEnd, start+total, rows))
	}
	return rows, problems
}

// checkRecord reads the record row e names and checks it.
func (v *Volume) checkRecord(e idx.Entry, recSize int32, rec *[]byte) []error {
	*rec = growTo(*rec, int(needle.ActualSize(recSize, v.super.Version)))
	if err := v.readFull(*rec, e.Offset); err != nil {
		return []error{fmt.Errorf("volume %d: failed to read needle %d at %d: %w", v.ID, e.Key, e.Offset, err)}
	}
	var n needle.Needle
	if err := n.Decode(*rec, recSize, v.super.Version); err != nil {
		return []error{fmt.Errorf("volume %d: needle %d at %d: %w", v.ID, e.Key, e.Offset, err)}
	}
	if n.ID != e.Key {
		return []error{fmt.Errorf("volume %d: index key %d does not match needle's id %d at %d", v.ID, e.Key, n.ID, e.Offset)}
	}
	return nil
}
