package grpcsvc

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/iouring"
	"github.com/weedvol/weedvol/nodestate"
)

// env is a Service over a real store in a temporary directory, served over
// real gRPC on loopback.
type env struct {
	dir    string
	store  *engine.Store
	state  *nodestate.State
	svc    *Service
	client volume_server_pb.VolumeServerClient
	addr   string
}

type envOption func(*Config)

// harnessIO, when set by a test (not in parallel), is the I/O engine of the
// stores newEnvIn opens.
var harnessIO iouring.Engine

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	return newEnvIn(t, t.TempDir(), opts...)
}

// newEnvIn serves the store in dir; it may be called again on the same dir
// to check what survives a restart.
func newEnvIn(t *testing.T, dir string, opts ...envOption) *env {
	t.Helper()
	store, err := engine.OpenStore(engine.StoreConfig{
		Locations: []engine.LocationConfig{{Dir: dir, MaxVolumes: 8}}, Logf: t.Logf, IO: harnessIO,
	})
	if err != nil {
		t.Fatal(err)
	}
	state := nodestate.New()
	// The harness's peers listen on loopback, which the default refuses:
	// tests of the refusal turn this off (refusePeers).
	cfg := Config{Store: store, State: state, IP: "127.0.0.1", Port: 18080, Logf: t.Logf, AllowUntrustedRemoteEndpoints: true}
	for _, o := range opts {
		o(&cfg)
	}
	// Listen where the master will call back when the test names a port,
	// on the announced IP (loopback unless the test names another).
	lis, err := net.Listen("tcp", net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.GrpcPort)))
	if err != nil {
		t.Fatal(err)
	}
	svc := New(cfg)
	gs := grpc.NewServer()
	svc.Register(gs)
	go gs.Serve(lis)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		gs.Stop()
		svc.Close()
		store.Close()
	})
	return &env{dir: dir, store: store, state: state, svc: svc, client: volume_server_pb.NewVolumeServerClient(conn), addr: lis.Addr().String()}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) allocate(t *testing.T, id uint32, collection string) *engine.Volume {
	t.Helper()
	_, err := e.client.AllocateVolume(ctxT(t), &volume_server_pb.AllocateVolumeRequest{VolumeId: id, Collection: collection, Replication: "000"})
	if err != nil {
		t.Fatalf("AllocateVolume %d: %v", id, err)
	}
	v, ok := e.store.Volume(id)
	if !ok {
		t.Fatalf("volume %d not in store after AllocateVolume", id)
	}
	return v
}

func (e *env) setMaintenance(t *testing.T, on bool) {
	t.Helper()
	cur, err := e.client.GetState(ctxT(t), &volume_server_pb.GetStateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client.SetState(ctxT(t), &volume_server_pb.SetStateRequest{
		State: &volume_server_pb.VolumeServerState{Maintenance: on, Version: cur.GetState().GetVersion()},
	})
	if err != nil {
		t.Fatalf("SetState maintenance=%v: %v", on, err)
	}
}

func write(t *testing.T, v *engine.Volume, n needle.Needle) needle.Needle {
	t.Helper()
	if _, err := v.Write(&n, engine.WriteOptions{}); err != nil {
		t.Fatalf("write %x: %v", n.ID, err)
	}
	return n
}

func fid(vid uint32, key uint64, cookie uint32) string { return needle.FormatFid(vid, key, cookie) }

func engineWriteOptions() engine.WriteOptions { return engine.WriteOptions{} }
func engineReadOptions() engine.ReadOptions   { return engine.ReadOptions{} }
