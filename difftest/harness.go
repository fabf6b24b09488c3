package difftest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config says which binaries to compare and where to keep their files.
type Config struct {
	// Weed is upstream's binary for this offset width (bin/weed for 4,
	// bin/weed-5b for 5); Master is the master binary (bin/weed).
	Weed, Master, Weedvol string
	Width                 int
	Root                  string // scratch directory
	Seed                  uint64 // seeds the corpus
}

// Harness is a running comparison: upstream and weedvol serving copies of
// the same corpus.
type Harness struct {
	Up, Wv *Side
	Corpus *Corpus
	cfg    Config
	Res    Results
}

// Results tallies the requests compared.
type Results struct {
	Passed, Failed int
	// Known counts requests whose answers differ in a listed, deliberate
	// way (knownDivergences) and that passed weedvol's own check.
	Known    map[string]int
	Failures []Failure // the first maxFailures
}

// Failure is one request answered differently.
type Failure struct {
	Phase string
	Req   *Request
	Diffs []Diff
}

func (f Failure) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s %s  (%s)\n", f.Phase, f.Req.Method, f.Req.Target, f.Req.Label)
	for _, h := range f.Req.Header {
		fmt.Fprintf(&b, "      > %s: %s\n", h[0], h[1])
	}
	for _, d := range f.Diffs {
		fmt.Fprintf(&b, "    %s\n", d)
	}
	return b.String()
}

const maxFailures = 200

// Summary is the one-line result.
func (r *Results) Summary() string {
	known := 0
	for _, n := range r.Known {
		known += n
	}
	return fmt.Sprintf("%d passed, %d failed (%d of the passed differ as listed in knownDivergences)", r.Passed, r.Failed, known)
}

func (r *Results) add(phase string, req *Request, diffs []Diff, known string) {
	switch {
	case len(diffs) == 0:
		r.Passed++
		if known != "" {
			if r.Known == nil {
				r.Known = map[string]int{}
			}
			r.Known[known]++
		}
	default:
		r.Failed++
		if len(r.Failures) < maxFailures {
			r.Failures = append(r.Failures, Failure{phase, req, diffs})
		}
	}
}

// Start writes the corpus with upstream, copies it and starts both sides.
func Start(cfg Config) (*Harness, error) {
	h := &Harness{cfg: cfg}
	ok := false
	defer func() {
		if !ok {
			h.Stop()
		}
	}()
	var err error
	if h.Up, err = newSide("upstream", cfg.Master, cfg.Weed, cfg.Root); err != nil {
		return nil, err
	}
	if err := createV2Volume(h.Up.Dir, cfg.Width); err != nil {
		return nil, err
	}
	if err := h.Up.startVolume(); err != nil {
		return nil, err
	}
	if h.Corpus, err = writeCorpus(h.Up.Master.Addr(), h.Up.Addr(), cfg.Seed); err != nil {
		return nil, fmt.Errorf("writing the corpus with upstream: %w", err)
	}
	if err := h.Up.stopVolume(); err != nil {
		return nil, err
	}
	// weedvol replaces the upstream build of the same offset width
	if h.Wv, err = newSide("weedvol", cfg.Master, cfg.Weedvol, cfg.Root, "-index.offsetSize="+strconv.Itoa(cfg.Width)); err != nil {
		return nil, err
	}
	if err := copyDir(h.Up.Dir, h.Wv.Dir); err != nil {
		return nil, err
	}
	for _, s := range []*Side{h.Up, h.Wv} {
		if err := s.startVolume(); err != nil {
			return nil, err
		}
		if err := waitVolumesKnown(s.Master.Addr(), h.Corpus.Vids, 60*time.Second); err != nil {
			return nil, err
		}
	}
	h.learnValidators(h.Corpus.Entries)
	ok = true
	return h, nil
}

// learnValidators records upstream's ETag and Last-Modified of entries, for
// conditional requests.
func (h *Harness) learnValidators(entries []*Entry) {
	for _, e := range entries {
		req := &Request{Method: "HEAD", Target: "/" + e.Fid}
		r := h.Up.raw.Do(req.Method, req.bytes(h.Up.Addr()))
		if r.Err == nil {
			e.ETag, e.LastModified = r.Header.Get("Etag"), r.Header.Get("Last-Modified")
		}
	}
}

// Stop stops every process.
func (h *Harness) Stop() {
	for _, s := range []*Side{h.Up, h.Wv} {
		if s != nil {
			s.Stop()
		}
	}
}

// Do sends req to both sides, upstream first, and records the comparison.
func (h *Harness) Do(phase string, req *Request) (up, wv Response) {
	up = h.Up.raw.Do(req.Method, req.bytes(h.Up.Addr()))
	wv = h.Wv.raw.Do(req.Method, req.bytes(h.Wv.Addr()))
	diffs := compareResponses(withoutSelf(up, h.Up.Addr()), withoutSelf(wv, h.Wv.Addr()))
	diffs, known := h.applyKnown(req, up, wv, diffs)
	h.Res.add(phase, req, diffs, known)
	return up, wv
}

// RunReads sends n seeded random reads.
func (h *Harness) RunReads(phase string, seed uint64, n int) {
	g := newGenerator(seed, h.Corpus)
	for i := 0; i < n; i++ {
		h.Do(phase, g.Read())
	}
}

// RunAll is a whole comparison for one seed: reads, gRPC reads, writes
// and deletes, then reads that also see what the writes made.
func (h *Harness) RunAll(seed uint64, reads int) {
	h.RunReads("read", seed, reads/2)
	h.RunGRPC("grpc", seed, len(h.Corpus.Entries))
	h.RunRaw("raw", seed)
	h.RunWrites("write", seed, max(reads/4, 20))
	h.RunReads("read again", seed*7+1, reads-reads/2)
}
