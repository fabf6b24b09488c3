package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/wlog"
)

// options are the `weed volume` flags (same names, defaults and meaning)
// plus weedvol's own additions, which never rename an upstream flag.
type options struct {
	port, portGrpc, portPublic  int
	ip, ipBind, id, publicURL   string
	masters, mserver            string
	preStopSeconds, idleTimeout int
	dataCenter, rack            string
	index, disk, tags           string
	readMode                    string
	fileSizeLimitMB             int
	concurrentUploadLimitMB     int
	concurrentDownloadLimitMB   int
	inflightUploadTimeout       time.Duration
	inflightDownloadTimeout     time.Duration
	dirs, maxCounts, idxDir     string
	whiteList                   string
	minFreeSpacePercent         string
	minFreeSpace                string
	metricsPort                 int
	metricsIP                   string
	pprof, debug                bool
	debugPort                   int
	cpuProfile, memProfile      string
	configDir                   string
	securityFile                string

	// accepted; weedvol's design makes some of them moot (see README, Flags)
	compactionMBps, maintenanceMBps, compactionMaxParallelCommits int
	fixJpgOrientation, hasSlowRead, allowUntrusted                bool
	readBufferSizeMB                                              int
	ldbTimeout                                                    int64
	fsyncMinBatchBytes                                            int64
	fsyncMinBatchRequests                                         int
	fsyncBatchWait                                                time.Duration

	// weedvol additions
	ioEngine    string
	offsetSize  int
	showVersion bool

	log wlog.Options // upstream's glog flags

	optionsFile string
	// command is "volume" (the default) or "version".
	command string
	// set holds the names of the flags given on the command line, in the
	// environment or in the -options file (not those left at their default).
	set map[string]bool
}

// globalFlags are the ones upstream's `weed` takes before the subcommand
// (its logging flags among them); weedvol accepts them anywhere.
func addGlobalFlags(fs *flag.FlagSet, o *options) {
	if fs.Lookup("config_dir") == nil {
		fs.StringVar(&o.configDir, "config_dir", "", "directory with toml configuration files")
	}
	// upstream's glog flags, acted on (README "Logs")
	wlog.Register(fs, &o.log)
	// klog's, which upstream does not have: accepted as before, ignored
	for _, name := range []string{"log_file", "log_file_max_size"} {
		if fs.Lookup(name) == nil {
			fs.String(name, "", "logging (accepted for compatibility)")
		}
	}
	for _, name := range []string{"skip_headers", "skip_log_headers", "add_dir_header", "one_output"} {
		if fs.Lookup(name) == nil {
			fs.Bool(name, false, "logging (accepted for compatibility)")
		}
	}
}

// weedvolFlags are the flags weedvol adds; -h lists them apart from
// upstream's. They never rename an upstream flag.
var weedvolFlags = map[string]bool{"ioengine": true, "index.offsetSize": true, "securityFile": true, "version": true}

// volumeFlags declares `weed volume`'s flags with upstream's names,
// defaults and help, then weedvol's own, then the global ones.
func volumeFlags(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("weedvol volume", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&o.port, "port", 8080, "http listen port")
	fs.IntVar(&o.portGrpc, "port.grpc", 0, "grpc listen port")
	fs.IntVar(&o.portPublic, "port.public", 0, "port opened to public")
	fs.StringVar(&o.ip, "ip", detectedIP(), "ip or server name, also used as identifier")
	fs.StringVar(&o.id, "id", "", "volume server id. If empty, default to ip:port")
	fs.StringVar(&o.publicURL, "publicUrl", "", "Publicly accessible address")
	fs.StringVar(&o.ipBind, "ip.bind", "", "ip address to bind to. If empty, default to same as -ip option.")
	fs.StringVar(&o.masters, "master", "localhost:9333", "comma-separated master servers")
	fs.StringVar(&o.mserver, "mserver", "", "comma-separated master servers (deprecated, use -master instead)")
	fs.IntVar(&o.preStopSeconds, "preStopSeconds", 10, "number of seconds between stop send heartbeats and stop volume server")
	fs.IntVar(&o.idleTimeout, "idleTimeout", 30, "connection idle seconds")
	fs.StringVar(&o.dataCenter, "dataCenter", "", "current volume server's data center name")
	fs.StringVar(&o.rack, "rack", "", "current volume server's rack name")
	fs.StringVar(&o.index, "index", "memory", "Choose [memory|leveldb|leveldbMedium|leveldbLarge] mode for memory~performance balance. weedvol: every mode uses its memory-mapped index")
	fs.StringVar(&o.disk, "disk", "", "[hdd|ssd|<tag>] hard drive or solid state drive or any tag")
	fs.StringVar(&o.tags, "tags", "", "comma-separated tag groups per data dir; each group uses ':' (e.g. fast:ssd,archive)")
	fs.BoolVar(&o.fixJpgOrientation, "images.fix.orientation", false, "Adjust jpg orientation when uploading.")
	fs.StringVar(&o.readMode, "readMode", "proxy", "[local|proxy|redirect] how to deal with non-local volume: 'not found|proxy to remote node|redirect volume location'.")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "cpu profile output file")
	fs.StringVar(&o.memProfile, "memprofile", "", "memory profile output file")
	fs.IntVar(&o.compactionMBps, "compactionMBps", 0, "limit background compaction or copying speed in mega bytes per second")
	fs.IntVar(&o.maintenanceMBps, "maintenanceMBps", 0, "limit maintenance (replication / balance) IO rate in MB/s. Unset is 0, no limitation.")
	fs.IntVar(&o.compactionMaxParallelCommits, "compactionMaxParallelCommits", 0, "limit how many vacuum commits run at once on this server; queued commits hold no volume lock. 0 means unlimited")
	fs.IntVar(&o.fileSizeLimitMB, "fileSizeLimitMB", 256, "limit file size to avoid out of memory")
	fs.Int64Var(&o.ldbTimeout, "index.leveldbTimeout", 0, "alive time for leveldb (default to 0). If leveldb of volume is not accessed in ldbTimeout hours, it will be off loaded to reduce opened files and memory consumption. weedvol: no leveldb; idle volumes are parked after 10 minutes")
	fs.IntVar(&o.concurrentUploadLimitMB, "concurrentUploadLimitMB", 0, "limit total concurrent upload size, 0 means unlimited")
	fs.IntVar(&o.concurrentDownloadLimitMB, "concurrentDownloadLimitMB", 0, "limit total concurrent download size, 0 means unlimited")
	fs.BoolVar(&o.pprof, "pprof", false, "enable pprof http handlers. precludes -memprofile and -cpuprofile")
	fs.IntVar(&o.metricsPort, "metricsPort", 0, "Prometheus metrics listen port")
	fs.StringVar(&o.metricsIP, "metricsIp", "", "metrics listen ip. If empty, default to same as -ip.bind option.")
	fs.StringVar(&o.idxDir, "dir.idx", "", "directory to store .idx files")
	fs.DurationVar(&o.inflightUploadTimeout, "inflightUploadDataTimeout", 60*time.Second, "inflight upload data wait timeout of volume servers")
	fs.DurationVar(&o.inflightDownloadTimeout, "inflightDownloadDataTimeout", 60*time.Second, "inflight download data wait timeout of volume servers")
	fs.BoolVar(&o.hasSlowRead, "hasSlowRead", true, "<experimental> if true, this prevents slow reads from blocking other requests, but large file read P99 latency will increase. weedvol: reads never hold a volume lock, either way")
	fs.IntVar(&o.readBufferSizeMB, "readBufferSizeMB", 4, "<experimental> larger values can optimize query performance but will increase some memory usage,Use with hasSlowRead normally. weedvol: reads are sized by the request")
	fs.BoolVar(&o.allowUntrusted, "volume.allowUntrustedRemoteEndpoints", false, "if true, peers and remote endpoints on loopback, link-local and instance-metadata addresses are accepted (VolumeCopy, VolumeTailReceiver, FetchAndWriteNeedle). Default refuses them.")
	fs.Int64Var(&o.fsyncMinBatchBytes, "fsyncMinBatchBytes", 1<<20, "minimum bytes an fsync batch gathers before a drained queue flushes without waiting. weedvol: group commit syncs every batch at once")
	fs.IntVar(&o.fsyncMinBatchRequests, "fsyncMinBatchRequests", 128, "minimum requests an fsync batch gathers before a drained queue flushes without waiting. weedvol: group commit syncs every batch at once")
	fs.DurationVar(&o.fsyncBatchWait, "fsyncBatchWait", 500*time.Microsecond, "how long a below-minimum fsync batch waits for more requests once the queue drains; 0 flushes immediately. weedvol: group commit never waits")
	fs.BoolVar(&o.debug, "debug", false, "serves runtime profiling data via pprof on the port specified by -debug.port")
	fs.IntVar(&o.debugPort, "debug.port", 6060, "http port for debugging")
	fs.StringVar(&o.dirs, "dir", os.TempDir(), "directories to store data files. dir[,dir]...")
	fs.StringVar(&o.maxCounts, "max", "8", "maximum numbers of volumes, count[,count]... If set to zero, the limit will be auto configured as free disk space divided by volume size.")
	fs.StringVar(&o.whiteList, "whiteList", "", "comma separated Ip addresses having write permission. No limit if empty.")
	fs.StringVar(&o.minFreeSpacePercent, "minFreeSpacePercent", "1", "minimum free disk space (default to 1%). Low disk space will mark all volumes as ReadOnly (deprecated, use minFreeSpace instead).")
	fs.StringVar(&o.minFreeSpace, "minFreeSpace", "", "min free disk space (value<=100 as percentage like 1, other as human readable bytes, like 10GiB). Low disk space will mark all volumes as ReadOnly.")
	fs.StringVar(&o.optionsFile, "options", "", "a file of command line options, each line in optionName=optionValue format")

	fs.StringVar(&o.securityFile, "securityFile", "", "path to security.toml (default: searched as upstream, starting at -config_dir)")
	fs.StringVar(&o.ioEngine, "ioengine", "auto", ".dat I/O engine [auto|uring|sync]")
	fs.IntVar(&o.offsetSize, "index.offsetSize", 4, ".idx offset width for new volumes, 4 (32GB volumes) or 5 (8TB)")
	fs.BoolVar(&o.showVersion, "version", false, "print weedvol's version, commit and Go version, and the upstream version it is compatible with, then exit")
	addGlobalFlags(fs, o)
	return fs
}

// parseArgs accepts `[global flags] [volume|version] [volume flags]`,
// every flag in -flag=value, -flag value, --flag=value or --flag value
// form. As upstream, a volume flag not on the command line is then taken
// from the environment (WEED_ and the flag's name in capitals, '.' and '-'
// as '_'), and one still unset from the -options file.
func parseArgs(args []string) (*options, error) {
	return parseArgsEnv(args, os.Environ())
}

func parseArgsEnv(args, environ []string) (*options, error) {
	o := &options{command: "volume"}
	fs := volumeFlags(o)
	rest := args
	for i, a := range args {
		if (a == "volume" || a == "version") && (i == 0 || !needsValue(fs, args[i-1])) {
			global := flag.NewFlagSet("weedvol", flag.ContinueOnError)
			global.SetOutput(io.Discard)
			addGlobalFlags(global, o)
			if err := global.Parse(args[:i]); err != nil {
				return nil, fmt.Errorf("global flags: %w", err)
			}
			o.command = a
			rest = args[i+1:]
			break
		}
	}
	if err := fs.Parse(rest); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.showVersion {
		o.command = "version"
	}
	if o.command == "version" {
		return o, nil
	}
	o.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	if err := applyEnv(fs, o.set, environ); err != nil {
		return nil, err
	}
	if o.optionsFile != "" {
		if err := applyOptionsFile(fs, o.set, o.optionsFile); err != nil {
			return nil, err
		}
	}
	return o, o.validate()
}

// isGlobal reports whether name is one of the flags upstream takes before
// the subcommand; the environment and -options set only volume flags.
func isGlobal(name string) bool {
	g := flag.NewFlagSet("", flag.ContinueOnError)
	addGlobalFlags(g, &options{})
	return g.Lookup(name) != nil
}

// applyEnv sets each volume flag not in set from WEED_<NAME>, as
// upstream's flag package does. An empty value turns a bool flag on.
func applyEnv(fs *flag.FlagSet, set map[string]bool, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if i := strings.IndexByte(kv, '='); i > 0 {
			env[kv[:i]] = kv[i+1:]
		}
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] || isGlobal(f.Name) {
			return
		}
		key := "WEED_" + strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToUpper(f.Name))
		val, ok := env[key]
		if !ok {
			return
		}
		if val == "" && isBool(f) {
			val = "true"
		}
		if e := f.Value.Set(val); e != nil {
			err = fmt.Errorf("invalid value %q for environment variable %s: %v", val, f.Name, e)
			return
		}
		set[f.Name] = true
	})
	return err
}

// applyOptionsFile reads upstream's -options file: one flag a line, as
// name=value, "name value" or name:value, an optional leading '-'; blank
// lines and lines starting with '#' are skipped. A flag already set on the
// command line or in the environment keeps that value, an unknown name is
// ignored (as upstream), and a bad value is an error.
func applyOptionsFile(fs *flag.FlagSet, set map[string]bool, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("-options: %w", err)
	}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		name, value := line, ""
		if i := strings.IndexAny(line, "= :"); i >= 0 {
			name, value = strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+1:])
		}
		name = strings.TrimPrefix(name, "-")
		f := fs.Lookup(name)
		if set[name] || f == nil || isGlobal(name) {
			continue
		}
		if value == "" && isBool(f) {
			value = "true"
		}
		if err := f.Value.Set(value); err != nil {
			return fmt.Errorf("-options %s line %d: invalid value %q for configuration variable %s: %v", path, n+1, value, name, err)
		}
		set[name] = true
	}
	return nil
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// needsValue reports whether arg is a flag that takes the next argument.
func needsValue(fs *flag.FlagSet, arg string) bool {
	name := strings.TrimLeft(arg, "-")
	if name == arg || strings.Contains(name, "=") {
		return false
	}
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	return !isBool(f)
}

func (o *options) validate() error {
	if o.mserver != "" {
		o.masters = o.mserver
	}
	switch o.readMode {
	case "local", "proxy", "redirect":
	default:
		return fmt.Errorf("-readMode must be local, proxy or redirect, not %q", o.readMode)
	}
	switch o.ioEngine {
	case "auto", "uring", "sync":
	default:
		return fmt.Errorf("-ioengine must be auto, uring or sync, not %q", o.ioEngine)
	}
	if o.offsetSize != 4 && o.offsetSize != 5 {
		return fmt.Errorf("-index.offsetSize must be 4 or 5, not %d", o.offsetSize)
	}
	if o.port <= 0 || o.port > 65535 {
		return fmt.Errorf("-port %d out of range", o.port)
	}
	if o.portGrpc == 0 {
		o.portGrpc = o.port + 10000
	}
	if o.portPublic == 0 {
		o.portPublic = o.port
	}
	if o.ipBind == "" {
		o.ipBind = o.ip
	}
	if o.fileSizeLimitMB <= 0 {
		return errors.New("-fileSizeLimitMB must be positive")
	}
	if o.debug && (o.debugPort <= 0 || o.debugPort > 65535) {
		return fmt.Errorf("-debug.port %d out of range", o.debugPort)
	}
	if _, err := engine.ParseMinFreeSpaces(o.minFreeSpace, o.minFreeSpacePercent); err != nil {
		return fmt.Errorf("-minFreeSpace: %w", err)
	}
	return nil
}

// notes are the start-up log lines for flags set to something weedvol's
// design makes moot: what weedvol does instead (README, Flags).
func (o *options) notes() []string {
	var out []string
	note := func(name, format string, args ...any) {
		if o.set[name] {
			out = append(out, fmt.Sprintf("-%s: ", name)+fmt.Sprintf(format, args...))
		}
	}
	if o.index != "memory" {
		note("index", "%q: weedvol keeps every volume's index in a memory-mapped file (.wvx) that the page cache pages in and out, so no leveldb is needed", o.index)
	}
	note("index.leveldbTimeout", "weedvol has no leveldb; volumes unused for 10 minutes close their files instead")
	note("hasSlowRead", "weedvol reads never hold a lock that writes or other reads wait for, whatever this says")
	note("readBufferSizeMB", "weedvol reads and streams each needle with buffers sized to the request")
	for _, f := range []string{"fsyncMinBatchBytes", "fsyncMinBatchRequests", "fsyncBatchWait"} {
		note(f, "weedvol's group commit syncs each batch of concurrent writes at once and never waits for more")
	}
	if o.pprof && (o.cpuProfile != "" || o.memProfile != "") {
		out = append(out, "-pprof precludes -cpuprofile and -memprofile (as upstream): no profile files are written")
	}
	return out
}

// minFreeSpaces pairs -minFreeSpace (or -minFreeSpacePercent) with the
// directories as upstream: one value applies to all.
func (o *options) minFreeSpaces(dirs int) ([]engine.MinFreeSpace, error) {
	m, err := engine.ParseMinFreeSpaces(o.minFreeSpace, o.minFreeSpacePercent)
	if err != nil {
		return nil, fmt.Errorf("-minFreeSpace: %w", err)
	}
	if len(m) == 1 {
		for len(m) < dirs {
			m = append(m, m[0])
		}
	}
	if len(m) != dirs {
		return nil, fmt.Errorf("%d directories by -dir, but %d -minFreeSpace values", dirs, len(m))
	}
	return m, nil
}

// dirTags splits -tags as upstream: comma-separated groups, one per
// directory (a single group applies to all), each of ':'-separated tags,
// lower-cased, trimmed, without blanks or repeats.
func dirTags(arg string, dirs int) [][]string {
	var groups []string
	if strings.TrimSpace(arg) != "" {
		groups = strings.Split(arg, ",")
	}
	out := make([][]string, dirs)
	for i := range out {
		g := ""
		switch {
		case len(groups) == 1:
			g = groups[0]
		case i < len(groups):
			g = groups[i]
		}
		out[i] = []string{}
		for _, t := range strings.Split(g, ":") {
			t = strings.ToLower(strings.TrimSpace(t))
			if t != "" && !slices.Contains(out[i], t) {
				out[i] = append(out[i], t)
			}
		}
	}
	return out
}

// locations pairs -dir, -max and -disk lists as upstream does: a single
// -max or -disk value applies to every directory.
func (o *options) locations() ([]locationFlag, error) {
	dirs := strings.Split(o.dirs, ",")
	maxes := strings.Split(o.maxCounts, ",")
	disks := strings.Split(o.disk, ",")
	if len(maxes) != 1 && len(maxes) != len(dirs) {
		return nil, fmt.Errorf("%d directories but %d -max values", len(dirs), len(maxes))
	}
	if len(disks) != 1 && len(disks) != len(dirs) {
		return nil, fmt.Errorf("%d directories but %d -disk values", len(dirs), len(disks))
	}
	var out []locationFlag
	for i, d := range dirs {
		m := maxes[0]
		if len(maxes) > 1 {
			m = maxes[i]
		}
		n, err := strconv.Atoi(strings.TrimSpace(m))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("-max %q is not a count", m)
		}
		// 0: sized from the free space once the master tells the volume
		// size limit (engine.Store.AdjustAutoMax), as upstream
		dt := disks[0]
		if len(disks) > 1 {
			dt = disks[i]
		}
		out = append(out, locationFlag{dir: strings.TrimSpace(d), max: n, disk: strings.TrimSpace(dt)})
	}
	return out, nil
}

type locationFlag struct {
	dir  string
	max  int
	disk string
}
