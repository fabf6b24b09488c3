package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/valyala/fasthttp"
)

// Latencies are recorded in microseconds, from 1 µs to 2 minutes, with three
// significant digits (HdrHistogram's usual precision: 0.1% error).
const (
	histMin    = 1
	histMax    = int64(2 * time.Minute / time.Microsecond)
	histDigits = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histDigits) }

// opFunc performs one request on behalf of w and returns the payload bytes
// moved (request or response body). A non-nil error counts as a failed
// request; the load goes on.
type opFunc func(w *worker) (int, error)

// load is the traffic shape of one workload run.
type load struct {
	clients  int
	duration time.Duration
	// maxOps stops the run after this many requests; 0 means no limit.
	maxOps int64
	// rate > 0 runs open loop: requests are due at fixed intervals and each
	// latency is measured from when the request was due, not from when a
	// worker got round to sending it, so a stalled server cannot hide its
	// stall by slowing the generator down (coordinated omission).
	rate float64
	op   opFunc
}

// worker is one client goroutine's reusable state: nothing in the request
// loop allocates once these are warm.
type worker struct {
	id   int
	rng  *rand.Rand
	req  *fasthttp.Request
	resp *fasthttp.Response
	uri  []byte
	sink countingDiscard
	hist *hdrhistogram.Histogram
	// written collects the keys this worker stored during the run.
	written []uint64
	copyBuf []byte
	zipf    *rand.Zipf
	zipfN   int
}

// countingDiscard is an io.Writer that drops what it is given and counts it.
type countingDiscard struct{ n int64 }

func (c *countingDiscard) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countingDiscard)(nil)

// runResult is what one run of a workload measured on the generator side.
type runResult struct {
	ops, errors, bytes int64
	elapsed            time.Duration
	hist               *hdrhistogram.Histogram
	firstErr           string
	written            []uint64
}

// run drives l and returns the merged measurements.
func (l load) run() runResult {
	workers := make([]*worker, l.clients)
	for i := range workers {
		workers[i] = &worker{
			id:   i,
			rng:  rand.New(rand.NewPCG(uint64(i)+1, uint64(time.Now().UnixNano()))),
			req:  fasthttp.AcquireRequest(),
			resp: fasthttp.AcquireResponse(),
			uri:  make([]byte, 0, 64),
			hist: newHist(),
		}
	}
	defer func() {
		for _, w := range workers {
			fasthttp.ReleaseRequest(w.req)
			fasthttp.ReleaseResponse(w.resp)
		}
	}()

	var (
		ops, errs, bytes atomic.Int64
		errOnce          sync.Once
		firstErr         string
		issued           atomic.Int64
		wg               sync.WaitGroup
	)
	record := func(w *worker, n int, err error, lat time.Duration) {
		us := lat.Microseconds()
		if us < histMin {
			us = histMin
		}
		if us > histMax {
			us = histMax
		}
		_ = w.hist.RecordValue(us)
		if err != nil {
			errs.Add(1)
			errOnce.Do(func() { firstErr = err.Error() })
			return
		}
		ops.Add(1)
		bytes.Add(int64(n))
	}
	// claim reserves one request of the maxOps budget.
	claim := func() bool { return l.maxOps <= 0 || issued.Add(1) <= l.maxOps }

	start := time.Now()
	deadline := start.Add(l.duration)
	if l.rate <= 0 {
		for _, w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) && claim() {
					t0 := time.Now()
					n, err := l.op(w)
					record(w, n, err, time.Since(t0))
				}
			}()
		}
		wg.Wait()
	} else {
		due := make(chan time.Time, 1<<16)
		for _, w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for at := range due {
					n, err := l.op(w)
					record(w, n, err, time.Since(at))
				}
			}()
		}
		interval := time.Duration(float64(time.Second) / l.rate)
		var sent int64
		for {
			now := time.Now()
			if !now.Before(deadline) {
				break
			}
			for next := start.Add(time.Duration(sent) * interval); !next.After(now); next = start.Add(time.Duration(sent) * interval) {
				if !claim() {
					goto done
				}
				due <- next // blocks while every worker is busy; the latency still counts from next
				sent++
			}
			time.Sleep(100 * time.Microsecond)
		}
	done:
		close(due)
		wg.Wait()
	}
	res := runResult{
		ops:      ops.Load(),
		errors:   errs.Load(),
		bytes:    bytes.Load(),
		elapsed:  time.Since(start),
		hist:     newHist(),
		firstErr: firstErr,
	}
	for _, w := range workers {
		res.hist.Merge(w.hist)
		res.written = append(res.written, w.written...)
	}
	return res
}

// errStatus reports an unexpected HTTP status.
type errStatus struct {
	want, got int
	what      string
}

func (e errStatus) Error() string {
	return fmt.Sprintf("%s: status %d, want %d", e.what, e.got, e.want)
}

var errShortBody = errors.New("response body length differs from the stored needle")
