// Command bench measures weedvol against upstream `weed volume` side by side
// on this machine, in one run: it starts the pinned upstream master, then in
// turn each volume server on an identical fresh data directory, drives the
// same workloads against each over loopback, alternating the order from
// round to round so that machine drift cancels out, and prints (and with
// -perf writes into PERF.md) the tables with the ratio weedvol/upstream.
//
//	go run ./bench -weed bin/weed -weedvol bin/weedvol -perf PERF.md
//
// It also runs a bare fasthttp server answering the same bytes from memory,
// the bound every read figure is compared with, times start-up and memory
// on data directories of 1M and 10M needles built once under -cache, and
// measures reads and writes while a volume is vacuumed (vacuum.go) and
// erasure coding: encode, rebuild and reads from shards (ec.go).
// -workloads picks among these groups, e.g. the vacuum run alone:
//
//	go run ./bench -workloads vacuum -weed bin/weed -weedvol bin/weedvol -perf PERF.md
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/weedvol/weedvol/internal/weedproc"
	"github.com/weedvol/weedvol/iouring"
)

// config is the command line.
type config struct {
	weed, weedvol string
	work, cache   string
	rounds        int
	duration      time.Duration
	sizes         []int
	writeClients  int
	readClients   []int
	rate          float64
	coldSize      int
	startupSizes  []int
	scaleVolumes  int
	volumes       int
	uring         bool
	perf          string
	command       string
	only          []string
	upstreamArgs  []string
	weedvolArgs   []string
	genProfile    string
	run           *regexp.Regexp
	// workloads are the groups to run: throughput, startup, vacuum.
	workloads []string
	// the vacuum workload (vacuum.go): fixture size, baseline window,
	// writes per second
	vacuumSize      int64
	vacuumWindow    time.Duration
	vacuumWriteRate float64
	// the ec workload (ec.go): fixture size, rounds, read clients and window
	ecSize    int64
	ecRounds  int
	ecClients int
	ecWindow  time.Duration
}

// workloadGroups are the values -workloads accepts, in the order they run.
var workloadGroups = []string{"throughput", "startup", "scale", "vacuum", "ec"}

// wants reports whether the workload group g is to run.
func (c config) wants(g string) bool { return slices.Contains(c.workloads, g) }

// contender is one server under test.
type contender struct {
	name string
	bin  string
	args []string
	plan []workload
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == "-serve-bound" {
		sizes, err := parseSizes(os.Args[3])
		if err == nil {
			err = serveBound(os.Args[2], sizes)
		}
		fmt.Fprintln(os.Stderr, "bound server:", err)
		os.Exit(1)
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	stopOnSignal()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&cfg.weed, "weed", "bin/weed", "upstream weed binary (master, and the upstream volume server)")
	fs.StringVar(&cfg.weedvol, "weedvol", "bin/weedvol", "weedvol binary")
	fs.StringVar(&cfg.work, "work", "", "scratch directory for data dirs (default: a new temp dir, removed after)")
	fs.StringVar(&cfg.cache, "cache", ".bench-cache", "where start-up fixtures are built once and kept")
	fs.IntVar(&cfg.rounds, "rounds", 3, "rounds; the server order alternates from round to round")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "length of each workload run")
	sizes := fs.String("sizes", "1KB,16KB,1MB,8MB", "needle sizes written and read; the first is the small size for mixed, delete and fixed-rate runs")
	fs.IntVar(&cfg.writeClients, "clients", 16, "concurrent clients for writes, mixed, deletes and cold reads")
	readClients := fs.String("read-clients", "16,64", "concurrent clients for random reads")
	fs.Float64Var(&cfg.rate, "rate", 5000, "requests/s of the open-loop (fixed-rate) small-read run; 0 skips it")
	cold := fs.String("cold-size", "16KB", "needle size of the cold-cache read run (page cache dropped first; needs root); empty skips it")
	fs.IntVar(&cfg.scaleVolumes, "scale", 5000, "volumes (of 10 needles each) in the scale workload's data dir; 0 skips it")
	startups := fs.String("startup", "1000000,10000000", "needle counts of the start-up/memory fixtures; empty skips start-up")
	fs.IntVar(&cfg.volumes, "volumes", 8, "volumes grown per server for the writes")
	fs.BoolVar(&cfg.uring, "uring", true, "also run weedvol with -ioengine=uring and -ioengine=sync on the cold-read runs")
	fs.StringVar(&cfg.perf, "perf", "", "write the tables into this markdown file between <!-- bench:begin --> and <!-- bench:end -->")
	only := fs.String("only", "", "comma-separated contenders to run (upstream, weedvol, \"weedvol uring\", \"weedvol sync\"); default all. The tables need upstream and weedvol")
	upArgs := fs.String("upstream-args", "", "extra flags for the upstream volume server, space-separated")
	wvArgs := fs.String("weedvol-args", "", "extra flags for weedvol (e.g. -cpuprofile=/tmp/weedvol.prof), space-separated")
	runRe := fs.String("run", "", "only workloads whose name matches this regexp (e.g. 'write|read 1 KB')")
	genProfile := fs.String("gen-cpuprofile", "", "write the load generator's own CPU profile here")
	workloads := fs.String("workloads", strings.Join(workloadGroups, ","), "comma-separated workload groups to run: throughput (the -run workloads), startup (-startup), scale (-scale), vacuum (reads and writes while a volume is vacuumed), ec (erasure-coding encode, rebuild and reads from shards)")
	vacSize := fs.String("vacuum-size", "1GB", "payload bytes written into the vacuum workload's volume before 30% of its needles are deleted")
	fs.DurationVar(&cfg.vacuumWindow, "vacuum-window", 20*time.Second, "length of the vacuum workload's baseline window (the vacuum window lasts as long as the vacuum)")
	fs.Float64Var(&cfg.vacuumWriteRate, "vacuum-write-rate", 500, "writes/s of the vacuum workload, issued by its clients between their reads")
	ecSize := fs.String("ec-size", "1GB", "payload bytes of the ec workload's volume (4 KB needles and 4 KB-256 KB ones)")
	fs.IntVar(&cfg.ecRounds, "ec-rounds", 3, "rounds of the ec workload; figures are medians of rounds")
	fs.IntVar(&cfg.ecClients, "ec-clients", 16, "concurrent clients of the ec workload's 4 KB reads")
	fs.DurationVar(&cfg.ecWindow, "ec-window", 10*time.Second, "length of each of the ec workload's read runs (healthy, degraded)")
	quick := fs.Bool("quick", false, "short development run: 1 round of 1s workloads, 1M-needle start-up only, a 100 MB vacuum volume with a 5s baseline, 1 ec round on a 64 MB volume with 3s reads")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["rounds"] {
			cfg.rounds = 1
		}
		if !set["duration"] {
			cfg.duration = time.Second
		}
		if !set["startup"] {
			*startups = "1000000"
		}
		if !set["scale"] {
			cfg.scaleVolumes = 1000
		}
		if !set["vacuum-size"] {
			*vacSize = "100MB"
		}
		if !set["vacuum-window"] {
			cfg.vacuumWindow = 5 * time.Second
		}
		if !set["ec-rounds"] {
			cfg.ecRounds = 1
		}
		if !set["ec-size"] {
			*ecSize = "64MB"
		}
		if !set["ec-window"] {
			cfg.ecWindow = 3 * time.Second
		}
	}
	var err error
	if cfg.sizes, err = parseSizes(*sizes); err != nil || len(cfg.sizes) == 0 {
		return cfg, fmt.Errorf("-sizes: %v", err)
	}
	if cfg.readClients, err = parseInts(*readClients); err != nil || len(cfg.readClients) == 0 {
		return cfg, fmt.Errorf("-read-clients: %v", err)
	}
	if *cold != "" {
		var cs []int
		if cs, err = parseSizes(*cold); err != nil || len(cs) != 1 {
			return cfg, fmt.Errorf("-cold-size: want one size")
		}
		cfg.coldSize = cs[0]
	}
	if cfg.startupSizes, err = parseInts(*startups); err != nil {
		return cfg, fmt.Errorf("-startup: %v", err)
	}
	if cfg.rounds < 1 || cfg.writeClients < 1 || cfg.volumes < 1 {
		return cfg, errors.New("-rounds, -clients and -volumes must be positive")
	}
	for _, g := range strings.Split(*workloads, ",") {
		if g = strings.TrimSpace(g); g == "" {
			continue
		}
		if !slices.Contains(workloadGroups, g) {
			return cfg, fmt.Errorf("-workloads: unknown group %q (want %s)", g, strings.Join(workloadGroups, ", "))
		}
		cfg.workloads = append(cfg.workloads, g)
	}
	if cfg.wants("vacuum") {
		vs, err := parseSizes(*vacSize)
		if err != nil || len(vs) != 1 {
			return cfg, fmt.Errorf("-vacuum-size: want one size")
		}
		cfg.vacuumSize = int64(vs[0])
		if cfg.vacuumWindow <= 0 || cfg.vacuumWriteRate < 0 {
			return cfg, errors.New("-vacuum-window must be positive and -vacuum-write-rate not negative")
		}
	}
	if cfg.wants("ec") {
		es, err := parseSizes(*ecSize)
		if err != nil || len(es) != 1 {
			return cfg, fmt.Errorf("-ec-size: want one size")
		}
		cfg.ecSize = int64(es[0])
		if cfg.ecRounds < 1 || cfg.ecClients < 1 || cfg.ecWindow <= 0 {
			return cfg, errors.New("-ec-rounds, -ec-clients and -ec-window must be positive")
		}
	}
	cfg.genProfile = *genProfile
	if *runRe != "" {
		if cfg.run, err = regexp.Compile(*runRe); err != nil {
			return cfg, fmt.Errorf("-run: %v", err)
		}
	}
	cfg.upstreamArgs, cfg.weedvolArgs = strings.Fields(*upArgs), strings.Fields(*wvArgs)
	for _, o := range strings.Split(*only, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.only = append(cfg.only, o)
		}
	}
	cfg.command = "go run ./bench " + strings.Join(args, " ")
	return cfg, nil
}

// parseSizes reads "1KB,16KB,1MB,8MB,1GB" (or plain byte counts).
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.ToUpper(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		mult := 1
		for _, u := range []struct {
			suffix string
			m      int
		}{{"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
			if strings.HasSuffix(f, u.suffix) {
				f, mult = strings.TrimSuffix(f, u.suffix), u.m
				break
			}
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad size %q", f)
		}
		out = append(out, n*mult)
	}
	return out, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func run(cfg config) error {
	for _, b := range []*string{&cfg.weed, &cfg.weedvol} {
		abs, err := filepath.Abs(*b)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("%s: %w (run make bin/weed build first)", *b, err)
		}
		*b = abs
	}
	if cfg.work == "" {
		dir, err := os.MkdirTemp("", "weedvol-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.work = dir
	}
	if cfg.genProfile != "" {
		f, err := os.Create(cfg.genProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep := newReport(cfg)
	contenders := []contender{
		{name: "upstream", bin: cfg.weed, args: cfg.upstreamArgs, plan: plan(cfg)},
		{name: "weedvol", bin: cfg.weedvol, args: cfg.weedvolArgs, plan: plan(cfg)},
	}
	if cfg.uring && cfg.coldSize > 0 {
		if why := iouring.UringUnavailableReason(); why != nil {
			rep.notes = append(rep.notes, "io_uring engine not compared: "+why.Error())
		} else {
			contenders = append(contenders,
				contender{name: "weedvol uring", bin: cfg.weedvol, args: append([]string{"-ioengine=uring"}, cfg.weedvolArgs...), plan: engineOnly(cfg)},
				contender{name: "weedvol sync", bin: cfg.weedvol, args: append([]string{"-ioengine=sync"}, cfg.weedvolArgs...), plan: engineOnly(cfg)})
		}
	}
	if len(cfg.only) > 0 {
		kept := contenders[:0]
		for _, c := range contenders {
			if slices.Contains(cfg.only, c.name) {
				kept = append(kept, c)
			}
		}
		contenders = kept
	}

	mainReport := cfg.wants("throughput") || (cfg.wants("startup") && len(cfg.startupSizes) > 0) || (cfg.wants("scale") && cfg.scaleVolumes > 0)
	if cfg.wants("throughput") {
		if err := throughput(cfg, contenders, rep); err != nil {
			return err
		}
	}
	if cfg.wants("startup") && len(cfg.startupSizes) > 0 {
		if err := startups(cfg, contenders[:min(2, len(contenders))], rep); err != nil {
			return err
		}
	}
	if cfg.wants("scale") && cfg.scaleVolumes > 0 {
		if err := scale(cfg, contenders[:min(2, len(contenders))], cfg.scaleVolumes); err != nil {
			return err
		}
	}
	rep.finished = time.Now()
	if mainReport {
		text := rep.markdown()
		fmt.Println(text)
		if cfg.perf != "" {
			if err := spliceInto(cfg.perf, text); err != nil {
				return err
			}
		}
	}
	if cfg.wants("vacuum") {
		var pair []contender
		for _, c := range contenders {
			if c.name == "upstream" || c.name == "weedvol" {
				pair = append(pair, c)
			}
		}
		if err := vacuumBench(cfg, pair, rep); err != nil {
			return err
		}
		text := rep.vacuumMarkdown()
		fmt.Println(text)
		if cfg.perf != "" {
			if err := spliceBetween(cfg.perf, vacuumBeginMarker, vacuumEndMarker, text); err != nil {
				return err
			}
		}
	}
	if cfg.wants("ec") {
		if err := ecBench(cfg, pairOf(contenders), rep); err != nil {
			return err
		}
		text := rep.ecMarkdown()
		fmt.Println(text)
		if cfg.perf != "" {
			if err := spliceBetween(cfg.perf, ecBeginMarker, ecEndMarker, text); err != nil {
				return err
			}
		}
	}
	return nil
}

// pairOf is the upstream and weedvol contenders of contenders, those that
// -only kept.
func pairOf(contenders []contender) []contender {
	var pair []contender
	for _, c := range contenders {
		if c.name == "upstream" || c.name == "weedvol" {
			pair = append(pair, c)
		}
	}
	return pair
}

// throughput runs every contender's plan, round after round, with the
// order of the first two alternating, and the bound runs once a round.
func throughput(cfg config, contenders []contender, rep *report) error {
	master, err := startMaster(cfg, "master")
	if err != nil {
		return err
	}
	defer master.Stop()

	payloads := map[int][]byte{}
	for _, s := range append(append([]int(nil), cfg.sizes...), cfg.coldSize) {
		if s > 0 {
			payloads[s] = payload(s, uint64(s))
		}
	}
	bound, err := startBound(cfg)
	if err != nil {
		return err
	}
	defer bound.Stop()

	for r := 1; r <= cfg.rounds; r++ {
		order := append([]contender(nil), contenders...)
		if r%2 == 0 && len(order) > 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, c := range order {
			if err := runContender(cfg, r, c, master.Addr(), payloads, rep); err != nil {
				return fmt.Errorf("round %d, %s: %w", r, c.name, err)
			}
		}
		runBound(cfg, bound, rep)
	}
	return nil
}

func runContender(cfg config, round int, c contender, master string, payloads map[int][]byte, rep *report) error {
	tag := strings.ReplaceAll(c.name, " ", "")
	dir := filepath.Join(cfg.work, fmt.Sprintf("%s-r%d", tag, round))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(os.Stderr, "round %d: %s\n", round, c.name)
	p, err := weedproc.StartVolume(c.bin, dir, dir, master, c.args...)
	if err != nil {
		return err
	}
	track(p)
	defer p.Stop()
	collection := fmt.Sprintf("r%d%s", round, tag)
	vids, err := growVolumes(master, p.Addr(), collection, cfg.volumes)
	if err != nil {
		return err
	}
	t := newTarget(p.Addr(), 64, vids)
	t.next.Store(uint64(round) << 32)
	for _, w := range c.plan {
		if cfg.run != nil && !cfg.run.MatchString(w.id()) {
			continue
		}
		note := ""
		cold := func() error {
			if err := dropPageCache(); err != nil {
				note = "page cache not dropped: " + err.Error()
			}
			return nil
		}
		l, err := loadFor(w, t, payloads, cfg.duration, cold)
		if err != nil {
			rep.fail(c.name, w, err)
			continue
		}
		cpu0, _ := processCPU(p.Pid())
		gen0 := selfCPU()
		res := l.run()
		gen := selfCPU() - gen0
		cpu1, cpuErr := processCPU(p.Pid())
		if w.kind == kindWrite || w.kind == kindMixed {
			t.addKeys(w.size, res.written)
		}
		if cpuErr != nil {
			note = "server CPU not measured: " + cpuErr.Error()
		}
		rep.add(c.name, w, res, cpu1-cpu0, gen, note)
		fmt.Fprintf(os.Stderr, "  %-32s %9.0f req/s  p99 %6dus  errors %d\n", w.id(), float64(res.ops)/res.elapsed.Seconds(), res.hist.ValueAtQuantile(99), res.errors)
	}
	return nil
}

func startBound(cfg config) (*weedproc.Process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	port, err := weedproc.FreePort()
	if err != nil {
		return nil, err
	}
	var sizes []string
	for _, s := range cfg.sizes {
		sizes = append(sizes, strconv.Itoa(s))
	}
	p, err := weedproc.Start("bound", self, filepath.Join(cfg.work, "bound.log"), port,
		"-serve-bound", "127.0.0.1:"+strconv.Itoa(port), strings.Join(sizes, ","))
	if err != nil {
		return nil, err
	}
	track(p)
	if err := p.WaitHTTP("/"+sizes[0], 30*time.Second); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// runBound drives the uniform read workloads against the bound server.
func runBound(cfg config, p *weedproc.Process, rep *report) {
	t := newTarget(p.Addr(), 64, nil)
	for _, w := range plan(cfg) {
		if !w.bound || (cfg.run != nil && !cfg.run.MatchString(w.id())) {
			continue
		}
		t.setClients(w.clients)
		size := w.size
		l := load{clients: w.clients, duration: cfg.duration}
		l.op = func(wk *worker) (int, error) {
			wk.uri = boundURI(t, size)
			return t.readURI(wk, wk.uri, size)
		}
		cpu0, _ := processCPU(p.Pid())
		gen0 := selfCPU()
		res := l.run()
		gen := selfCPU() - gen0
		cpu1, _ := processCPU(p.Pid())
		rep.add(boundName, w, res, cpu1-cpu0, gen, "")
	}
}

// startMaster starts a master of the benchmark's own in cfg.work/name,
// tracked so that an interrupted run stops it.
func startMaster(cfg config, name string) (*weedproc.Process, error) {
	dir := filepath.Join(cfg.work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	master, err := weedproc.StartMaster(cfg.weed, dir)
	if err != nil {
		return nil, err
	}
	return track(master), nil
}

// startups times start-up on each fixture size, for each contender, once a
// round, from the same hard-linked files, under a master of their own.
func startups(cfg config, contenders []contender, rep *report) error {
	master, err := startMaster(cfg, "master-startup")
	if err != nil {
		return err
	}
	defer master.Stop()
	for _, n := range cfg.startupSizes {
		fmt.Fprintf(os.Stderr, "fixture of %d needles\n", n)
		src, err := fixture(cfg.cache, n)
		if err != nil {
			return fmt.Errorf("fixture of %d needles: %w", n, err)
		}
		for r := 1; r <= cfg.rounds; r++ {
			order := append([]contender(nil), contenders...)
			if r%2 == 0 && len(order) > 1 {
				order[0], order[1] = order[1], order[0]
			}
			for _, c := range order {
				dir := filepath.Join(cfg.work, fmt.Sprintf("start-%s-%d-r%d", strings.ReplaceAll(c.name, " ", ""), n, r))
				if err := linkFixture(src, dir); err != nil {
					return err
				}
				key := uint64(n/2 + 1)
				first, err := measureStart(c.bin, c.args, dir, master.Addr(), key)
				if err != nil {
					return err
				}
				again, err := measureStart(c.bin, c.args, dir, master.Addr(), key)
				if err != nil {
					return err
				}
				os.RemoveAll(dir)
				rep.addStartup(c.name, n, first, again)
				fmt.Fprintf(os.Stderr, "  %-8s %9d needles: first start %v, restart %v, RSS %d MiB\n", c.name, n, first.firstRead, again.firstRead, again.mem.RSS>>20)
			}
		}
	}
	return nil
}

// started lists every server the benchmark started, so that an interrupted
// run stops them instead of leaving them running.
var (
	startedMu sync.Mutex
	started   []*weedproc.Process
)

func track(p *weedproc.Process) *weedproc.Process {
	startedMu.Lock()
	started = append(started, p)
	startedMu.Unlock()
	return p
}

// stopOnSignal stops the servers on SIGINT or SIGTERM, then exits.
func stopOnSignal() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		fmt.Fprintln(os.Stderr, "bench: interrupted; stopping servers")
		startedMu.Lock()
		for _, p := range started {
			p.Stop()
		}
		startedMu.Unlock()
		os.Exit(130)
	}()
}
