package needle

import "fmt"

// WalkRecords visits the records of a .dat laid end to end from from up to
// end (version v). For each it reads the header and asks visit whether to
// load the whole record; loaded records are read into buf (grown as needed)
// and passed to fn, valid during that call only. read must fill p from off
// or fail. A visit or fn error stops the walk and is returned as is; a
// header that does not fit before end stops it with an error. The walk
// returns buf for reuse.
func WalkRecords(read func(p []byte, off int64) error, v Version, from, end int64, buf []byte,
	visit func(off int64, h Header) (load bool, err error), fn func(off int64, rec []byte) error) ([]byte, error) {
	var hb [HeaderSize]byte
	for off := from; off+HeaderSize <= end; {
		if err := read(hb[:], off); err != nil {
			return buf, fmt.Errorf("read needle header at %d: %w", off, err)
		}
		h, _ := ParseHeader(hb[:])
		if h.Size < 0 {
			return buf, fmt.Errorf("needle at %d has negative size %d", off, h.Size)
		}
		total := ActualSize(h.Size, v)
		if off+total > end {
			return buf, fmt.Errorf("needle at %d runs past the end %d", off, end)
		}
		load, err := visit(off, h)
		if err != nil {
			return buf, err
		}
		if load {
			if int64(cap(buf)) < total {
				buf = make([]byte, total)
			}
			rec := buf[:total]
			if err := read(rec, off); err != nil {
				return buf, fmt.Errorf("read needle at %d: %w", off, err)
			}
			if err := fn(off, rec); err != nil {
				return buf, err
			}
		}
		off += total
	}
	return buf, nil
}
