package main

import (
	"testing"
	"time"

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
