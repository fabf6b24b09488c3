package mmapidx

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/bits"
	"math/rand/v2"
	"os"
	"sync/atomic"
)

// readerShards is the number of reader counters of a mapping. Readers pick
// one at random so that parallel Gets rarely share a cache line.
const readerShards = 32

type readerCount struct {
	n atomic.Int64
	_ [56]byte // one cache line each
}

// mapping is one immutable .wvx image: mmap'd, or on the heap when the file
// could not be written or mapped.
//
// INVARIANT: data is never written after newMapping returns.
// INVARIANT: data is unmapped only once the mapping is no longer published
// in Index.view and the sum of readers is zero (see Index.acquire).
type mapping struct {
	data   []byte
	hdr    header
	n      int
	keys   []byte // n × u64 LE
	vals   []byte // n × u64 LE
	hi     []byte // n × u8, nil unless width is 5
	mapped bool   // data came from mapFile
	onDisk bool   // data is the content of the .wvx file

	// readers count the readers inside m, when m is mapped (nil for a heap
	// image, which the garbage collector keeps alive for as long as a
	// reader holds it: a few KB less per small index).
	readers *[readerShards]readerCount
}

// heapReaders are the counters readers of heap images take; nothing waits
// on them.
var heapReaders [readerShards]readerCount

// emptyMapping is the base of an Index after Close.
var emptyMapping = &mapping{}

// newMapping checks a whole .wvx image against its header and slices its
// regions. width is the offset width the caller expects.
func newMapping(data []byte, mapped bool, width int) (*mapping, error) {
	h, err := decodeHeader(data)
	if err != nil {
		return nil, err
	}
	if h.width != width {
		return nil, fmt.Errorf("%w: offset width %d, want %d", errCorrupt, h.width, width)
	}
	if uint64(len(data)) != h.fileSize() {
		return nil, fmt.Errorf("%w: %d bytes for %d entries, want %d", errCorrupt, len(data), h.count, h.fileSize())
	}
	m := &mapping{data: data, hdr: h, n: int(h.count), mapped: mapped}
	if mapped {
		m.readers = new([readerShards]readerCount)
	}
	m.keys = data[h.keysOff():h.valsOff()]
	m.vals = data[h.valsOff():h.hiOff()]
	if width == Offset5 {
		m.hi = data[h.hiOff():h.fileSize()]
	}
	return m, nil
}

// openMapping maps the .wvx at path if its header is sound, it holds width
// offsets, and it covers a prefix of idx no longer than usable whose windows
// still match. The work is O(1) in the number of entries.
func openMapping(path string, width int, idx *os.File, usable int64) (*mapping, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size < headerSize || size != int64(int(size)) {
		return nil, fmt.Errorf("%w: file is %d bytes", errCorrupt, size)
	}
	var buf [idxWindow]byte
	if _, err := f.ReadAt(buf[:headerSize], 0); err != nil {
		return nil, err
	}
	h, err := decodeHeader(buf[:headerSize])
	if err != nil {
		return nil, err
	}
	if h.width != width {
		return nil, fmt.Errorf("stale: offset width %d, want %d", h.width, width)
	}
	if uint64(size) != h.fileSize() {
		return nil, fmt.Errorf("%w: %d bytes for %d entries, want %d", errCorrupt, size, h.count, h.fileSize())
	}
	if h.covered > uint64(usable) {
		return nil, fmt.Errorf("stale: covers %d .idx bytes, .idx has %d", h.covered, usable)
	}
	head, tail, err := idxWindows(idx, int64(h.covered), buf[:])
	if err != nil {
		return nil, err
	}
	if head != h.idxHeadCRC || tail != h.idxTailCRC {
		return nil, fmt.Errorf("stale: .idx prefix of %d bytes changed", h.covered)
	}
	data, mapped, err := mapFile(f, int(size))
	if err != nil {
		return nil, err
	}
	m, err := newMapping(data, mapped, width)
	if err != nil {
		if mapped {
			unmapFile(data)
		}
		return nil, err
	}
	if mapped {
		adviseRandom(data)
	}
	m.onDisk = true
	return m, nil
}

// release unmaps m. Only the last user may call it.
func (m *mapping) release() error {
	if !m.mapped || m.data == nil {
		return nil
	}
	err := unmapFile(m.data)
	m.data, m.keys, m.vals, m.hi = nil, nil, nil, nil
	return err
}

// active reports whether a reader may still be using m.
func (m *mapping) active() bool {
	if m.readers == nil {
		return false
	}
	var sum int64
	for i := range m.readers {
		sum += m.readers[i].n.Load()
	}
	return sum != 0
}

// reader returns a counter for one reader to hold m with.
func (m *mapping) reader() *atomic.Int64 {
	r := m.readers
	if r == nil {
		r = &heapReaders
	}
	return &r[rand.Uint32()%readerShards].n
}

func (m *mapping) key(i int) uint64 {
	return binary.LittleEndian.Uint64(m.keys[i*keyRecLen:])
}

// entry returns the offset and size of the i-th entry.
func (m *mapping) entry(i int) (offset uint64, size int32) {
	var hi byte
	if m.hi != nil {
		hi = m.hi[i]
	}
	return unpackVal(binary.LittleEndian.Uint64(m.vals[i*valRecLen:]), hi)
}

// linearBelow is the range length under which find scans instead of probing.
const linearBelow = 8

// find returns the index of key, or -1. It interpolates between the keys at
// the ends of the remaining range, which takes a handful of probes on the
// near-uniform keys volumes hold, and bisects after any probe that failed to
// halve the range, so it never takes more than about 2·log2(n) probes. On a
// corrupt (unsorted) key region it returns a wrong answer, never an index
// out of range.
func (m *mapping) find(key uint64) int {
	lo, hi := 0, m.n-1
	if hi < 0 {
		return -1
	}
	for hi-lo >= linearBelow {
		kl, kh := m.key(lo), m.key(hi)
		if key < kl || key > kh {
			return -1
		}
		span := hi - lo
		// pos = lo + (key-kl)*(hi-lo)/(kh-kl), in 128-bit arithmetic;
		// the product is below (kh-kl)<<64 so Div64 cannot overflow.
		pos := lo
		if d := kh - kl; d != 0 {
			ph, pl := bits.Mul64(key-kl, uint64(span))
			q, _ := bits.Div64(ph, pl, d)
			pos = lo + int(q)
		}
		k := m.key(pos)
		switch {
		case k == key:
			return pos
		case k < key:
			lo = pos + 1
		default:
			hi = pos - 1
		}
		if hi-lo > span/2 {
			mid := int(uint(lo+hi) >> 1)
			k := m.key(mid)
			switch {
			case k == key:
				return mid
			case k < key:
				lo = mid + 1
			default:
				hi = mid - 1
			}
		}
	}
	for i := lo; i <= hi; i++ {
		if k := m.key(i); k >= key {
			if k == key {
				return i
			}
			return -1
		}
	}
	return -1
}

// verify checks the region CRCs and that keys ascend strictly: an O(n)
// scan of the whole file.
func (m *mapping) verify() error {
	if m.mapped {
		adviseSequential(m.data)
		defer adviseRandom(m.data)
	}
	if c := crc32.Checksum(m.keys, castagnoli); c != m.hdr.keysCRC {
		return fmt.Errorf("%w: keys crc %08x, want %08x", errCorrupt, c, m.hdr.keysCRC)
	}
	if c := crc32.Checksum(m.vals, castagnoli); c != m.hdr.valsCRC {
		return fmt.Errorf("%w: vals crc %08x, want %08x", errCorrupt, c, m.hdr.valsCRC)
	}
	if c := crc32.Checksum(m.hi, castagnoli); c != m.hdr.hiCRC {
		return fmt.Errorf("%w: hi crc %08x, want %08x", errCorrupt, c, m.hdr.hiCRC)
	}
	for i := 1; i < m.n; i++ {
		if m.key(i-1) >= m.key(i) {
			return fmt.Errorf("%w: keys not ascending at entry %d", errCorrupt, i)
		}
	}
	return nil
}
