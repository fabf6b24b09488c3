package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/weedvol/weedvol/internal/weedproc"
)

// push is one request a volume server made to the gateway.
type push struct {
	method, path string
	families     map[string]*dto.MetricFamily
}

// gateway is a real HTTP server standing in for the Prometheus push
// gateway: it decodes and records every push, answering 200 as the
// gateway does.
type gateway struct {
	mu     sync.Mutex
	pushes []push
	errs   []error
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := push{method: r.Method, path: r.URL.Path, families: map[string]*dto.MetricFamily{}}
	dec := expfmt.NewDecoder(r.Body, expfmt.ResponseFormat(r.Header))
	var err error
	for {
		mf := &dto.MetricFamily{}
		if err = dec.Decode(mf); err != nil {
			break
		}
		p.families[mf.GetName()] = mf
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !errors.Is(err, io.EOF) {
		g.errs = append(g.errs, err)
	}
	g.pushes = append(g.pushes, p)
}

// from returns the pushes whose path is path.
func (g *gateway) from(path string) []push {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []push
	for _, p := range g.pushes {
		if p.path == path {
			out = append(out, p)
		}
	}
	return out
}

// TestMetricsPushToGateway starts the real upstream master announcing a
// gateway (-metrics.address, -metrics.intervalSeconds=1), an upstream
// volume server and weedvol under it, and checks that weedvol pushes as
// upstream does: same method and path (job volumeServer, grouped by
// instance ip:port), repeatedly at the announced interval, with every
// volumeServer and build info family upstream's push carries.
func TestMetricsPushToGateway(t *testing.T) {
	weed := weedproc.TestBinary(t, "WEED_BINARY", "weed")
	root := t.TempDir()
	weedvol := buildWeedvol(t, root)

	gwPort, err := weedproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(gwPort))
	if err != nil {
		t.Fatal(err)
	}
	gw := &gateway{}
	srv := httptest.NewUnstartedServer(gw)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	mdir := filepath.Join(root, "m")
	os.MkdirAll(mdir, 0o755)
	master, err := weedproc.StartMaster(weed, mdir, "-metrics.address="+ln.Addr().String(), "-metrics.intervalSeconds=1")
	if err != nil {
		t.Fatal(err)
	}
	defer master.Stop()
	var vols []*weedproc.Process
	for _, bin := range []string{weed, weedvol} {
		dir := filepath.Join(root, filepath.Base(bin)+"-v")
		os.MkdirAll(dir, 0o755)
		v, err := weedproc.StartVolume(bin, dir, dir, master.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer v.Stop()
		vols = append(vols, v)
	}

	paths := make([]string, len(vols))
	for i, v := range vols {
		paths[i] = "/metrics/job/volumeServer/instance/" + v.Addr()
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(gw.from(paths[0])) < 1 || len(gw.from(paths[1])) < 3 {
		if time.Now().After(deadline) {
			gw.mu.Lock()
			var seen []string
			for _, p := range gw.pushes {
				seen = append(seen, p.method+" "+p.path)
			}
			gw.mu.Unlock()
			t.Fatalf("pushes seen: %v; want some to %v", seen, paths)
		}
		time.Sleep(200 * time.Millisecond)
	}
	gw.mu.Lock()
	for _, err := range gw.errs {
		t.Errorf("gateway could not decode a push: %v", err)
	}
	gw.mu.Unlock()

	up, wv := gw.from(paths[0]), gw.from(paths[1])
	t.Logf("upstream pushed %d times (%d families), weedvol %d times (%d families)", len(up), len(up[0].families), len(wv), len(wv[0].families))
	if up[0].method != wv[0].method {
		t.Errorf("upstream pushes with %s, weedvol with %s", up[0].method, wv[0].method)
	}
	last := wv[len(wv)-1].families
	for name, f := range up[len(up)-1].families {
		if !strings.HasPrefix(name, "SeaweedFS_volumeServer_") && name != "SeaweedFS_build_info" {
			continue
		}
		w := last[name]
		if w == nil {
			t.Errorf("weedvol's push lacks %s", name)
			continue
		}
		if w.GetType() != f.GetType() {
			t.Errorf("%s: upstream pushes a %s, weedvol a %s", name, f.GetType(), w.GetType())
		}
	}
	for _, want := range []string{"SeaweedFS_volumeServer_max_volumes", "go_goroutines", "process_cpu_seconds_total", "weedvol_io_operations_total"} {
		if last[want] == nil {
			t.Errorf("weedvol's push lacks %s", want)
		}
	}
}
