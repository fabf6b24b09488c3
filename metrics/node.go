package metrics

import (
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// CollectionStats is what a node holds of one collection.
type CollectionStats struct {
	Volumes, EcShards int
	// Size and DeletedBytes sum the collection's volumes; EcSize its EC
	// shards' files.
	Size, DeletedBytes, EcSize int64
	// ReadOnly counts read-only volumes; the other three count the reasons
	// among them, as upstream's ReadOnlyReasons (a volume may have several).
	ReadOnly, NoWriteOrDelete, NoWriteCanDelete, DiskSpaceLow int
}

// Disk is one data directory's file-system usage.
type Disk struct {
	Dir                    string
	All, Used, Free, Avail uint64
	// Error is set while the directory cannot be read (upstream's
	// disk_error_status).
	Error bool
}

// Node is a snapshot of what the volume server holds.
type Node struct {
	Collections map[string]*CollectionStats
	Disks       []Disk
	MaxVolumes  int64
	// QuarantinedVolumes and QuarantinedEcShards count what storage I/O
	// errors have taken out of service.
	QuarantinedVolumes, QuarantinedEcShards int
}

// NodeSource takes a Node snapshot at scrape time.
type NodeSource interface {
	MetricsSnapshot() Node
}

type nodeSourceBox struct{ src NodeSource }

// SetNode makes scrapes read the node's state from src.
func (m *Metrics) SetNode(src NodeSource) { m.node.Store(&nodeSourceBox{src}) }

// nodeCollector turns a Node snapshot into upstream's gauges: volumes,
// read_only_volumes, total_disk_size, max_volumes, resource,
// disk_error_status and io_quarantine. Series follow upstream's lifetimes:
// a volumes series, once seen, stays (at 0) after the last volume of its
// collection goes, as upstream's Inc/Dec gauge does; the size and
// read-only series go with the collection, as upstream deletes them.
type nodeCollector struct {
	m *Metrics

	mu   sync.Mutex // guards seen, touched by scrapes only
	seen map[[2]string]bool
}

var (
	descVolumes  = nodeDesc("volumes", "Number of volumes or shards.", "collection", "type")
	descReadOnly = nodeDesc("read_only_volumes", "Number of read only volumes.", "collection", "type")
	descDiskSize = nodeDesc("total_disk_size", "Actual disk size used by volumes.", "collection", "type")
	descMax      = nodeDesc("max_volumes", "Maximum number of volumes.")
	descResource = nodeDesc("resource", "Resource usage", "name", "type")
	descDiskErr  = nodeDesc("disk_error_status", "Disk error status", "name", "type")
	descQuaran   = nodeDesc("io_quarantine", "Number of volumes or EC shards quarantined due to storage IO errors.", "kind")
)

func nodeDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, subsystem, name), help, labels, nil)
}

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descVolumes, descReadOnly, descDiskSize, descMax, descResource, descDiskErr, descQuaran} {
		ch <- d
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	box := c.m.node.Load()
	if box == nil {
		return
	}
	n := box.src.MetricsSnapshot()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	c.mu.Lock()
	if c.seen == nil {
		c.seen = map[[2]string]bool{}
	}
	for col, s := range n.Collections {
		if s.Volumes > 0 {
			c.seen[[2]string{col, "volume"}] = true
		}
		if s.EcShards > 0 {
			c.seen[[2]string{col, "ec_shards"}] = true
		}
	}
	keys := make([][2]string, 0, len(c.seen))
	for k := range c.seen {
		keys = append(keys, k)
	}
	c.mu.Unlock()
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+"\x00"+keys[i][1] < keys[j][0]+"\x00"+keys[j][1] })
	for _, k := range keys {
		v := 0
		if s := n.Collections[k[0]]; s != nil {
			v = s.Volumes
			if k[1] == "ec_shards" {
				v = s.EcShards
			}
		}
		gauge(descVolumes, float64(v), k[0], k[1])
	}
	for col, s := range n.Collections {
		if s.Volumes > 0 {
			gauge(descDiskSize, float64(s.Size), col, "normal")
			gauge(descDiskSize, float64(s.DeletedBytes), col, "deleted_bytes")
			gauge(descReadOnly, float64(s.ReadOnly), col, "IsReadOnly")
			gauge(descReadOnly, float64(s.NoWriteOrDelete), col, "noWriteOrDelete")
			gauge(descReadOnly, float64(s.NoWriteCanDelete), col, "noWriteCanDelete")
			gauge(descReadOnly, float64(s.DiskSpaceLow), col, "isDiskSpaceLow")
		}
		if s.EcShards > 0 {
			gauge(descDiskSize, float64(s.EcSize), col, "ec")
		}
	}
	gauge(descMax, float64(n.MaxVolumes))
	for _, d := range n.Disks {
		gauge(descResource, float64(d.All), d.Dir, "all")
		gauge(descResource, float64(d.Used), d.Dir, "used")
		gauge(descResource, float64(d.Free), d.Dir, "free")
		gauge(descResource, float64(d.Avail), d.Dir, "avail")
		e := 0.0
		if d.Error {
			e = 1
		}
		gauge(descDiskErr, e, d.Dir, "error")
	}
	gauge(descQuaran, float64(n.QuarantinedVolumes), "volume")
	gauge(descQuaran, float64(n.QuarantinedEcShards), "ec_shard")
}
