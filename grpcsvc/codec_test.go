package grpcsvc

import (
	"net"
	"strings"
	"testing"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/nodestate"
)

// TestMessageLimits: an oversized request is refused before it is decoded,
// except the calls that carry file data, which get the file size limit.
func TestMessageLimits(t *testing.T) {
	store, err := engine.OpenStore(engine.StoreConfig{Locations: []engine.LocationConfig{{Dir: t.TempDir(), MaxVolumes: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := New(Config{Store: store, State: nodestate.New(), IP: "127.0.0.1", Port: 18081, Logf: t.Logf})
	defer svc.Close()
	gs := grpc.NewServer(ServerOptions(16 << 20)...)
	svc.Register(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(lis)
	defer gs.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := volume_server_pb.NewVolumeServerClient(conn)

	_, err = c.AllocateVolume(ctxT(t), &volume_server_pb.AllocateVolumeRequest{VolumeId: 1, Collection: strings.Repeat("c", smallMessageLimit+1)})
	if err == nil || !strings.Contains(err.Error(), "over the") {
		t.Fatalf("a 8 MB collection name: %v", err)
	}
	if _, err := c.AllocateVolume(ctxT(t), &volume_server_pb.AllocateVolumeRequest{VolumeId: 1}); err != nil {
		t.Fatalf("a small request after a refused one: %v", err)
	}
	// a needle of 12 MB fits under the 16 MB file size limit (here the
	// needle is not a valid record: the point is that it is decoded)
	_, err = c.WriteNeedleBlob(ctxT(t), &volume_server_pb.WriteNeedleBlobRequest{VolumeId: 1, NeedleId: 5, Size: 12 << 20, NeedleBlob: make([]byte, 12<<20)})
	if err != nil && strings.Contains(err.Error(), "over the") {
		t.Fatalf("a 12 MB needle blob was refused by the small limit: %v", err)
	}
	_, err = c.WriteNeedleBlob(ctxT(t), &volume_server_pb.WriteNeedleBlobRequest{VolumeId: 1, NeedleId: 6, NeedleBlob: make([]byte, 20<<20)})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a 20 MB needle blob over the 16 MB limit: %v", err)
	}
}
