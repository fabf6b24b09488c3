package grpcsvc

import (
	"context"
	"testing"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/master_pb"
	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"

	"github.com/weedvol/weedvol/engine/needle"
)

// waitBeat waits until the fake master has received a heartbeat pred
// accepts.
func waitBeat(t *testing.T, m *fakeMaster, what string, pred func(*master_pb.Heartbeat) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !m.has(pred) {
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeat with %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHeartbeatReportsEcShards: mounting shards goes to the master at once
// as NewEcShards, unmounting as DeletedEcShards, and the full list names
// what is mounted, well before the next pulse.
func TestHeartbeatReportsEcShards(t *testing.T) {
	m := startFakeMaster(t, "", 0)
	e := newEnv(t, func(c *Config) {
		c.Masters = []string{m.addr}
		c.Pulse = time.Hour // only deltas and the first beats
	})
	v := e.allocate(t, 12, "")
	write(t, v, needle.Needle{ID: 1, Cookie: 7, Data: []byte("hello ec")})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.svc.StartHeartbeat(ctx)
	waitBeat(t, m, "the EC list", func(hb *master_pb.Heartbeat) bool { return hb.GetHasNoEcShards() })
	rctx := ctxT(t)
	if _, err := e.client.VolumeEcShardsGenerate(rctx, &volume_server_pb.VolumeEcShardsGenerateRequest{VolumeId: 12}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.VolumeEcShardsMount(rctx, &volume_server_pb.VolumeEcShardsMountRequest{VolumeId: 12, ShardIds: []uint32{0, 3, 13}, SourceDiskType: "ssd"}); err != nil {
		t.Fatal(err)
	}
	waitBeat(t, m, "the new shards", func(hb *master_pb.Heartbeat) bool {
		var bits uint32
		for _, s := range hb.GetNewEcShards() {
			if s.GetId() == 12 && s.GetDiskType() == "ssd" && len(s.GetShardSizes()) > 0 && s.GetShardSizes()[0] > 0 && s.GetFileCount() == 1 {
				bits |= s.GetEcIndexBits()
			}
		}
		return bits == 1|1<<3|1<<13
	})
	if _, err := e.client.VolumeEcShardsUnmount(rctx, &volume_server_pb.VolumeEcShardsUnmountRequest{VolumeId: 12, ShardIds: []uint32{3}}); err != nil {
		t.Fatal(err)
	}
	waitBeat(t, m, "the unmounted shard", func(hb *master_pb.Heartbeat) bool {
		for _, s := range hb.GetDeletedEcShards() {
			if s.GetId() == 12 && s.GetEcIndexBits() == 1<<3 {
				return true
			}
		}
		return false
	})
	full := e.svc.fullHeartbeat()
	if full.GetHasNoEcShards() || len(full.GetEcShards()) != 1 || full.GetEcShards()[0].GetEcIndexBits() != 1|1<<13 {
		t.Fatalf("full heartbeat EC list: %v (has none: %v)", full.GetEcShards(), full.GetHasNoEcShards())
	}
	if light := lightHeartbeat(e.svc.fullHeartbeat()); light.GetEcShards() != nil || light.GetHasNoEcShards() {
		t.Fatalf("light heartbeat carries the EC list")
	}
}
