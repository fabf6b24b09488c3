package main

import (
	"bytes"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// boundName is the bare fasthttp server's row name.
const boundName = "bound"

// Markers around the generated part of PERF.md.
const (
	beginMarker = "<!-- bench:begin -->"
	endMarker   = "<!-- bench:end -->"
)

// agg is one contender's measurements of one workload, summed over rounds.
type agg struct {
	ops, errors, bytes int64
	elapsed            time.Duration
	hist               *hdrhistogram.Histogram
	serverCPU, genCPU  time.Duration
	notes              []string
	failed             string
}

func (a *agg) rps() float64 {
	if a == nil || a.elapsed <= 0 {
		return 0
	}
	return float64(a.ops) / a.elapsed.Seconds()
}

func (a *agg) mbps() float64 {
	if a == nil || a.elapsed <= 0 {
		return 0
	}
	return float64(a.bytes) / a.elapsed.Seconds() / (1 << 20)
}

// quantile is the latency at q percent, in microseconds; 0 without data.
func (a *agg) quantile(q float64) int64 {
	if a == nil || a.hist == nil || a.hist.TotalCount() == 0 {
		return 0
	}
	return a.hist.ValueAtQuantile(q)
}

// startAgg holds the start-ups of one contender on one fixture size.
type startAgg struct{ first, again []startup }

// report collects every measurement of a run and renders it.
type report struct {
	cfg               config
	started, finished time.Time
	order             []string
	workloads         map[string]workload
	runs              map[string]map[string]*agg // workload id -> contender -> agg
	starts            map[int]map[string]*startAgg
	notes             []string
	vacuum            *vacReport // the vacuum workload, when it ran
	ec                *ecReport  // the ec workload, when it ran
}

func newReport(cfg config) *report {
	return &report{
		cfg:       cfg,
		started:   time.Now(),
		workloads: map[string]workload{},
		runs:      map[string]map[string]*agg{},
		starts:    map[int]map[string]*startAgg{},
	}
}

func (r *report) get(contender string, w workload) *agg {
	id := w.id()
	m, ok := r.runs[id]
	if !ok {
		m = map[string]*agg{}
		r.runs[id] = m
		r.workloads[id] = w
		r.order = append(r.order, id)
	}
	a, ok := m[contender]
	if !ok {
		a = &agg{hist: newHist()}
		m[contender] = a
	}
	return a
}

func (r *report) add(contender string, w workload, res runResult, serverCPU, genCPU time.Duration, note string) {
	a := r.get(contender, w)
	a.ops += res.ops
	a.errors += res.errors
	a.bytes += res.bytes
	a.elapsed += res.elapsed
	a.hist.Merge(res.hist)
	a.serverCPU += serverCPU
	a.genCPU += genCPU
	if res.firstErr != "" {
		note = strings.TrimSpace(note + " first error: " + res.firstErr)
	}
	if note != "" && !slices.Contains(a.notes, note) {
		a.notes = append(a.notes, note)
	}
}

func (r *report) fail(contender string, w workload, err error) {
	r.get(contender, w).failed = err.Error()
}

func (r *report) addStartup(contender string, n int, first, again startup) {
	m, ok := r.starts[n]
	if !ok {
		m = map[string]*startAgg{}
		r.starts[n] = m
	}
	s, ok := m[contender]
	if !ok {
		s = &startAgg{}
		m[contender] = s
	}
	s.first = append(s.first, first)
	s.again = append(s.again, again)
}

// median of the start-ups by the value pick returns.
func median(ss []startup, pick func(startup) time.Duration) time.Duration {
	if len(ss) == 0 {
		return 0
	}
	v := make([]time.Duration, len(ss))
	for i, s := range ss {
		v[i] = pick(s)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func medianMem(ss []startup, pick func(memory) int64) int64 {
	if len(ss) == 0 {
		return 0
	}
	v := make([]int64, len(ss))
	for i, s := range ss {
		v[i] = pick(s.mem)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

func us(v int64) string {
	switch {
	case v == 0:
		return "-"
	case v < 10_000:
		return fmt.Sprintf("%d µs", v)
	case v < 10_000_000:
		return fmt.Sprintf("%.1f ms", float64(v)/1000)
	}
	return fmt.Sprintf("%.1f s", float64(v)/1e6)
}

func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// cpuPer100k is server CPU seconds per 100,000 requests.
func cpuPer100k(a *agg) string {
	if a == nil || a.ops == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a.serverCPU.Seconds()*100_000/float64(a.ops))
}

// genShare is the generator's CPU as a share of the whole machine.
func genShare(a *agg) string {
	if a == nil || a.elapsed <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*a.genCPU.Seconds()/a.elapsed.Seconds()/float64(runtime.NumCPU()))
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			var kb int64
			fmt.Sscan(f[1], &kb)
			mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%s, %d cores%s%s, %s", model, runtime.NumCPU(), mem, kernel, runtime.Version())
}

// binaryRev is the commit the weedvol binary was built from, as the Go
// toolchain stamped it ("+changes" when the tree was modified), so the
// report names the code that ran even when the checkout has moved on.
// It falls back to the checkout's HEAD.
func binaryRev(path string) string {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return gitRev() + " (checkout; binary unstamped)"
	}
	rev, modified := "", false
	for _, kv := range info.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.modified":
			modified = kv.Value == "true"
		}
	}
	if rev == "" {
		return gitRev() + " (checkout; binary unstamped)"
	}
	if len(rev) > 7 {
		rev = rev[:7]
	}
	if modified {
		rev += "+changes"
	}
	return rev
}

func gitRev() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		rev += "+changes"
	}
	return rev
}

// markdown renders the whole report.
func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("## Side by side with upstream `weed volume` (generated by bench/)\n\n")
	p("- date: %s, %s\n", r.started.UTC().Format("2006-01-02 15:04 MST"), dur(r.finished.Sub(r.started)))
	p("- command: `%s` (weedvol %s, upstream pinned in tools/weed/go.mod)\n", r.cfg.command, binaryRev(r.cfg.weedvol))
	p("- machine: %s; servers, master and load generator share it, over loopback\n", machine())
	p("- %d round(s), server order alternating, %v per workload run; every figure below merges all rounds\n",
		r.cfg.rounds, r.cfg.duration)
	p("- both servers: fresh data dir, %d volumes grown by the master, default flags; requests are keep-alive HTTP/1.1 from a fasthttp client; writes are raw POST bodies of random (incompressible) bytes\n", r.cfg.volumes)
	for _, n := range r.notes {
		p("- %s\n", n)
	}

	p("\n### Throughput\n\n")
	p("| workload | clients | upstream req/s | weedvol req/s | weedvol/upstream | upstream MB/s | weedvol MB/s | of bound: upstream / weedvol | errors |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, id := range r.order {
		w, m := r.workloads[id], r.runs[id]
		up, wv := m["upstream"], m["weedvol"]
		if up == nil && wv == nil {
			continue
		}
		bound := "-"
		if bd := m[boundName]; bd != nil && bd.rps() > 0 {
			bound = fmt.Sprintf("%.0f%% / %.0f%%", 100*up.rps()/bd.rps(), 100*wv.rps()/bd.rps())
		}
		p("| %s | %d | %.0f | %.0f | **%s** | %.1f | %.1f | %s | %s |\n", w.name(), w.clients, up.rps(), wv.rps(),
			ratio(wv.rps(), up.rps()), up.mbps(), wv.mbps(), bound, errs(up, wv))
	}

	p("\n### Latency (closed loop except the fixed-rate run, which counts from each request's due time)\n\n")
	p("| workload | clients | p50 upstream / weedvol | p99 upstream / weedvol | p99 weedvol/upstream | p99.9 upstream / weedvol |\n")
	p("|---|---:|---:|---:|---:|---:|\n")
	for _, id := range r.order {
		w, m := r.workloads[id], r.runs[id]
		up, wv := m["upstream"], m["weedvol"]
		if up == nil && wv == nil {
			continue
		}
		p("| %s | %d | %s / %s | %s / %s | %s | %s / %s |\n", w.name(), w.clients,
			us(up.quantile(50)), us(wv.quantile(50)), us(up.quantile(99)), us(wv.quantile(99)),
			ratio(float64(wv.quantile(99)), float64(up.quantile(99))), us(up.quantile(99.9)), us(wv.quantile(99.9)))
	}

	p("\n### CPU\n\nServer CPU seconds (user+system, from /proc) per 100,000 requests, and the load generator's own CPU as a share of the machine while it drove each server.\n\n")
	p("| workload | clients | server CPU s/100k: upstream / weedvol | generator CPU: upstream run / weedvol run |\n")
	p("|---|---:|---:|---:|\n")
	for _, id := range r.order {
		w, m := r.workloads[id], r.runs[id]
		up, wv := m["upstream"], m["weedvol"]
		if up == nil && wv == nil {
			continue
		}
		p("| %s | %d | %s / %s | %s / %s |\n", w.name(), w.clients, cpuPer100k(up), cpuPer100k(wv), genShare(up), genShare(wv))
	}

	r.engineTable(p)
	r.startupTable(p)
	scaleTable(p)
	r.targetsTable(p)

	var notes []string
	for _, id := range r.order {
		for _, c := range sortedKeys(r.runs[id]) {
			a := r.runs[id][c]
			if a.failed != "" {
				notes = append(notes, fmt.Sprintf("%s, %s: not run: %s", id, c, a.failed))
			}
			for _, n := range a.notes {
				notes = append(notes, fmt.Sprintf("%s, %s: %s", id, c, n))
			}
		}
	}
	if len(notes) > 0 {
		p("\n### Notes from the run\n\n")
		for _, n := range notes {
			p("- %s\n", n)
		}
	}
	return b.String()
}

func errs(up, wv *agg) string {
	var u, w int64
	if up != nil {
		u = up.errors
	}
	if wv != nil {
		w = wv.errors
	}
	return fmt.Sprintf("%d / %d", u, w)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// engineTable compares weedvol's .dat I/O engines where they were run.
func (r *report) engineTable(p func(string, ...any)) {
	var rows []string
	for _, id := range r.order {
		m := r.runs[id]
		sy, ur := m["weedvol sync"], m["weedvol uring"]
		if sy == nil || ur == nil {
			continue
		}
		rows = append(rows, fmt.Sprintf("| %s | %d | %.0f | %.0f | %s | %s / %s |", r.workloads[id].name(), r.workloads[id].clients,
			sy.rps(), ur.rps(), ratio(ur.rps(), sy.rps()), us(sy.quantile(99)), us(ur.quantile(99))))
	}
	if len(rows) == 0 {
		return
	}
	p("\n### weedvol's .dat I/O engines (`-ioengine=sync` and `-ioengine=uring`, same runs)\n\n")
	p("| workload | clients | sync req/s | uring req/s | uring/sync | p99 sync / uring |\n|---|---:|---:|---:|---:|---:|\n")
	for _, row := range rows {
		p("%s\n", row)
	}
}

func (r *report) startupTable(p func(string, ...any)) {
	if len(r.starts) == 0 {
		return
	}
	p("\n### Start-up and memory\n\n")
	p("A data dir holding one volume of N needles (16-byte payloads; the same files for both, hard-linked from a fixture built once). ")
	p("Times are from exec to `/healthz` answering 200 and to the first needle served; median over rounds. ")
	p("\"First start\" is the first start on the files (weedvol builds its .wvx index snapshot then), \"restart\" the next one on the same dir. ")
	p("Memory is sampled after the restart's first read: RSS, split into anonymous and file-backed pages (weedvol's index is a file mapping).\n\n")
	p("| needles | server | first start: healthz / first read | restart: healthz / first read | RSS | anon | file |\n")
	p("|---:|---|---:|---:|---:|---:|---:|\n")
	sizes := make([]int, 0, len(r.starts))
	for n := range r.starts {
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	for _, n := range sizes {
		for _, c := range []string{"upstream", "weedvol"} {
			s := r.starts[n][c]
			if s == nil {
				continue
			}
			p("| %d | %s | %s / %s | %s / %s | %s | %s | %s |\n", n, c,
				dur(median(s.first, func(x startup) time.Duration { return x.healthz })),
				dur(median(s.first, func(x startup) time.Duration { return x.firstRead })),
				dur(median(s.again, func(x startup) time.Duration { return x.healthz })),
				dur(median(s.again, func(x startup) time.Duration { return x.firstRead })),
				mib(medianMem(s.again, func(m memory) int64 { return m.RSS })),
				mib(medianMem(s.again, func(m memory) int64 { return m.Anon })),
				mib(medianMem(s.again, func(m memory) int64 { return m.File })))
		}
	}
}

// target is one of issue #5's goals, checked against this run.
type goal struct {
	name     string
	measured string
	met      bool
	known    bool
}

func (r *report) find(kind kind, size, clients int) map[string]*agg {
	for _, id := range r.order {
		w := r.workloads[id]
		if w.kind == kind && w.size == size && (clients == 0 || w.clients == clients) {
			return r.runs[id]
		}
	}
	return nil
}

func (r *report) targetsTable(p func(string, ...any)) {
	var goals []goal
	rps := func(name string, k kind, size, clients int, want float64) {
		m := r.find(k, size, clients)
		if m == nil || m["upstream"].rps() == 0 || m["weedvol"].rps() == 0 {
			goals = append(goals, goal{name: name, measured: "not measured"})
			return
		}
		x := m["weedvol"].rps() / m["upstream"].rps()
		goals = append(goals, goal{name, fmt.Sprintf("%.2fx", x), x >= want, true})
	}
	p99 := func(name string, k kind, size, clients int) {
		m := r.find(k, size, clients)
		if m == nil || m["upstream"].quantile(99) == 0 || m["weedvol"].quantile(99) == 0 {
			goals = append(goals, goal{name: name, measured: "not measured"})
			return
		}
		x := float64(m["weedvol"].quantile(99)) / float64(m["upstream"].quantile(99))
		goals = append(goals, goal{name, fmt.Sprintf("%.2f of upstream's", x), x <= 0.5, true})
	}
	rps("1 KB writes/s >= 2x", kindWrite, 1<<10, 0, 2)
	rps("16 KB writes/s >= 2x", kindWrite, 16<<10, 0, 2)
	rps("1 KB random reads/s >= 2x (16 clients)", kindRead, 1<<10, 16, 2)
	rps("1 KB random reads/s >= 2x (64 clients)", kindRead, 1<<10, 64, 2)
	rps("cold-cache 16 KB random reads/s >= 1.5x", kindReadCold, 16<<10, 0, 1.5)
	p99("p99 of 1 KB reads at 16 clients <= 0.5x", kindRead, 1<<10, 16)
	p99("p99 of 1 KB writes at 16 clients <= 0.5x", kindWrite, 1<<10, 16)
	p99("p99 of 16 KB writes at 16 clients <= 0.5x", kindWrite, 16<<10, 16)
	rps("1 MB reads MB/s >= 1.5x", kindRead, 1<<20, 16, 1.5)
	rps("8 MB reads MB/s >= 1.5x", kindRead, 8<<20, 16, 1.5)
	if m := r.find(kindRead, 1<<10, 16); m != nil && m[boundName].rps() > 0 && m["weedvol"].rps() > 0 {
		x := m["weedvol"].rps() / m[boundName].rps()
		goals = append(goals, goal{"1 KB reads at >= 70% of the bare fasthttp bound", fmt.Sprintf("%.0f%%", 100*x), x >= 0.7, true})
	}
	var big int
	for n := range r.starts {
		big = max(big, n)
	}
	if s := r.starts[big]; s != nil && s["upstream"] != nil && s["weedvol"] != nil {
		rss := func(c string) int64 { return medianMem(s[c].again, func(m memory) int64 { return m.RSS }) }
		x := float64(rss("weedvol")) / float64(rss("upstream"))
		goals = append(goals, goal{fmt.Sprintf("RSS with %d needles <= 1/4", big), fmt.Sprintf("%.2f of upstream's", x), x <= 0.25, true})
		st := func(c string) time.Duration {
			return median(s[c].again, func(x startup) time.Duration { return x.firstRead })
		}
		x = float64(st("weedvol")) / float64(st("upstream"))
		goals = append(goals, goal{fmt.Sprintf("restart to first read with %d needles <= 1/10", big), fmt.Sprintf("%.2f of upstream's", x), x <= 0.1, true})
	}
	p("\n### Targets of issue #5, as measured in this run\n\n| target | measured | met |\n|---|---:|:---:|\n")
	for _, g := range goals {
		met := "-"
		if g.known {
			met = map[bool]string{true: "yes", false: "**no**"}[g.met]
		}
		p("| %s | %s | %s |\n", g.name, g.measured, met)
	}
}

// spliceInto replaces the part of the markdown file path between the bench
// markers with text, or appends it with markers when there are none.
func spliceInto(path, text string) error { return spliceBetween(path, beginMarker, endMarker, text) }

// spliceBetween replaces the part of the markdown file path between the
// markers beginMarker and endMarker with text, or appends it with the
// markers when they are not there.
func spliceBetween(path, beginMarker, endMarker, text string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	block := beginMarker + "\n" + text + endMarker + "\n"
	s := string(old)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i >= 0 && j > i {
		s = s[:i] + block + strings.TrimPrefix(s[j+len(endMarker):], "\n")
	} else {
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		s += "\n" + block
	}
	return os.WriteFile(path, []byte(s), 0o644)
}
