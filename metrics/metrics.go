// Package metrics holds weedvol's Prometheus registry: every
// SeaweedFS_volumeServer_* family upstream's volume server exports, with
// upstream's names, help texts, label names and bucket layouts, the
// SeaweedFS_build_info family, the go_* and process_* collectors, and
// weedvol's own weedvol_* families (I/O engine, io_uring, group commit,
// mapped indexes, sendfile).
//
// It sits beneath httpfast and grpcsvc, which update it; the engine packages
// never import Prometheus: what they count lives in plain atomic counters
// that a collector here reads at scrape time.
//
// Invariants of the hot-path hooks (Begin/End, Handler, the plain counters):
// they take no lock and allocate nothing once a label combination has been
// seen, because the labelled child of each combination is resolved once
// (on its first use, so series appear when upstream's would) and kept in an
// atomic pointer; WithLabelValues never runs per request after that.
package metrics

import (
	"runtime"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/weedvol/weedvol/iouring"
)

// Namespace and subsystem of upstream's volume server families.
const (
	Namespace = "SeaweedFS"
	subsystem = "volumeServer"
	// Own is the namespace of weedvol's own families.
	Own = "weedvol"
)

// latencyBuckets is upstream's layout for request, vacuum and replication
// latencies: 0.1 ms doubling 24 times.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2, 24)

// BuildInfo is what SeaweedFS_build_info is labelled with.
type BuildInfo struct {
	Version, Commit, SizeLimit string
}

// Metrics is one registry with its families. All methods are safe for
// concurrent use; a nil *Metrics is not valid (use Discard).
type Metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec   // type, code
	handlers      *prometheus.CounterVec   // type
	seconds       *prometheus.HistogramVec // type
	inflight      *prometheus.GaugeVec     // type
	vacuumCompact *prometheus.CounterVec   // success
	vacuumCommit  *prometheus.CounterVec   // success
	vacuumSeconds *prometheus.HistogramVec // type
	scrubLast     *prometheus.GaugeVec     // mode
	scrubVolumes  *prometheus.CounterVec   // mode
	scrubShards   *prometheus.CounterVec   // mode
	replOps       *prometheus.CounterVec   // operation, result
	replSeconds   *prometheus.HistogramVec // operation
	replTargets   prometheus.Histogram
	replFailures  *prometheus.CounterVec // operation, reason
	ecRebuildSecs *prometheus.HistogramVec
	ecRebuilds    *prometheus.CounterVec
	disconnects   *prometheus.CounterVec // address

	// ReadFailures, ReadInvalidNeedles and WriteFailures are upstream's
	// label-less counters of the same names.
	ReadFailures, ReadInvalidNeedles, WriteFailures prometheus.Counter

	startTime         prometheus.Gauge
	uploadLimit       atomic.Int64
	downloadLimit     atomic.Int64
	inflightBytes     atomic.Pointer[func() (upload, download int64)]
	node              atomic.Pointer[nodeSourceBox]
	sendfileBytes     atomic.Uint64
	requestChildren   [numTypes][numCodes]atomic.Pointer[prometheus.Counter]
	secondsChildren   [numTypes]atomic.Pointer[prometheus.Observer]
	inflightChildren  [numTypes]atomic.Pointer[prometheus.Gauge]
	handlerChildren   [numHandlers]atomic.Pointer[prometheus.Counter]
	replTargetsPrimed atomic.Bool
}

// Discard is an unregistered Metrics for servers built without one (tests,
// tools): the hooks work and cost the same, nothing serves them.
var Discard *Metrics

// init, not a variable initializer: New needs the package's descriptors,
// which Go initialises in dependency order it cannot see through the
// collectors' interface methods.
func init() { Discard = New(BuildInfo{}) }

// New returns a Metrics with every family registered and the volume
// server's start time set to now.
func New(info BuildInfo) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: subsystem, Name: name, Help: help})
	}
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: subsystem, Name: name, Help: help}, labels)
	}
	gaugeVec := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: subsystem, Name: name, Help: help}, labels)
	}
	histVec := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: subsystem, Name: name, Help: help, Buckets: buckets}, labels)
	}
	gaugeFunc := func(name, help string, f func() float64) prometheus.GaugeFunc {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: subsystem, Name: name, Help: help}, f)
	}

	m.requests = counterVec("request_total", "Counter of volume server requests.", "type", "code")
	m.handlers = counterVec("handler_total", "Counter of volume server handlers.", "type")
	m.vacuumCompact = counterVec("vacuuming_compact_count", "Counter of volume vacuuming Compact counter", "success")
	m.vacuumCommit = counterVec("vacuuming_commit_count", "Counter of volume vacuuming commit counter", "success")
	m.vacuumSeconds = histVec("vacuuming_seconds", "Bucketed histogram of volume server vacuuming processing time.", latencyBuckets, "type")
	m.seconds = histVec("request_seconds", "Bucketed histogram of volume server request processing time.", latencyBuckets, "type")
	m.inflight = gaugeVec("in_flight_requests", "Current number of in-flight requests being handled by volume server.", "type")
	m.disconnects = counterVec("master_disconnections", "Number of master server disconnections.", "address")
	m.ReadFailures = counter("file_read_failures", "Counter of overall failed file read requests from clients.")
	m.ReadInvalidNeedles = counter("file_read_invalid_needles", "Counter of failed file read requests due to invalid needle IDs from clients.")
	m.WriteFailures = counter("file_write_failures", "Counter of overall failed file write requests from clients.")
	m.scrubLast = gaugeVec("scrub_last_time_seconds", "Last scrub execution time, as seconds since UNIX epoch.", "mode")
	m.scrubVolumes = counterVec("scrub_volume_failures", "Counter of overall volumes with issues detected during scrubbing.", "mode")
	m.scrubShards = counterVec("scrub_shard_failures", "Counter of overall EC shards with issues detected during scrubbing.", "mode")
	m.replOps = counterVec("replication_operations_total", "Counter of replication operations by type (write, delete) and result (success, failure).", "operation", "result")
	m.replSeconds = histVec("replication_seconds", "Bucketed histogram of replication operation duration in seconds.", latencyBuckets, "operation")
	m.replTargets = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: subsystem, Name: "replication_targets",
		Help: "Histogram of replica targets count per replication operation.", Buckets: []float64{1, 2, 3, 4, 5}})
	m.replFailures = counterVec("replication_failures_total", "Counter of replication failures by operation and reason (timeout, connection_refused, context_cancelled, server_error).", "operation", "reason")
	m.ecRebuildSecs = histVec("ec_rebuild_seconds", "Bucketed histogram of EC shard rebuild/reconstruct duration by result.", prometheus.ExponentialBuckets(0.01, 2, 20), "result")
	m.ecRebuilds = counterVec("ec_rebuild_total", "Counter of EC shard rebuild operations by result.", "result")
	m.startTime = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: subsystem, Name: "start_time_seconds",
		Help: "Start time of the volume server, as seconds since UNIX epoch."})
	m.startTime.Set(float64(time.Now().Unix()))

	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "build", Name: "info",
		Help: "A metric with a constant '1' value labeled by version, commit, sizelimit, goos, and goarch from which SeaweedFS was built."},
		[]string{"version", "commit", "sizelimit", "goos", "goarch"})
	build.WithLabelValues(info.Version, info.Commit, info.SizeLimit, runtime.GOOS, runtime.GOARCH).Set(1)

	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build, m.startTime,
		m.requests, m.handlers, m.seconds, m.inflight,
		m.vacuumCompact, m.vacuumCommit, m.vacuumSeconds,
		m.ReadFailures, m.ReadInvalidNeedles, m.WriteFailures,
		// EIO from any volume file operation, as iouring counts them
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Subsystem: subsystem, Name: "storage_io_error_total",
			Help: "Counter of storage read/write EIO errors on volumes and EC shards."}, func() float64 { return float64(iouring.ReadStats().IOErrors) }),
		m.disconnects, m.scrubLast, m.scrubVolumes, m.scrubShards,
		m.replOps, m.replSeconds, m.replTargets, m.replFailures,
		m.ecRebuildSecs, m.ecRebuilds,
		gaugeFunc("concurrent_download_limit", "Limit total concurrent download size.", func() float64 { return float64(m.downloadLimit.Load()) }),
		gaugeFunc("concurrent_upload_limit", "Limit total concurrent upload size.", func() float64 { return float64(m.uploadLimit.Load()) }),
		gaugeFunc("in_flight_download_size", "In flight total download size.", func() float64 { _, d := m.inflightNow(); return float64(d) }),
		gaugeFunc("in_flight_upload_size", "In flight total upload size.", func() float64 { u, _ := m.inflightNow(); return float64(u) }),
		&nodeCollector{m: m},
		newEngineCollector(m),
	)
	return m
}

// Registry is the registry to serve and push.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// SetLimits records -concurrentUploadLimitMB and -concurrentDownloadLimitMB
// in bytes (0: unlimited), as upstream's concurrent_*_limit gauges show them.
func (m *Metrics) SetLimits(upload, download int64) {
	m.uploadLimit.Store(upload)
	m.downloadLimit.Store(download)
}

// SetInflight makes the in_flight_*_size gauges read f at scrape time.
func (m *Metrics) SetInflight(f func() (upload, download int64)) { m.inflightBytes.Store(&f) }

func (m *Metrics) inflightNow() (int64, int64) {
	if f := m.inflightBytes.Load(); f != nil {
		return (*f)()
	}
	return 0, 0
}

// AddSendfileBytes counts n bytes handed to the kernel with sendfile.
func (m *Metrics) AddSendfileBytes(n int64) {
	if n > 0 {
		m.sendfileBytes.Add(uint64(n))
	}
}
