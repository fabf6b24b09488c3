package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

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

	// accepted for compatibility; weedvol's engine makes them moot
	compactionMBps, maintenanceMBps, compactionMaxParallelCommits int
	fixJpgOrientation, hasSlowRead, allowUntrusted                bool
	readBufferSizeMB                                              int
	ldbTimeout                                                    int64
	fsyncMinBatchBytes                                            int64
	fsyncMinBatchRequests                                         int
	fsyncBatchWait                                                time.Duration

	// weedvol additions
	ioEngine   string
	offsetSize int

	log wlog.Options // upstream's glog flags
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

func volumeFlags(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("weedvol volume", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&o.port, "port", 8080, "http listen port")
	fs.IntVar(&o.portGrpc, "port.grpc", 0, "grpc listen port (default port+10000)")
	fs.IntVar(&o.portPublic, "port.public", 0, "port opened to public (read only)")
	fs.StringVar(&o.ip, "ip", detectedIP(), "ip or server name, also used as identifier")
	fs.StringVar(&o.id, "id", "", "volume server id. If empty, default to ip:port")
	fs.StringVar(&o.publicURL, "publicUrl", "", "publicly accessible address")
	fs.StringVar(&o.ipBind, "ip.bind", "", "ip address to bind to. If empty, default to same as -ip option")
	fs.StringVar(&o.masters, "master", "localhost:9333", "comma-separated master servers")
	fs.StringVar(&o.mserver, "mserver", "", "comma-separated master servers (deprecated, use -master instead)")
	fs.IntVar(&o.preStopSeconds, "preStopSeconds", 10, "number of seconds between stop send heartbeats and stop volume server")
	fs.IntVar(&o.idleTimeout, "idleTimeout", 30, "connection idle seconds")
	fs.StringVar(&o.dataCenter, "dataCenter", "", "current volume server's data center name")
	fs.StringVar(&o.rack, "rack", "", "current volume server's rack name")
	fs.StringVar(&o.index, "index", "memory", "[memory|leveldb|leveldbMedium|leveldbLarge]; weedvol always uses its memory-mapped index")
	fs.StringVar(&o.disk, "disk", "", "[hdd|ssd|<tag>] disk type, per directory as a comma list")
	fs.StringVar(&o.tags, "tags", "", "comma-separated tag groups per data dir")
	fs.BoolVar(&o.fixJpgOrientation, "images.fix.orientation", false, "adjust jpg orientation when uploading")
	fs.StringVar(&o.readMode, "readMode", "proxy", "[local|proxy|redirect] how to deal with non-local volume")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "cpu profile output file")
	fs.StringVar(&o.memProfile, "memprofile", "", "memory profile output file")
	fs.IntVar(&o.compactionMBps, "compactionMBps", 0, "limit background compaction or copying speed in MB/s")
	fs.IntVar(&o.maintenanceMBps, "maintenanceMBps", 0, "limit maintenance IO rate in MB/s")
	fs.IntVar(&o.compactionMaxParallelCommits, "compactionMaxParallelCommits", 0, "limit parallel vacuum commits")
	fs.IntVar(&o.fileSizeLimitMB, "fileSizeLimitMB", 256, "limit file size to avoid out of memory")
	fs.Int64Var(&o.ldbTimeout, "index.leveldbTimeout", 0, "accepted for compatibility")
	fs.IntVar(&o.concurrentUploadLimitMB, "concurrentUploadLimitMB", 0, "limit total concurrent upload size, 0 means unlimited")
	fs.IntVar(&o.concurrentDownloadLimitMB, "concurrentDownloadLimitMB", 0, "limit total concurrent download size, 0 means unlimited")
	fs.BoolVar(&o.pprof, "pprof", false, "enable pprof http handlers")
	fs.IntVar(&o.metricsPort, "metricsPort", 0, "Prometheus metrics listen port")
	fs.StringVar(&o.metricsIP, "metricsIp", "", "metrics listen ip. If empty, default to same as -ip.bind option")
	fs.StringVar(&o.idxDir, "dir.idx", "", "directory to store .idx files")
	fs.DurationVar(&o.inflightUploadTimeout, "inflightUploadDataTimeout", 60*time.Second, "inflight upload data wait timeout")
	fs.DurationVar(&o.inflightDownloadTimeout, "inflightDownloadDataTimeout", 60*time.Second, "inflight download data wait timeout")
	fs.BoolVar(&o.hasSlowRead, "hasSlowRead", true, "accepted for compatibility")
	fs.IntVar(&o.readBufferSizeMB, "readBufferSizeMB", 4, "accepted for compatibility")
	fs.BoolVar(&o.allowUntrusted, "volume.allowUntrustedRemoteEndpoints", false, "if true, peers and remote endpoints on loopback, link-local and instance-metadata addresses are accepted (VolumeCopy, VolumeTailReceiver, FetchAndWriteNeedle). Default refuses them.")
	fs.Int64Var(&o.fsyncMinBatchBytes, "fsyncMinBatchBytes", 1<<20, "accepted for compatibility (weedvol group-commits every batch)")
	fs.IntVar(&o.fsyncMinBatchRequests, "fsyncMinBatchRequests", 128, "accepted for compatibility")
	fs.DurationVar(&o.fsyncBatchWait, "fsyncBatchWait", 500*time.Microsecond, "accepted for compatibility")
	fs.BoolVar(&o.debug, "debug", false, "serve pprof on -debug.port")
	fs.IntVar(&o.debugPort, "debug.port", 6060, "http port for debugging")
	fs.StringVar(&o.dirs, "dir", os.TempDir(), "directories to store data files. dir[,dir]...")
	fs.StringVar(&o.maxCounts, "max", "8", "maximum numbers of volumes, count[,count]...")
	fs.StringVar(&o.whiteList, "whiteList", "", "comma separated IP addresses having write permission. No limit if empty")
	fs.StringVar(&o.minFreeSpacePercent, "minFreeSpacePercent", "1", "minimum free disk space percent (deprecated)")
	fs.StringVar(&o.minFreeSpace, "minFreeSpace", "", "min free disk space")
	fs.StringVar(&o.securityFile, "securityFile", "", "path to security.toml (default: searched as upstream, starting at -config_dir)")
	fs.StringVar(&o.ioEngine, "ioengine", "auto", "weedvol: .dat I/O engine [auto|uring|sync]")
	fs.IntVar(&o.offsetSize, "index.offsetSize", 4, "weedvol: .idx offset width for new volumes, 4 (32GB volumes) or 5 (8TB)")
	addGlobalFlags(fs, o)
	return fs
}

// parseArgs accepts `[global flags] [volume] [volume flags]`, every flag in
// -flag=value, -flag value, --flag=value or --flag value form.
func parseArgs(args []string) (*options, error) {
	o := &options{}
	fs := volumeFlags(o)
	rest := args
	for i, a := range args {
		if a == "volume" && (i == 0 || !needsValue(fs, args[i-1])) {
			global := flag.NewFlagSet("weedvol", flag.ContinueOnError)
			global.SetOutput(io.Discard)
			addGlobalFlags(global, o)
			if err := global.Parse(args[:i]); err != nil {
				return nil, fmt.Errorf("global flags: %w", err)
			}
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
	return o, o.validate()
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
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return false
	}
	return true
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
	return nil
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
		if n == 0 {
			n = 8 // auto sizing from free space is not implemented yet
		}
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
