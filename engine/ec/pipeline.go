package ec

import (
	"context"
	"os"
	"sync"
	"unsafe"

	"github.com/klauspost/reedsolomon"
)

// chunk is one step of a pass over a volume's shards: n bytes at shardOff
// in every shard. For data shard k those bytes are .dat bytes
// [datOff + k*stride, +n).
type chunk struct {
	datOff, stride, shardOff, n int64
}

// plan lists the chunks of at most c bytes covering shards of shardSize
// bytes under g, in shard order. Chunks never cross a block boundary.
func (g geometry) plan(shardSize, c int64) []chunk {
	if shardSize <= 0 || c <= 0 {
		return nil
	}
	d := int64(g.d)
	var out []chunk
	var so, rs int64
	row := func(bs int64) {
		for pos := int64(0); pos < bs && so+pos < shardSize; pos += c {
			n := min(c, bs-pos, shardSize-(so+pos))
			out = append(out, chunk{datOff: rs + pos, stride: bs, shardOff: so + pos, n: n})
		}
		so += bs
		rs += d * bs
	}
	for r := int64(0); r < g.nLarge && so < shardSize; r++ {
		row(g.large)
	}
	for so < shardSize {
		row(g.small)
	}
	return out
}

// bufSet is one set of per-shard buffers moving through a pass. Ownership:
// exactly one stage holds a set at a time (it is handed over by channel),
// so stages never share a buffer; the pass allocates every set once and
// reuses it for every chunk.
type bufSet struct {
	ch   chunk
	bufs [][]byte // len total, each cap c; sliced to ch.n by the pass
	view [][]byte // scratch the compute stage may reslice (reconstruction)
}

// pass is a three-stage pipeline over a plan: fill (read inputs), compute
// (Reed-Solomon), drain (write outputs). Each stage handles chunks in plan
// order, so drain may append to files sequentially; up to `sets` chunks are
// in flight, one per stage. Stages parallelize across shards internally.
type pass struct {
	total   int
	c       int64
	sets    int
	fill    func(ctx context.Context, s *bufSet) error
	compute func(s *bufSet) error
	drain   func(s *bufSet) error
	// afterDrain, when set, runs after each chunk is drained; an error
	// fails the pass (test hook for injected failures).
	afterDrain func(seq int) error
}

// run executes the pass. Peak memory is sets*total*c bytes of buffers. It
// returns the first stage error, or ctx's error when cancelled first.
func (p pass) run(ctx context.Context, plan []chunk) error {
	if len(plan) == 0 {
		return ctx.Err()
	}
	sets := max(p.sets, 1)
	free := make(chan *bufSet, sets)
	filled := make(chan *bufSet, sets)
	computed := make(chan *bufSet, sets)
	for i := 0; i < sets; i++ {
		s := &bufSet{bufs: make([][]byte, p.total), view: make([][]byte, p.total)}
		backing := getBacking(int64(p.total) * p.c)
		defer putBacking(backing)
		for k := range s.bufs {
			s.bufs[k] = backing[int64(k)*p.c : int64(k+1)*p.c : int64(k+1)*p.c]
		}
		free <- s
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		once     sync.Once
		firstErr error
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(filled)
		for _, ch := range plan {
			var s *bufSet
			select {
			case s = <-free:
			case <-cctx.Done():
				return
			}
			s.ch = ch
			for k := range s.bufs {
				s.bufs[k] = s.bufs[k][:ch.n]
			}
			if err := p.fill(cctx, s); err != nil {
				fail(err)
				return
			}
			filled <- s
		}
	}()
	go func() {
		defer wg.Done()
		defer close(computed)
		for s := range filled {
			if cctx.Err() == nil && p.compute != nil {
				if err := p.compute(s); err != nil {
					fail(err)
				}
			}
			computed <- s
		}
	}()
	seq := 0
	for s := range computed {
		if cctx.Err() == nil {
			if err := p.drain(s); err != nil {
				fail(err)
			} else if p.afterDrain != nil {
				if err := p.afterDrain(seq); err != nil {
					fail(err)
				}
			}
			seq++
		}
		free <- s
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if seq != len(plan) {
		if err := ctx.Err(); err != nil {
			return err
		}
		return context.Canceled
	}
	return nil
}

// backings recycles pass buffers between calls (a fresh 28 MiB set costs
// page faults and zeroing on every encode). Buffers are handed back only
// after every stage of the pass has stopped, so no stage still holds one.
// The pool is emptied by garbage collections, so idle memory is returned.
var backings sync.Pool

// getBacking returns n bytes starting at a directAlign boundary (direct
// shard writes need aligned buffers; see tempShards.write).
func getBacking(n int64) []byte {
	if b, ok := backings.Get().(*[]byte); ok && int64(cap(*b)) >= n {
		return (*b)[:n]
	}
	b := make([]byte, n+directAlign)
	skip := (directAlign - int(uintptr(unsafe.Pointer(unsafe.SliceData(b)))%directAlign)) % directAlign
	return b[skip : int64(skip)+n : int64(skip)+n]
}

func putBacking(b []byte) { backings.Put(&b) }

// parallel runs fn(i) for every i in ids concurrently and returns the first
// error (by position in ids).
func parallel(ids []int, fn func(i int) error) error {
	if len(ids) == 1 {
		return fn(ids[0])
	}
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	wg.Add(len(ids))
	for j, id := range ids {
		go func() {
			defer wg.Done()
			errs[j] = fn(id)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func seqIDs(n int) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = i
	}
	return ids
}

// readInputs is the fill stage of a pass over existing shards: each input
// shard's chunk read into its buffer of the set.
func readInputs(files map[int]*os.File, inputs []int) func(context.Context, *bufSet) error {
	return func(_ context.Context, s *bufSet) error {
		return parallel(inputs, func(id int) error {
			return readFull(files[id], id, s.bufs[id], s.ch.shardOff)
		})
	}
}

// reconstructSet rebuilds the required shards of a set from its inputs:
// s.view points at the input buffers, at empty buffers (of the set's
// capacity) for the required shards and at nothing for the rest, and the
// required ones are reconstructed into their buffers.
func reconstructSet(enc reedsolomon.Encoder, s *bufSet, isInput, required []bool) error {
	for i := range s.view {
		switch {
		case isInput[i]:
			s.view[i] = s.bufs[i]
		case required[i]:
			s.view[i] = s.bufs[i][:0]
		default:
			s.view[i] = nil
		}
	}
	return enc.ReconstructSome(s.view, required)
}
