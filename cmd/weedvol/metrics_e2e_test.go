package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/weedvol/weedvol/internal/weedproc"
)

// conditionalFamilies are upstream volume server families that the traffic
// of TestMetricsMatchUpstream (uploads, reads, deletes, 404s, a vacuum)
// does not make either server show: client_golang prints a labelled family
// only once one of its series exists.
var conditionalFamilies = map[string]string{
	"SeaweedFS_volumeServer_scrub_last_time_seconds":         "a ScrubVolume or ScrubEcVolume RPC",
	"SeaweedFS_volumeServer_scrub_volume_failures":           "a ScrubVolume or ScrubEcVolume RPC",
	"SeaweedFS_volumeServer_scrub_shard_failures":            "a ScrubEcVolume RPC",
	"SeaweedFS_volumeServer_replication_operations_total":    "a write or delete on a replicated volume",
	"SeaweedFS_volumeServer_replication_seconds":             "a write or delete on a replicated volume",
	"SeaweedFS_volumeServer_replication_failures_total":      "a failed forward to a replica",
	"SeaweedFS_volumeServer_ec_rebuild_seconds":              "a VolumeEcShardsRebuild RPC",
	"SeaweedFS_volumeServer_ec_rebuild_total":                "a VolumeEcShardsRebuild RPC",
	"SeaweedFS_volumeServer_ec_reconstructed_interval_total": "a degraded EC read",
	"SeaweedFS_volumeServer_master_disconnections":           "a heartbeat stream that ends",
}

// deterministic are series whose values the same traffic must give both
// servers: family, then its labels as name=value pairs in sorted order.
var deterministic = [][2]string{
	{"SeaweedFS_volumeServer_request_total", "code=200,type=GET"},
	{"SeaweedFS_volumeServer_request_total", "code=201,type=POST"},
	{"SeaweedFS_volumeServer_request_total", "code=202,type=DELETE"},
	{"SeaweedFS_volumeServer_request_total", "code=404,type=GET"},
	{"SeaweedFS_volumeServer_handler_total", "type=errorGetNotFound"},
	{"SeaweedFS_volumeServer_file_read_failures", ""},
	{"SeaweedFS_volumeServer_file_read_invalid_needles", ""},
	{"SeaweedFS_volumeServer_file_write_failures", ""},
	{"SeaweedFS_volumeServer_max_volumes", ""},
	{"SeaweedFS_volumeServer_concurrent_upload_limit", ""},
	{"SeaweedFS_volumeServer_concurrent_download_limit", ""},
	{"SeaweedFS_volumeServer_in_flight_requests", "type=GET"},
	{"SeaweedFS_volumeServer_replication_targets", ""},
	{"SeaweedFS_volumeServer_request_seconds", "type=GET"},
	{"SeaweedFS_volumeServer_request_seconds", "type=writeToLocalDisk"},
	{"SeaweedFS_volumeServer_volumes", "collection=,type=volume"},
	{"SeaweedFS_volumeServer_read_only_volumes", "collection=,type=IsReadOnly"},
}

// TestMetricsMatchUpstream runs the real upstream volume server and
// weedvol, each with -metricsPort under its own upstream master, sends both
// the same traffic (100 uploads, 100 reads, 20 deletes, 6 reads that are
// 404s, a vacuum), scrapes both, and checks that every family upstream
// shows (SeaweedFS_volumeServer_*, build info, go_*, process_*) is served
// by weedvol with the same type, help, label names, bucket layout and
// series, and that the counters this traffic fixes have the same values.
func TestMetricsMatchUpstream(t *testing.T) {
	weed := weedproc.TestBinary(t, "WEED_BINARY", "weed")
	root := t.TempDir()
	weedvol := buildWeedvol(t, root)

	type server struct {
		name, metrics string
		master, vol   *weedproc.Process
	}
	start := func(name, bin string) *server {
		dir := filepath.Join(root, name)
		mdir, vdir := filepath.Join(dir, "m"), filepath.Join(dir, "v")
		for _, d := range []string{mdir, vdir} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		master, err := weedproc.StartMaster(weed, mdir, "-volumeSizeLimitMB=100")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { master.Stop() })
		port, err := weedproc.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		vol, err := weedproc.StartVolume(bin, vdir, dir, master.Addr(), "-metricsPort="+strconv.Itoa(port))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { vol.Stop() })
		return &server{name: name, metrics: "127.0.0.1:" + strconv.Itoa(port), master: master, vol: vol}
	}
	up, wv := start("up", weed), start("wv", weedvol)

	for _, s := range []*server{up, wv} {
		if err := metricsTraffic(s.master.Addr()); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	// upstream sets the size and read-only gauges from its heartbeat
	// (every 5 s): wait for them
	for _, s := range []*server{up, wv} {
		waitFamily(t, s.metrics, "SeaweedFS_volumeServer_total_disk_size")
	}
	upFams, wvFams := scrapeMetrics(t, up.metrics), scrapeMetrics(t, wv.metrics)
	compareFamilies(t, upFams, wvFams, func(string) bool { return true })
	for _, d := range deterministic {
		u, uok := seriesValue(upFams, d[0], d[1])
		w, wok := seriesValue(wvFams, d[0], d[1])
		if !uok || !wok || u != w {
			t.Errorf("%s{%s}: upstream %v (present %v), weedvol %v (present %v)", d[0], d[1], u, uok, w, wok)
		}
	}
	t.Logf("upstream shows %d volumeServer, %d go_* and %d process_* families; weedvol %d, %d, %d",
		countPrefix(upFams, "SeaweedFS_volumeServer_"), countPrefix(upFams, "go_"), countPrefix(upFams, "process_"),
		countPrefix(wvFams, "SeaweedFS_volumeServer_"), countPrefix(wvFams, "go_"), countPrefix(wvFams, "process_"))
	for name := range conditionalFamilies {
		if upFams[name] != nil {
			t.Errorf("%s is listed as conditional (%s) but upstream shows it after this traffic", name, conditionalFamilies[name])
		}
	}
	if n := countPrefix(upFams, "SeaweedFS_volumeServer_"); n != countPrefix(wvFams, "SeaweedFS_volumeServer_") || n < 20 {
		t.Errorf("upstream shows %d volumeServer families, weedvol %d", n, countPrefix(wvFams, "SeaweedFS_volumeServer_"))
	}

	// weedvol's own families saw the traffic
	for _, c := range []struct {
		family, labels string
		min            float64
	}{
		{"weedvol_group_commit_batch_size", "", 1},
		{"weedvol_io_operations_total", "engine=sync,op=read", 100}, // auto routes reads to pread
		{"weedvol_sendfile_bytes_total", "", 2_400_000},
		{"weedvol_index_mapped_bytes", "kind=idx", 0},
		{"weedvol_io_uring_submissions_total", "", 0},
	} {
		if v, ok := seriesValue(wvFams, c.family, c.labels); !ok || v < c.min {
			t.Errorf("%s{%s} = %v (present %v), want at least %v", c.family, c.labels, v, ok, c.min)
		}
	}

	// a vacuum makes the vacuuming_* families appear on both
	for _, s := range []*server{up, wv} {
		resp, err := http.Get("http://" + s.master.Addr() + "/vol/vacuum?garbageThreshold=0.0001")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for _, s := range []*server{up, wv} {
		waitFamily(t, s.metrics, "SeaweedFS_volumeServer_vacuuming_commit_count")
	}
	upFams, wvFams = scrapeMetrics(t, up.metrics), scrapeMetrics(t, wv.metrics)
	compareFamilies(t, upFams, wvFams, func(name string) bool { return strings.Contains(name, "vacuuming") })
}

// metricsTraffic is the traffic both servers get: 100 uploads of file ids
// the master assigns, a read of each, deletes of the first 20, reads of 5
// of those (404) and of a volume no one holds (404).
func metricsTraffic(master string) error {
	var fids []string
	var url string
	for i := range 100 {
		a, err := weedproc.Assign(master, "")
		if err != nil {
			return err
		}
		url = a.URL
		data, name, mime := []byte(strings.Repeat("metrics ", i+1)), fmt.Sprintf("f%d.txt", i), "text/plain"
		if i == 99 {
			// 2.4 MB that does not compress: stored as is, read streamed
			// (weedvol: with sendfile)
			data, name, mime = make([]byte, 2_400_000), "large.bin", "application/octet-stream"
			rng := rand.New(rand.NewPCG(1, 2))
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
		}
		if err := weedproc.Upload(url, a.Fid, name, mime, data); err != nil {
			return err
		}
		fids = append(fids, a.Fid)
	}
	for _, fid := range fids {
		if code, _, _, err := weedproc.Get(url, fid); err != nil || code != 200 {
			return fmt.Errorf("get %s: %d, %v", fid, code, err)
		}
	}
	for _, fid := range fids[:20] {
		if err := weedproc.Delete(url, fid); err != nil {
			return err
		}
	}
	for _, fid := range append(slices.Clone(fids[:5]), "999,01637037d6") {
		if code, _, _, err := weedproc.Get(url, fid); err != nil || code != 404 {
			return fmt.Errorf("get %s: %d, %v; want 404", fid, code, err)
		}
	}
	return nil
}

func scrapeMetrics(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s/metrics: %v", addr, err)
	}
	return fams
}

func waitFamily(t *testing.T, addr, name string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if scrapeMetrics(t, addr)[name] != nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s never showed %s", addr, name)
}

func countPrefix(fams map[string]*dto.MetricFamily, prefix string) int {
	n := 0
	for name := range fams {
		if strings.HasPrefix(name, prefix) {
			n++
		}
	}
	return n
}

// labelKey is a metric's labels as sorted name=value pairs; values of the
// labels naming a data directory are left out (the two servers' differ).
func labelKey(m *dto.Metric, withValues bool) string {
	var parts []string
	for _, l := range m.GetLabel() {
		if withValues && l.GetName() != "name" {
			parts = append(parts, l.GetName()+"="+l.GetValue())
		} else {
			parts = append(parts, l.GetName())
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func seriesValue(fams map[string]*dto.MetricFamily, name, labels string) (float64, bool) {
	f := fams[name]
	for _, m := range f.GetMetric() {
		if labelKey(m, true) != labels {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func buckets(m *dto.Metric) []float64 {
	var b []float64
	for _, x := range m.GetHistogram().GetBucket() {
		b = append(b, x.GetUpperBound())
	}
	return b
}

// compareFamilies checks that every family of up is in wv with the same
// type and help, label names and bucket bounds; for SeaweedFS_* families
// also the same set of series (label values), where series(name) says so.
func compareFamilies(t *testing.T, up, wv map[string]*dto.MetricFamily, series func(string) bool) {
	t.Helper()
	names := make([]string, 0, len(up))
	for name := range up {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		u := up[name]
		if !strings.HasPrefix(name, "SeaweedFS_volumeServer_") && name != "SeaweedFS_build_info" &&
			!strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
			continue // other roles' families, see README "Metrics"
		}
		w := wv[name]
		if w == nil {
			t.Errorf("weedvol lacks %s (%s)", name, u.GetType())
			continue
		}
		if u.GetType() != w.GetType() {
			t.Errorf("%s: type %s, weedvol %s", name, u.GetType(), w.GetType())
		}
		if !strings.HasPrefix(name, "SeaweedFS_") {
			continue // go_* and process_*: the collector's, values differ
		}
		if u.GetHelp() != w.GetHelp() {
			t.Errorf("%s: help %q, weedvol %q", name, u.GetHelp(), w.GetHelp())
		}
		ul, wl := map[string]bool{}, map[string]bool{}
		for _, m := range u.GetMetric() {
			ul[labelKey(m, false)] = true
			if m.Histogram != nil && !slices.Equal(buckets(m), buckets(u.GetMetric()[0])) {
				t.Errorf("%s: upstream's series differ in buckets", name)
			}
		}
		for _, m := range w.GetMetric() {
			wl[labelKey(m, false)] = true
		}
		if fmt.Sprint(sortedKeys(ul)) != fmt.Sprint(sortedKeys(wl)) {
			t.Errorf("%s: label names %v, weedvol %v", name, sortedKeys(ul), sortedKeys(wl))
		}
		if u.GetType() == dto.MetricType_HISTOGRAM && len(w.GetMetric()) > 0 && !slices.Equal(buckets(u.GetMetric()[0]), buckets(w.GetMetric()[0])) {
			t.Errorf("%s: buckets %v, weedvol %v", name, buckets(u.GetMetric()[0]), buckets(w.GetMetric()[0]))
		}
		if !series(name) {
			continue
		}
		us, ws := map[string]bool{}, map[string]bool{}
		for _, m := range u.GetMetric() {
			us[labelKey(m, true)] = true
		}
		for _, m := range w.GetMetric() {
			ws[labelKey(m, true)] = true
		}
		if fmt.Sprint(sortedKeys(us)) != fmt.Sprint(sortedKeys(ws)) {
			t.Errorf("%s: series %v, weedvol %v", name, sortedKeys(us), sortedKeys(ws))
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
