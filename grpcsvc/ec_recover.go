package grpcsvc

import (
	"context"
	"sort"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"github.com/weedvol/weedvol/wlog"
)

// recoverMissingEcIndexes is VolumeEcShardsMount's recover_missing_index
// (upstream's recoverMissingEcIndexes): for every volume with shard files
// on a disk but no .ecx on the node (engine.Store.EcMissingIndex; only vid
// when it is not 0), ask the master which nodes hold its shards, copy the
// .ecx, the .ecj (merged, with the tombstones of the peer's .ecx) and the
// .vif from the first that has them into that disk, and mount the shards.
// A volume no peer can give an index stays unmounted, as upstream leaves
// it; failures are logged, not returned. It returns the volumes mounted.
func (s *Service) recoverMissingEcIndexes(ctx context.Context, vid uint32) int {
	orphans := s.store.EcMissingIndex()
	if len(orphans) == 0 {
		return 0
	}
	peers := s.NewEcPeers()
	defer peers.Close()
	recovered := 0
	for _, o := range orphans {
		if vid != 0 && o.ID != vid {
			continue
		}
		locs, err := peers.lookup(ctx, o.ID)
		if err != nil {
			wlog.Warningf("ec volume %d: cannot look up peers to recover its missing .ecx: %v", o.ID, err)
			continue
		}
		var holders []string
		seen := map[string]bool{}
		ids := make([]uint32, 0, len(locs.holders))
		for id := range locs.holders {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for _, id := range ids {
			for _, h := range locs.holders[id] {
				if !seen[h] {
					seen[h] = true
					holders = append(holders, h)
				}
			}
		}
		done := false
		for _, h := range holders {
			c := &ecCopier{svc: s, vid: o.ID, coll: o.Collection, disk: o.Disk, pace: newPacer(s.cfg.MaintenanceBytesPerSecond)}
			req := &volume_server_pb.VolumeEcShardsCopyRequest{
				VolumeId: o.ID, Collection: o.Collection, SourceDataNode: h,
				CopyEcxFile: true, CopyEcjFile: true, CopyVifFile: true,
			}
			if err := s.checkPeer(ctx, h); err != nil {
				wlog.Warningf("ec volume %d: peer %s refused: %v", o.ID, h, err)
				continue
			}
			if err := c.run(ctx, h, req); err != nil {
				wlog.Warningf("ec volume %d: copy its index from %s: %v", o.ID, h, err)
				continue
			}
			done = true
			break
		}
		if !done {
			wlog.Warningf("ec volume %d: shards present locally but .ecx missing and no peer gave it; leaving the shards unmounted", o.ID)
			continue
		}
		if err := s.store.EcMount(o.ID, o.Collection, o.Shards); err != nil {
			wlog.Errorf("ec volume %d: mount the recovered shards: %v", o.ID, err)
			continue
		}
		recovered++
	}
	return recovered
}
