package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/ec"
	"github.com/weedvol/weedvol/iouring"
	"github.com/weedvol/weedvol/mmapidx"
)

// engineCollector reads weedvol's own counters, which the engine packages
// keep as plain atomics (they never import Prometheus), at scrape time.
type engineCollector struct {
	m                                *Metrics
	ops, submitted, completed, enter *prometheus.Desc
	batch, mapped, sendfile          *prometheus.Desc
	ecRecon                          *prometheus.Desc
}

func newEngineCollector(m *Metrics) *engineCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Own, "", name), help, labels, nil)
	}
	return &engineCollector{
		m:         m,
		ops:       d("io_operations_total", "File operations on volume files by the I/O engine that ran them (sync: pread/pwrite; uring: io_uring) and kind (read, write, writev, sync).", "engine", "op"),
		submitted: d("io_uring_submissions_total", "io_uring submission queue entries handed to the kernel."),
		completed: d("io_uring_completions_total", "io_uring completion queue entries reaped."),
		enter:     d("io_uring_enter_total", "io_uring_enter system calls."),
		batch:     d("group_commit_batch_size", "Appends (writes and deletes) written to a volume by one group commit."),
		mapped:    d("index_mapped_bytes", "Bytes of needle indexes memory-mapped now, by index kind (idx: persisted .idx maps; ecx: EC .ecx files).", "kind"),
		sendfile:  d("sendfile_bytes_total", "Needle bytes sent from .dat files to clients with sendfile(2), bypassing user space."),
		ecRecon: prometheus.NewDesc(prometheus.BuildFQName(Namespace, subsystem, "ec_reconstructed_interval_total"),
			"Reads of an EC interval served by reconstructing from other shards; success means reconstruction produced data, not that the needle passed validation.",
			[]string{"result"}, nil),
	}
}

func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.ops, c.submitted, c.completed, c.enter, c.batch, c.mapped, c.sendfile, c.ecRecon} {
		ch <- d
	}
}

func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	s := iouring.ReadStats()
	for e, name := range iouring.EngineNames {
		for k := 0; k < iouring.NumKinds; k++ {
			counter(c.ops, s.Ops[e][k], name, iouring.KindNames[k])
		}
	}
	counter(c.submitted, s.Submitted)
	counter(c.completed, s.Completed)
	counter(c.enter, s.Enters)

	g := engine.GroupCommitStats()
	buckets := make(map[float64]uint64, len(engine.GroupCommitBuckets))
	var cum uint64
	for i, bound := range engine.GroupCommitBuckets {
		cum += g.Counts[i]
		buckets[float64(bound)] = cum
	}
	ch <- prometheus.MustNewConstHistogram(c.batch, g.Batches, float64(g.Appends), buckets)

	ch <- prometheus.MustNewConstMetric(c.mapped, prometheus.GaugeValue, float64(mmapidx.MappedBytes()), "idx")
	ch <- prometheus.MustNewConstMetric(c.mapped, prometheus.GaugeValue, float64(ec.MappedBytes()), "ecx")
	counter(c.sendfile, c.m.sendfileBytes.Load())
	// upstream's counter, kept by engine/ec: a series shows once its
	// outcome has happened, as a labelled child would
	ok, failed := ec.Reconstructed()
	if ok > 0 {
		counter(c.ecRecon, ok, "success")
	}
	if failed > 0 {
		counter(c.ecRecon, failed, "failure")
	}
}
