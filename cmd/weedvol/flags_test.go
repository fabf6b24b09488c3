package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/wlog"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(o *options) bool
		err   bool
	}{
		{"defaults", nil, func(o *options) bool {
			return o.port == 8080 && o.portGrpc == 18080 && o.portPublic == 8080 && o.masters == "localhost:9333" && o.maxCounts == "8" && o.readMode == "proxy" && o.fileSizeLimitMB == 256
		}, false},
		{"weed volume command line", []string{"-config_dir=/etc/x", "volume", "-port=9000", "-dir=/d1,/d2", "-max=3,4", "-mserver=m:1"}, func(o *options) bool {
			return o.configDir == "/etc/x" && o.port == 9000 && o.portGrpc == 19000 && o.masters == "m:1"
		}, false},
		{"double dash with spaces", []string{"volume", "--port", "9001", "--port.grpc", "19999", "--ip.bind", "127.0.0.1", "--preStopSeconds", "0", "--inflightUploadDataTimeout", "2s"}, func(o *options) bool {
			return o.port == 9001 && o.portGrpc == 19999 && o.ipBind == "127.0.0.1" && o.preStopSeconds == 0 && o.inflightUploadTimeout == 2*time.Second
		}, false},
		{"no subcommand", []string{"-port=9002", "-readMode=local", "-v=1"}, func(o *options) bool { return o.port == 9002 && o.readMode == "local" }, false},
		{"bool flag", []string{"volume", "-volume.allowUntrustedRemoteEndpoints", "-port", "9003"}, func(o *options) bool { return o.allowUntrusted && o.port == 9003 }, false},
		{"weedvol additions", []string{"-ioengine=sync", "-index.offsetSize=5"}, func(o *options) bool { return o.ioEngine == "sync" && o.offsetSize == 5 }, false},
		{"glog flags before volume", []string{"-v=2", "-logdir=/l", "-logtostderr", "-stderrthreshold=WARNING", "-vmodule=store=3", "volume", "-port=9004"}, func(o *options) bool {
			return o.log.V == 2 && o.log.Dir == "/l" && o.log.ToStderr && o.log.StderrThreshold == wlog.Warning && o.log.VModule == "store=3" && o.log.AlsoToStderr && o.port == 9004
		}, false},
		{"glog defaults as upstream", nil, func(o *options) bool {
			return o.log.V == 0 && o.log.Dir == "" && !o.log.ToStderr && o.log.AlsoToStderr && o.log.StderrThreshold == wlog.Error &&
				o.log.MaxSizeMB == 1800 && o.log.MaxFiles == 5 && o.log.RotateHours == 168 && !o.log.Compress && !o.log.JSON
		}, false},
		{"rotation and json flags after volume", []string{"volume", "-log_max_size_mb=10", "-log_max_files=3", "-log_rotate_hours=0", "-log_compress", "-log_json", "-log_dir=/d", "-alsologtostderr=false"}, func(o *options) bool {
			return o.log.MaxSizeMB == 10 && o.log.MaxFiles == 3 && o.log.RotateHours == 0 && o.log.Compress && o.log.JSON && o.log.Dir == "/d" && !o.log.AlsoToStderr
		}, false},
		{"klog flags still accepted", []string{"-skip_headers", "-log_file=/x", "-log_backtrace_at=a.go:1"}, func(o *options) bool { return true }, false},
		{"bad -v", []string{"-v=loud"}, nil, true},
		{"bad -vmodule", []string{"volume", "-vmodule=store"}, nil, true},
		{"bad -stderrthreshold", []string{"-stderrthreshold=LOUD", "volume"}, nil, true},
		{"unknown flag", []string{"volume", "-nope=1"}, nil, true},
		{"bad read mode", []string{"-readMode=sometimes"}, nil, true},
		{"bad io engine", []string{"-ioengine=fast"}, nil, true},
		{"bad port", []string{"-port=70000"}, nil, true},
		{"stray argument", []string{"volume", "extra"}, nil, true},
	}
	for _, tc := range tests {
		o, err := parseArgs(tc.args)
		if (err != nil) != tc.err {
			t.Errorf("%s: err %v", tc.name, err)
			continue
		}
		if err == nil && !tc.check(o) {
			t.Errorf("%s: parsed %+v", tc.name, o)
		}
	}
}

func TestLocations(t *testing.T) {
	o, err := parseArgs([]string{"-dir=/a,/b", "-max=3,4", "-disk=ssd"})
	if err != nil {
		t.Fatal(err)
	}
	locs, err := o.locations()
	if err != nil || len(locs) != 2 || locs[0].max != 3 || locs[1].max != 4 || locs[1].disk != "ssd" {
		t.Fatalf("%+v %v", locs, err)
	}
	o, _ = parseArgs([]string{"-dir=/a,/b", "-max=3,4,5"})
	if _, err := o.locations(); err == nil {
		t.Fatal("mismatched -max accepted")
	}
}

func TestBadLogDirStopsStartUp(t *testing.T) {
	if code := run([]string{"-logdir=" + t.TempDir() + "/missing", "volume", "-port=15990"}); code != 2 {
		t.Fatalf("a -logdir that does not exist: exit %d, want 2", code)
	}
}

// TestFlagSources checks upstream's precedence: command line, then the
// WEED_ environment, then the -options file; and the file's syntax.
func TestFlagSources(t *testing.T) {
	dir := t.TempDir()
	file := func(body string) string {
		p := filepath.Join(dir, fmt.Sprintf("opts%d", len(body)))
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	opts := file("# comment\n\nport=9100\n-rack r1\ndataCenter:dc1\nmax=0\npprof\nnosuchflag=1\nlog_dir=/x\n")
	tests := []struct {
		name  string
		args  []string
		env   []string
		check func(o *options) bool
		err   string
	}{
		{"file", []string{"-options=" + opts}, nil, func(o *options) bool {
			return o.port == 9100 && o.rack == "r1" && o.dataCenter == "dc1" && o.maxCounts == "0" && o.pprof && o.set["rack"]
		}, ""},
		{"command line wins over file", []string{"-options", opts, "-port=9200"}, nil, func(o *options) bool { return o.port == 9200 && o.rack == "r1" }, ""},
		{"environment wins over file", []string{"-options=" + opts}, []string{"WEED_PORT=9300", "WEED_PORT_GRPC=19999"}, func(o *options) bool {
			return o.port == 9300 && o.portGrpc == 19999
		}, ""},
		{"environment names the file", nil, []string{"WEED_OPTIONS=" + opts}, func(o *options) bool { return o.port == 9100 }, ""},
		{"environment bool without value", nil, []string{"WEED_PPROF="}, func(o *options) bool { return o.pprof }, ""},
		{"command line wins over environment", []string{"-port=9400"}, []string{"WEED_PORT=9300"}, func(o *options) bool { return o.port == 9400 }, ""},
		{"bad value in file", []string{"-options=" + file("port=abc\n")}, nil, nil, "line 1: invalid value \"abc\" for configuration variable port"},
		{"missing file", []string{"-options=" + filepath.Join(dir, "none")}, nil, nil, "no such file"},
		{"bad environment value", nil, []string{"WEED_IDLETIMEOUT=x"}, nil, "environment variable idleTimeout"},
	}
	for _, tc := range tests {
		o, err := parseArgsEnv(tc.args, tc.env)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || !tc.check(o) {
			t.Errorf("%s: %+v %v", tc.name, o, err)
		}
	}
}

// TestFlagDecisions covers the flags weedvol refuses, the ones it notes
// as moot, and the parsing of the ones it acts on.
func TestFlagDecisions(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		err   string // refused at start-up with this in the message
		notes []string
	}{
		{"defaults say nothing", nil, "", nil},
		{"defaults given explicitly", []string{"-index=memory", "-hasSlowRead=true"}, "", []string{"-hasSlowRead"}},
		{"leveldb index", []string{"-index=leveldbLarge"}, "", []string{"-index: \"leveldbLarge\""}},
		{"moot tuning", []string{"-readBufferSizeMB=16", "-fsyncBatchWait=1ms", "-index.leveldbTimeout=3"}, "", []string{"-index.leveldbTimeout", "-readBufferSizeMB", "-fsyncBatchWait"}},
		{"pprof precludes profiles", []string{"-pprof", "-cpuprofile=/tmp/x"}, "", []string{"-pprof precludes"}},
		{"jpg orientation is acted on", []string{"-images.fix.orientation"}, "", nil},
		{"bad minFreeSpace", []string{"-minFreeSpace=lots"}, "minFreeSpace is invalid", nil},
		{"percent over 100", []string{"-minFreeSpace=101"}, "minFreeSpace is invalid", nil},
		{"size too small", []string{"-minFreeSpace=50B"}, "minFreeSpace is invalid", nil},
		{"bad deprecated percent", []string{"-minFreeSpacePercent=x"}, "minFreeSpace is invalid", nil},
		{"bad debug port", []string{"-debug", "-debug.port=0"}, "-debug.port", nil},
	}
	for _, tc := range tests {
		o, err := parseArgsEnv(tc.args, nil)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		notes := o.notes()
		if len(notes) != len(tc.notes) {
			t.Errorf("%s: notes %q, want %d", tc.name, notes, len(tc.notes))
			continue
		}
		for i, want := range tc.notes {
			if !strings.HasPrefix(notes[i], want) {
				t.Errorf("%s: note %q, want prefix %q", tc.name, notes[i], want)
			}
		}
	}
}

func TestMinFreeSpaces(t *testing.T) {
	tests := []struct {
		space, percent string
		dirs           int
		want           []engine.MinFreeSpace
		err            bool
	}{
		{"", "1", 2, []engine.MinFreeSpace{{Percent: 1, Raw: "1"}, {Percent: 1, Raw: "1"}}, false},
		{"10GiB", "1", 1, []engine.MinFreeSpace{{Bytes: 10 << 30, Raw: "10GiB"}}, false},
		{"5,2.5", "1", 2, []engine.MinFreeSpace{{Percent: 5, Raw: "5"}, {Percent: 2.5, Raw: "2.5"}}, false},
		{"1,000,000", "", 1, nil, true}, // three values (commas split the list first), one directory
		{"1.5G", "", 1, []engine.MinFreeSpace{{Bytes: 1500000000, Raw: "1.5G"}}, false},
		{"200 MiB", "", 1, []engine.MinFreeSpace{{Bytes: 200 << 20, Raw: "200 MiB"}}, false},
		{"1,2,3", "", 2, nil, true},
	}
	for _, tc := range tests {
		o := &options{minFreeSpace: tc.space, minFreeSpacePercent: tc.percent}
		got, err := o.minFreeSpaces(tc.dirs)
		if (err != nil) != tc.err || (!tc.err && !slices.Equal(got, tc.want)) {
			t.Errorf("%q/%q over %d dirs: %+v %v", tc.space, tc.percent, tc.dirs, got, err)
		}
	}
}

func TestDirTags(t *testing.T) {
	tests := []struct {
		arg  string
		dirs int
		want [][]string
	}{
		{"", 2, [][]string{{}, {}}},
		{"Fast:SSD: fast ", 2, [][]string{{"fast", "ssd"}, {"fast", "ssd"}}},
		{"fast:ssd,archive", 3, [][]string{{"fast", "ssd"}, {"archive"}, {}}},
	}
	for _, tc := range tests {
		got := dirTags(tc.arg, tc.dirs)
		if !slices.EqualFunc(got, tc.want, slices.Equal[[]string]) {
			t.Errorf("%q over %d: %q", tc.arg, tc.dirs, got)
		}
	}
}

func TestVersionCommand(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"-version"}, {"--version"}, {"-config_dir=/x", "version"}} {
		o, err := parseArgsEnv(args, nil)
		if err != nil || o.command != "version" {
			t.Errorf("%q: %+v %v", args, o, err)
		}
	}
}
