package grpcsvc

import (
	"context"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/master_pb"

	"github.com/weedvol/weedvol/diskstat"
	"github.com/weedvol/weedvol/metrics"
)

// minFreePercent is upstream's default -minFreeSpace (1 % of the disk),
// which its resource{type="avail"} gauge leaves out of the free space.
// weedvol does not reserve space by that flag, so the default is applied.
const minFreePercent = 1

// MetricsSnapshot is what upstream's heartbeat-time gauges report, taken
// at scrape time: volumes and EC shards, sizes and read-only counts by
// collection, slots, and each data directory's disk usage. weedvol takes
// no volume out of service for I/O errors, so nothing is quarantined.
func (s *Service) MetricsSnapshot() metrics.Node {
	n := metrics.Node{Collections: map[string]*metrics.CollectionStats{}}
	col := func(name string) *metrics.CollectionStats {
		c := n.Collections[name]
		if c == nil {
			c = &metrics.CollectionStats{}
			n.Collections[name] = c
		}
		return c
	}
	for _, l := range s.store.Locations() {
		n.MaxVolumes += int64(max(l.MaxVolumes, 0))
		d := metrics.Disk{Dir: l.Dir}
		st := diskstat.Of(l.Dir, diskType(l.DiskType))
		if st.GetAll() == 0 {
			d.Error = true
		} else {
			d.All, d.Used, d.Free = st.GetAll(), st.GetUsed(), st.GetFree()
			if reserve := d.All * minFreePercent / 100; d.Free > reserve {
				d.Avail = d.Free - reserve
			}
		}
		n.Disks = append(n.Disks, d)
	}
	for _, v := range s.store.Volumes() {
		c := col(v.Collection)
		c.Volumes++
		c.Size += v.Size()
		c.DeletedBytes += int64(v.Stats().DeletedBytes)
		if ro, noWD, noWCD, low := v.ReadOnlyReasons(); ro {
			c.ReadOnly++
			c.NoWriteOrDelete += b2i(noWD)
			c.NoWriteCanDelete += b2i(noWCD)
			c.DiskSpaceLow += b2i(low)
		}
	}
	for _, ev := range s.store.EcVolumes() {
		c := col(ev.Collection)
		c.EcShards += len(ev.Shards)
		for _, sh := range ev.Shards {
			c.EcSize += sh.Size
		}
	}
	return n
}

// MetricsPush asks the seed masters for the push gateway they announce
// (master -metrics.address, -metrics.intervalSeconds), as upstream's
// checkWithMaster does before the volume server starts pushing: it tries
// each seed in turn, every 1.79 s, until one answers or ctx ends.
func (s *Service) MetricsPush(ctx context.Context) (metrics.Push, error) {
	for {
		for _, m := range s.cfg.Masters {
			c, err := s.masters.client(m)
			if err != nil {
				s.logf("checkWithMaster %s: %v", m, err)
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			resp, err := c.GetMasterConfiguration(cctx, &master_pb.GetMasterConfigurationRequest{})
			cancel()
			if err != nil {
				s.logf("checkWithMaster %s: get master %s configuration: %v", m, m, err)
				continue
			}
			s.hb.updateBackends(resp.GetStorageBackends())
			return metrics.Push{Address: resp.GetMetricsAddress(), Interval: time.Duration(resp.GetMetricsIntervalSeconds()) * time.Second}, nil
		}
		if len(s.cfg.Masters) == 0 {
			return metrics.Push{}, ErrNoMaster
		}
		select {
		case <-ctx.Done():
			return metrics.Push{}, ctx.Err()
		case <-time.After(1790 * time.Millisecond):
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
