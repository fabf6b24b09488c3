package mmapidx

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// readIdx reads the first usable bytes of an .idx (a multiple of the entry
// size) into parallel arrays, in file order, streaming in chunks.
func readIdx(r io.ReaderAt, usable int64, width int) (keys, vals []uint64, hi []byte, err error) {
	es := entrySize(width)
	n := int(usable / int64(es))
	keys = make([]uint64, n)
	vals = make([]uint64, n)
	if width == Offset5 {
		hi = make([]byte, n)
	}
	const chunk = 1 << 16 // entries per read
	buf := make([]byte, es*min(n, chunk))
	for i := 0; i < n; {
		c := min(n-i, chunk)
		b := buf[:c*es]
		if _, err := r.ReadAt(b, int64(i)*int64(es)); err != nil {
			return nil, nil, nil, fmt.Errorf("mmapidx: read .idx: %w", err)
		}
		for j := 0; j < c; j++ {
			k, off, size := decodeIdxEntry(b[j*es:], width)
			keys[i+j] = k
			vals[i+j] = packVal(off, size)
			if hi != nil {
				hi[i+j] = byte(off >> 32)
			}
		}
		i += c
	}
	return keys, vals, hi, nil
}

// sortEntries sorts the parallel arrays by key, stably, so that entries of
// one key stay in file order. Already sorted input (the common .idx of
// increasing needle ids) is returned as is; otherwise an LSD radix sort on
// bytes runs one pass per key byte that is not the same in all keys
// (typically 3 to 5), with scratch arrays as large as the input.
func sortEntries(keys, vals []uint64, hi []byte) ([]uint64, []uint64, []byte) {
	n := len(keys)
	sorted := true
	for i := 1; i < n; i++ {
		if keys[i-1] > keys[i] {
			sorted = false
			break
		}
	}
	if sorted {
		return keys, vals, hi
	}
	var counts [8][256]int
	for _, k := range keys {
		for d := range 8 {
			counts[d][byte(k>>(8*d))]++
		}
	}
	tk := make([]uint64, n)
	tv := make([]uint64, n)
	var th []byte
	if hi != nil {
		th = make([]byte, n)
	}
	for d := range 8 {
		c := &counts[d]
		shift := uint(8 * d)
		if c[byte(keys[0]>>shift)] == n {
			continue // every key has the same byte d
		}
		var pos [256]int
		sum := 0
		for b := range 256 {
			pos[b] = sum
			sum += c[b]
		}
		if hi == nil {
			for i, k := range keys {
				b := byte(k >> shift)
				p := pos[b]
				pos[b]++
				tk[p], tv[p] = k, vals[i]
			}
		} else {
			for i, k := range keys {
				b := byte(k >> shift)
				p := pos[b]
				pos[b]++
				tk[p], tv[p], th[p] = k, vals[i], hi[i]
			}
		}
		keys, tk = tk, keys
		vals, tv = tv, vals
		hi, th = th, hi
	}
	return keys, vals, hi
}

// replaySorted applies upstream's .idx replay to entries sorted by key with
// each key's entries in file order, compacting the final state of every
// key that ends up in the map into the front of the arrays. It returns the
// number of those keys and the metrics of the replay. Replaying key by key
// gives the same counters as replaying in file order: each entry's effect
// depends only on the earlier entries of its own key.
func replaySorted(keys, vals []uint64, hi []byte) (n int, m Metrics) {
	if len(keys) > 0 {
		m.MaxFileKey = keys[len(keys)-1]
	}
	for i := 0; i < len(keys); {
		k := keys[i]
		var (
			present bool
			curVal  uint64 // packVal of the entry in the map
			curHi   byte
			curSize int32
		)
		for ; i < len(keys) && keys[i] == k; i++ {
			var h byte
			if hi != nil {
				h = hi[i]
			}
			off, size := unpackVal(vals[i], h)
			if off != 0 && !isDeleted(size) {
				m.FileCount++
				m.FileBytes += uint64(size)
				// A present entry always has a non-zero offset.
				if present && isValid(curSize) {
					m.DeletionCount++
					m.DeletionBytes += uint64(curSize)
				}
				present, curVal, curHi, curSize = true, vals[i], h, size
				continue
			}
			if present && !isDeleted(curSize) {
				if curSize > 0 {
					m.DeletionCount++
					m.DeletionBytes += uint64(curSize)
				}
				curSize = deletedSize(curSize)
				curVal = uint64(uint32(curVal)) | uint64(uint32(curSize))<<32
			}
		}
		if present {
			keys[n], vals[n] = k, curVal
			if hi != nil {
				hi[n] = curHi
			}
			n++
		}
	}
	return n, m
}

// regionWriter buffers one region of a .wvx written at a fixed file offset
// and keeps the region's CRC.
type regionWriter struct {
	w   io.WriterAt
	off int64
	buf []byte
	crc uint32
	err error
}

const regionBuf = 256 << 10

func (r *regionWriter) flush() {
	if len(r.buf) == 0 || r.err != nil {
		return
	}
	r.crc = crc32.Update(r.crc, castagnoli, r.buf)
	_, r.err = r.w.WriteAt(r.buf, r.off)
	r.off += int64(len(r.buf))
	r.buf = r.buf[:0]
}

func (r *regionWriter) putU64(v uint64) {
	if len(r.buf)+8 > cap(r.buf) {
		r.flush()
	}
	r.buf = binary.LittleEndian.AppendUint64(r.buf, v)
}

func (r *regionWriter) putU8(v byte) {
	if len(r.buf)+1 > cap(r.buf) {
		r.flush()
	}
	r.buf = append(r.buf, v)
}

// wvxWriter writes a .wvx image whose header (but for the region CRCs,
// which it computes) is known in advance, entries in ascending key order.
type wvxWriter struct {
	w              io.WriterAt
	hdr            header
	keys, vals, hi regionWriter
	n              uint64
}

func newWVXWriter(w io.WriterAt, h header) *wvxWriter {
	x := &wvxWriter{w: w, hdr: h}
	n := int(min(h.count, regionBuf/8)) // entries per buffer
	x.keys = regionWriter{w: w, off: int64(h.keysOff()), buf: make([]byte, 0, 8*n)}
	x.vals = regionWriter{w: w, off: int64(h.valsOff()), buf: make([]byte, 0, 8*n)}
	if h.width == Offset5 {
		x.hi = regionWriter{w: w, off: int64(h.hiOff()), buf: make([]byte, 0, n)}
	}
	return x
}

func (x *wvxWriter) add(key, val uint64, hi byte) {
	x.keys.putU64(key)
	x.vals.putU64(val)
	if x.hdr.width == Offset5 {
		x.hi.putU8(hi)
	}
	x.n++
}

// finish flushes the regions and writes the header.
func (x *wvxWriter) finish() error {
	x.keys.flush()
	x.vals.flush()
	x.hi.flush()
	for _, err := range []error{x.keys.err, x.vals.err, x.hi.err} {
		if err != nil {
			return err
		}
	}
	if x.n != x.hdr.count {
		return fmt.Errorf("mmapidx: wrote %d entries, header says %d", x.n, x.hdr.count)
	}
	x.hdr.keysCRC, x.hdr.valsCRC, x.hdr.hiCRC = x.keys.crc, x.vals.crc, x.hi.crc
	var b [headerSize]byte
	x.hdr.encode(b[:])
	_, err := x.w.WriteAt(b[:], 0)
	return err
}

// memFile is an in-memory io.WriterAt over a buffer of the final size.
type memFile []byte

func (m memFile) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(m)) || int64(len(p)) > int64(len(m))-off {
		return 0, fmt.Errorf("mmapidx: write of %d bytes at %d past image of %d", len(p), off, len(m))
	}
	return copy(m[off:], p), nil
}
