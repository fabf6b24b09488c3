package main

import (
	"testing"
	"time"
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
