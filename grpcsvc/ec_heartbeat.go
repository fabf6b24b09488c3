package grpcsvc

import (
	"github.com/seaweedfs/seaweedfs/weed/pb/master_pb"
	"google.golang.org/protobuf/proto"

	"github.com/weedvol/weedvol/engine"
)

// What the master hears about erasure-coded shards.
//
// Upstream reports one VolumeEcShardInformationMessage per EC volume and
// disk: the shard ids as a bitmap (EcIndexBits) and their sizes in the
// order of the set bits. The full list goes with every full heartbeat
// (and as the second message of a stream, as upstream sends it); mounts
// and unmounts in between go as NewEcShards / DeletedEcShards deltas the
// moment the RPC that made them returns, since a shell's ec.encode waits
// for the master to see the shards before it goes on.
//
// INVARIANT: the deltas are computed by comparing the store's EC volumes
// before and after an operation (reportEcChanges), so whatever the engine
// mounted or dropped, for whatever reason, is what the master is told.

// maxShardID bounds shard ids on the wire: upstream's MaxShardCount is 32
// (EcIndexBits is a uint32).
const maxShardID = 32

// ecShardKey names one mounted shard of one disk.
type ecShardKey struct {
	vid   uint32
	disk  int
	shard int
}

// ecMessages is upstream's EC heartbeat list for vols (ascending id, as
// Store.EcVolumes returns them): one message per volume and disk, disks
// ascending. skip, when set, leaves out the shards it holds; zeroSizes
// reports sizes of 0, as upstream's deletion deltas do.
func (s *Service) ecMessages(vols []engine.EcVolumeInfo, skip map[ecShardKey]bool, zeroSizes bool) []*master_pb.VolumeEcShardInformationMessage {
	var out []*master_pb.VolumeEcShardInformationMessage
	for i := range vols {
		v := &vols[i]
		byDisk := map[int]*master_pb.VolumeEcShardInformationMessage{}
		var disks []int
		for _, sh := range v.Shards { // ascending id: sizes follow the bit order
			if sh.ID < 0 || sh.ID >= maxShardID || skip[ecShardKey{v.ID, sh.DiskID, sh.ID}] {
				continue
			}
			m, ok := byDisk[sh.DiskID]
			if !ok {
				m = &master_pb.VolumeEcShardInformationMessage{
					Id:          v.ID,
					Collection:  v.Collection,
					DiskType:    diskType(v.DiskType),
					ExpireAtSec: v.ExpireAtSec,
					DiskId:      uint32(max(sh.DiskID, 0)),
					FileCount:   v.Files,
					DeleteCount: v.Deleted,
					EncodeTsNs:  v.EncodeTsNs,
				}
				if zeroSizes {
					m.FileCount, m.DeleteCount, m.ExpireAtSec = 0, 0, 0
				}
				byDisk[sh.DiskID] = m
				disks = append(disks, sh.DiskID)
			}
			m.EcIndexBits |= 1 << uint(sh.ID)
			size := sh.Size
			if zeroSizes {
				size = 0
			}
			m.ShardSizes = append(m.ShardSizes, size)
		}
		sortInts(disks)
		for _, d := range disks {
			out = append(out, byDisk[d])
		}
	}
	return out
}

// sortInts sorts a short slice in place (insertion sort: a node has few
// disks).
func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// shardSet lists every mounted shard of vols.
func shardSet(vols []engine.EcVolumeInfo) map[ecShardKey]bool {
	set := map[ecShardKey]bool{}
	for _, v := range vols {
		for _, sh := range v.Shards {
			set[ecShardKey{v.ID, sh.DiskID, sh.ID}] = true
		}
	}
	return set
}

// reportEcChanges queues, for the next delta heartbeat, the shards mounted
// and unmounted since before (a Store.EcVolumes snapshot taken before the
// operation), and raises the volume id bound for the ones mounted.
func (s *Service) reportEcChanges(before []engine.EcVolumeInfo) {
	after := s.store.EcVolumes()
	for _, m := range s.ecMessages(after, shardSet(before), false) {
		s.stamp.raise(m.GetId())
		s.hb.queue(change{ecAdded: m})
	}
	for _, m := range s.ecMessages(before, shardSet(after), true) {
		s.hb.queue(change{ecDeleted: m})
	}
}

// ecHeartbeat is upstream's CollectErasureCodingHeartbeat: every mounted
// shard, or HasNoEcShards.
func (s *Service) ecHeartbeat() *master_pb.Heartbeat {
	msgs := s.ecMessages(s.store.EcVolumes(), nil, false)
	return &master_pb.Heartbeat{EcShards: msgs, HasNoEcShards: len(msgs) == 0}
}

// sameEcShards reports whether two EC lists, both built by ecMessages,
// tell the master the same.
func sameEcShards(a, b []*master_pb.VolumeEcShardInformationMessage) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
