package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

func gather(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// value is the value of the series of family name whose labels are
// exactly labels ("k=v,k=v" in label-name order), and whether it exists.
func value(fams map[string]*dto.MetricFamily, name, labels string) (float64, bool) {
	for _, s := range fams[name].GetMetric() {
		var parts []string
		for _, l := range s.GetLabel() {
			parts = append(parts, l.GetName()+"="+l.GetValue())
		}
		if strings.Join(parts, ",") != labels {
			continue
		}
		switch {
		case s.Counter != nil:
			return s.GetCounter().GetValue(), true
		case s.Gauge != nil:
			return s.GetGauge().GetValue(), true
		case s.Histogram != nil:
			return float64(s.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func TestRequestsAreCountedByTypeAndCode(t *testing.T) {
	m := New(BuildInfo{Version: "4.53", SizeLimit: "30GB"})
	for _, r := range []struct {
		method   string
		code     int
		inflight bool
	}{
		{"GET", 200, true}, {"GET", 200, false}, {"GET", 404, true}, {"HEAD", 200, true},
		{"POST", 201, true}, {"PUT", 201, true}, {"DELETE", 202, true}, {"OPTIONS", 200, true},
		{"BREW", 400, true}, {"GET", 999, true}, // beyond the cached codes
	} {
		m.Begin(TypeOf([]byte(r.method)), r.inflight).End(r.code)
	}
	m.BeginStage(TypeWriteToLocalDisk).End()
	fams := gather(t, m)
	for _, c := range []struct {
		family, labels string
		want           float64
	}{
		{"SeaweedFS_volumeServer_request_total", "code=200,type=GET", 2},
		{"SeaweedFS_volumeServer_request_total", "code=404,type=GET", 1},
		{"SeaweedFS_volumeServer_request_total", "code=200,type=HEAD", 1},
		{"SeaweedFS_volumeServer_request_total", "code=201,type=POST", 1},
		{"SeaweedFS_volumeServer_request_total", "code=201,type=PUT", 1},
		{"SeaweedFS_volumeServer_request_total", "code=202,type=DELETE", 1},
		{"SeaweedFS_volumeServer_request_total", "code=200,type=OPTIONS", 1},
		{"SeaweedFS_volumeServer_request_total", "code=400,type=INVALID", 1},
		{"SeaweedFS_volumeServer_request_total", "code=999,type=GET", 1},
		{"SeaweedFS_volumeServer_request_seconds", "type=GET", 4},
		{"SeaweedFS_volumeServer_request_seconds", "type=writeToLocalDisk", 1},
		{"SeaweedFS_volumeServer_in_flight_requests", "type=GET", 0},
		{"SeaweedFS_volumeServer_in_flight_requests", "type=writeToLocalDisk", 0},
		{"SeaweedFS_build_info", "commit=,goarch=" + goarch() + ",goos=" + goos() + ",sizelimit=30GB,version=4.53", 1},
	} {
		got, ok := value(fams, c.family, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s{%s} = %v (present %v), want %v", c.family, c.labels, got, ok, c.want)
		}
	}
	if _, ok := value(fams, "SeaweedFS_volumeServer_request_total", "code=200,type=POST"); ok {
		t.Error("a series that never happened is exported")
	}
}

func TestHooksDoNotAllocate(t *testing.T) {
	m := New(BuildInfo{})
	// the first use of each label combination resolves its child
	m.Begin(TypeGet, true).End(200)
	m.BeginStage(TypeWriteToLocalDisk).End()
	m.Handler(ErrorGetNotFound)
	for name, f := range map[string]func(){
		"request":  func() { m.Begin(TypeGet, true).End(200) },
		"stage":    func() { m.BeginStage(TypeWriteToLocalDisk).End() },
		"handler":  func() { m.Handler(ErrorGetNotFound) },
		"notFound": func() { m.NotFound() },
		"sendfile": func() { m.AddSendfileBytes(1 << 20) },
		"targets":  func() { m.ReplicationTargets(0) },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s allocates %v times per call", name, n)
		}
	}
}

// fixedNode is a NodeSource with set contents (the real one, grpcsvc's,
// is exercised by the end-to-end tests in cmd/weedvol).
type fixedNode Node

func (n *fixedNode) MetricsSnapshot() Node { return Node(*n) }

func TestNodeGaugesFollowUpstreamLifetimes(t *testing.T) {
	m := New(BuildInfo{})
	if _, ok := gather(t, m)["SeaweedFS_volumeServer_max_volumes"]; ok {
		t.Error("node gauges before a source is set")
	}
	n := &fixedNode{
		Collections: map[string]*CollectionStats{
			"":    {Volumes: 2, Size: 100, DeletedBytes: 10, ReadOnly: 1, NoWriteOrDelete: 1},
			"pic": {EcShards: 3, EcSize: 300},
		},
		Disks:      []Disk{{Dir: "/d1", All: 1000, Used: 400, Free: 600, Avail: 590}, {Dir: "/d2", Error: true}},
		MaxVolumes: 16,
	}
	m.SetNode(n)
	fams := gather(t, m)
	for _, c := range []struct {
		family, labels string
		want           float64
	}{
		{"SeaweedFS_volumeServer_volumes", "collection=,type=volume", 2},
		{"SeaweedFS_volumeServer_volumes", "collection=pic,type=ec_shards", 3},
		{"SeaweedFS_volumeServer_total_disk_size", "collection=,type=normal", 100},
		{"SeaweedFS_volumeServer_total_disk_size", "collection=,type=deleted_bytes", 10},
		{"SeaweedFS_volumeServer_total_disk_size", "collection=pic,type=ec", 300},
		{"SeaweedFS_volumeServer_read_only_volumes", "collection=,type=IsReadOnly", 1},
		{"SeaweedFS_volumeServer_read_only_volumes", "collection=,type=noWriteOrDelete", 1},
		{"SeaweedFS_volumeServer_read_only_volumes", "collection=,type=isDiskSpaceLow", 0},
		{"SeaweedFS_volumeServer_max_volumes", "", 16},
		{"SeaweedFS_volumeServer_resource", "name=/d1,type=avail", 590},
		{"SeaweedFS_volumeServer_disk_error_status", "name=/d1,type=error", 0},
		{"SeaweedFS_volumeServer_disk_error_status", "name=/d2,type=error", 1},
		{"SeaweedFS_volumeServer_io_quarantine", "kind=volume", 0},
	} {
		got, ok := value(fams, c.family, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s{%s} = %v (present %v), want %v", c.family, c.labels, got, ok, c.want)
		}
	}
	// the collection's last volume goes: its count stays at 0, its sizes go
	delete(n.Collections, "")
	fams = gather(t, m)
	if got, ok := value(fams, "SeaweedFS_volumeServer_volumes", "collection=,type=volume"); !ok || got != 0 {
		t.Errorf("volumes of a gone collection = %v (present %v), want 0", got, ok)
	}
	if _, ok := value(fams, "SeaweedFS_volumeServer_total_disk_size", "collection=,type=normal"); ok {
		t.Error("sizes of a gone collection still exported")
	}
}

func TestReplicationReasons(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{context.DeadlineExceeded, "timeout"},
		{fmt.Errorf("forward: %w", context.Canceled), "context_cancelled"},
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), "connection_refused"},
		{errors.New("replica answered 500"), "server_error"},
	} {
		if got := ReplicationReason(c.err); got != c.want {
			t.Errorf("ReplicationReason(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}

// TestServeAndPush serves the registry on a real socket and pushes it to a
// real HTTP server standing in for the gateway.
func TestServeAndPush(t *testing.T) {
	m := New(BuildInfo{})
	m.Begin(TypeGet, false).End(200)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:14900")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, ln) }()
	for path, want := range map[string]int{"/metrics": 200, "/": 404, "/status": 404} {
		resp, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
		if path == "/metrics" && !strings.Contains(string(body), `SeaweedFS_volumeServer_request_total{code="200",type="GET"} 1`) {
			t.Errorf("scrape lacks the request counter:\n%s", body)
		}
	}

	got := make(chan string, 10)
	gw := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got <- r.Method + " " + r.URL.Path
	})}
	gln, err := net.Listen("tcp", "127.0.0.1:14901")
	if err != nil {
		t.Fatal(err)
	}
	go gw.Serve(gln)
	defer gw.Close()
	go m.PushLoop(ctx, Push{Address: gln.Addr().String(), Interval: 50 * time.Millisecond}, "volumeServer", "127.0.0.1:8080", nil)
	for i := 0; i < 2; i++ {
		select {
		case p := <-got:
			if p != "PUT /metrics/job/volumeServer/instance/127.0.0.1:8080" {
				t.Errorf("push %d: %s", i, p)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("push %d never came", i)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
	// no gateway announced: nothing to do
	m.PushLoop(context.Background(), Push{}, "volumeServer", "x", nil)
}

func goos() string   { return runtime.GOOS }
func goarch() string { return runtime.GOARCH }

// BenchmarkRequestHooks is what metrics add to each request to a needle:
// Begin and End on the admin port (in-flight gauge, counter, histogram).
func BenchmarkRequestHooks(b *testing.B) {
	m := New(BuildInfo{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Begin(TypeGet, true).End(200)
		}
	})
}
