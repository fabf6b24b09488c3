package grpcsvc

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/seaweedfs/seaweedfs/weed/pb/master_pb"
	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc"

	"github.com/weedvol/weedvol/engine/needle"
)

// TestEcRecoverMissingIndex: a node holding shards of a volume whose .ecx
// it lacks gets the index from the holder the master names when
// VolumeEcShardsMount asks for recover_missing_index, and mounts them.
func TestEcRecoverMissingIndex(t *testing.T) {
	src := newEnv(t)
	ctx := ctxT(t)
	v := src.allocate(t, 9, "")
	for i := uint64(1); i <= 20; i++ {
		write(t, v, needle.Needle{ID: i, Cookie: 0x1234, Data: bytes.Repeat([]byte{byte(i)}, int(100*i))})
	}
	if _, err := src.client.VolumeEcShardsGenerate(ctx, &volume_server_pb.VolumeEcShardsGenerateRequest{VolumeId: 9}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.client.VolumeEcShardsMount(ctx, &volume_server_pb.VolumeEcShardsMountRequest{VolumeId: 9, ShardIds: []uint32{0, 1}}); err != nil {
		t.Fatal(err)
	}
	grpcPort, _ := strconv.Atoi(src.addr[strings.LastIndexByte(src.addr, ':')+1:])
	m := &ecLookupMaster{shards: map[uint32][]*master_pb.Location{
		0: {{Url: "127.0.0.1:1", GrpcPort: uint32(grpcPort)}},
	}}
	mport := serveGRPC(t, func(gs *grpc.Server) { master_pb.RegisterSeaweedServer(gs, m) })
	dst := newEnv(t, func(c *Config) { c.Masters = []string{"127.0.0.1:" + strconv.Itoa(mport) + "." + strconv.Itoa(mport)} })
	source := "127.0.0.1:1." + strconv.Itoa(grpcPort)
	if _, err := dst.client.VolumeEcShardsCopy(ctx, &volume_server_pb.VolumeEcShardsCopyRequest{
		VolumeId: 9, SourceDataNode: source, ShardIds: []uint32{5, 13},
	}); err != nil {
		t.Fatal(err)
	}
	orphans := dst.svc.store.EcMissingIndex()
	if len(orphans) != 1 || orphans[0].ID != 9 || len(orphans[0].Shards) != 2 {
		t.Fatalf("orphans before: %+v", orphans)
	}
	// without the flag nothing is fetched
	if _, err := dst.client.VolumeEcShardsMount(ctx, &volume_server_pb.VolumeEcShardsMountRequest{VolumeId: 9}); err != nil {
		t.Fatal(err)
	}
	if _, ok := dst.svc.store.EcVolume(9); ok {
		t.Fatal("mounted without an index")
	}
	if _, err := dst.client.VolumeEcShardsMount(ctx, &volume_server_pb.VolumeEcShardsMountRequest{RecoverMissingIndex: true}); err != nil {
		t.Fatal(err)
	}
	info, ok := dst.svc.store.EcVolume(9)
	if !ok || len(info.Shards) != 2 || info.Shards[0].ID != 5 || info.Shards[1].ID != 13 {
		t.Fatalf("after recovery: %+v %v", info, ok)
	}
	if got := dst.svc.store.EcMissingIndex(); len(got) != 0 {
		t.Fatalf("orphans after: %+v", got)
	}
}
