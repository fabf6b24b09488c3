package grpcsvc

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/master_pb"
	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc"
)

// ecLookupMaster answers LookupEcVolume from a table and counts the calls.
type ecLookupMaster struct {
	master_pb.UnimplementedSeaweedServer
	mu      sync.Mutex
	shards  map[uint32][]*master_pb.Location // shard id -> holders
	lookups atomic.Int32
}

func (m *ecLookupMaster) LookupEcVolume(ctx context.Context, req *master_pb.LookupEcVolumeRequest) (*master_pb.LookupEcVolumeResponse, error) {
	m.lookups.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	resp := &master_pb.LookupEcVolumeResponse{VolumeId: req.GetVolumeId()}
	for id, locs := range m.shards {
		resp.ShardIdLocations = append(resp.ShardIdLocations, &master_pb.LookupEcVolumeResponse_EcShardIdLocation{ShardId: id, Locations: locs})
	}
	return resp, nil
}

// ecHolder is a peer volume server whose shard reads behave as told.
type ecHolder struct {
	volume_server_pb.UnimplementedVolumeServerServer
	mode    atomic.Value // string: "ok", "long", "deleted", "fail"
	deletes atomic.Int32
	addr    *master_pb.Location
}

func (h *ecHolder) VolumeEcShardRead(req *volume_server_pb.VolumeEcShardReadRequest, stream volume_server_pb.VolumeServer_VolumeEcShardReadServer) error {
	mode := h.mode.Load().(string)
	switch mode {
	case "fail":
		return errors.New("disk on fire")
	case "deleted":
		return stream.Send(&volume_server_pb.VolumeEcShardReadResponse{IsDeleted: true})
	}
	size := int(req.GetSize())
	if mode == "long" {
		size += 100
	}
	data := []byte(strings.Repeat("x", size))
	half := len(data) / 2
	if err := stream.Send(&volume_server_pb.VolumeEcShardReadResponse{Data: data[:half]}); err != nil {
		return err
	}
	return stream.Send(&volume_server_pb.VolumeEcShardReadResponse{Data: data[half:]})
}

func (h *ecHolder) VolumeEcBlobDelete(ctx context.Context, req *volume_server_pb.VolumeEcBlobDeleteRequest) (*volume_server_pb.VolumeEcBlobDeleteResponse, error) {
	h.deletes.Add(1)
	return &volume_server_pb.VolumeEcBlobDeleteResponse{}, nil
}

func serveGRPC(t *testing.T, register func(*grpc.Server)) int {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	register(gs)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return lis.Addr().(*net.TCPAddr).Port
}

func startHolder(t *testing.T, mode string, httpPort int) *ecHolder {
	h := &ecHolder{}
	h.mode.Store(mode)
	port := serveGRPC(t, func(gs *grpc.Server) { volume_server_pb.RegisterVolumeServerServer(gs, h) })
	h.addr = &master_pb.Location{Url: "127.0.0.1:" + strconv.Itoa(httpPort), GrpcPort: uint32(port)}
	return h
}

func TestEcPeersFetch(t *testing.T) {
	ok := startHolder(t, "ok", 1001)
	long := startHolder(t, "long", 1002)
	deleted := startHolder(t, "deleted", 1003)
	failing := startHolder(t, "fail", 1004)
	m := &ecLookupMaster{shards: map[uint32][]*master_pb.Location{
		0:  {ok.addr},
		1:  {long.addr},
		2:  {deleted.addr},
		3:  {failing.addr, ok.addr}, // the second serves it
		4:  {failing.addr},
		5:  {{Url: "127.0.0.1:18080", GrpcPort: 1}}, // this node itself: never asked
		40: {ok.addr},                               // out of range: ignored
	}}
	mport := serveGRPC(t, func(gs *grpc.Server) { master_pb.RegisterSeaweedServer(gs, m) })
	e := newEnv(t, func(c *Config) { c.Masters = []string{"127.0.0.1:" + strconv.Itoa(mport) + "." + strconv.Itoa(mport)} })
	p := e.svc.NewEcPeers()
	defer p.Close()
	ctx := ctxT(t)
	tests := []struct {
		shard   int
		n       int
		deleted bool
		err     string
	}{
		{0, 64, false, ""},
		{1, 0, false, "more than asked"},
		{2, 0, true, ""},
		{3, 64, false, ""},
		{4, 0, false, "disk on fire"},
		{5, 0, false, "no holder"},
		{6, 0, false, "no holder"},
		{40, 0, false, "out of range"},
		{-1, 0, false, "out of range"},
	}
	for _, tt := range tests {
		buf := make([]byte, 64)
		n, del, err := p.FetchEcShard(ctx, 9, "", tt.shard, 128, buf, 77)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("shard %d: want error %q, got %v", tt.shard, tt.err, err)
			}
			continue
		}
		if err != nil || n != tt.n || del != tt.deleted {
			t.Errorf("shard %d: got n=%d deleted=%v err=%v, want n=%d deleted=%v", tt.shard, n, del, err, tt.n, tt.deleted)
		}
	}
	if got := m.lookups.Load(); got < 1 {
		t.Fatalf("master never asked")
	}
}

// TestEcPeersCache: an answer is reused while fresh; a failed read marks
// it stale, so the master is asked again after the short lifetime.
func TestEcPeersCache(t *testing.T) {
	ok := startHolder(t, "ok", 1001)
	shards := map[uint32][]*master_pb.Location{}
	for i := uint32(0); i < 14; i++ {
		shards[i] = []*master_pb.Location{ok.addr}
	}
	m := &ecLookupMaster{shards: shards}
	mport := serveGRPC(t, func(gs *grpc.Server) { master_pb.RegisterSeaweedServer(gs, m) })
	e := newEnv(t, func(c *Config) { c.Masters = []string{"127.0.0.1:" + strconv.Itoa(mport) + "." + strconv.Itoa(mport)} })
	p := e.svc.NewEcPeers()
	defer p.Close()
	now := time.Unix(1000, 0)
	p.now = func() time.Time { return now }
	ctx := ctxT(t)
	buf := make([]byte, 8)
	for i := 0; i < 3; i++ {
		if _, _, err := p.FetchEcShard(ctx, 9, "", i, 0, buf, 0); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.lookups.Load(); got != 1 {
		t.Fatalf("%d lookups for three reads of a complete volume", got)
	}
	now = now.Add(ecLookupMid) // complete: still fresh
	if _, _, err := p.FetchEcShard(ctx, 9, "", 0, 0, buf, 0); err != nil || m.lookups.Load() != 1 {
		t.Fatalf("complete answer not kept: %v, %d lookups", err, m.lookups.Load())
	}
	ok.mode.Store("fail")
	if _, _, err := p.FetchEcShard(ctx, 9, "", 0, 0, buf, 0); err == nil {
		t.Fatal("failing holder read succeeded")
	}
	if got := m.lookups.Load(); got != 2 {
		t.Fatalf("a failed read asked the master %d times in all, want 2", got)
	}
	// within ecRelookupEvery a failure does not ask again
	if _, _, err := p.FetchEcShard(ctx, 9, "", 0, 0, buf, 0); err == nil || m.lookups.Load() != 2 {
		t.Fatalf("second failure: %v, %d lookups", err, m.lookups.Load())
	}
	now = now.Add(ecLookupShort + time.Second)
	ok.mode.Store("ok")
	if _, _, err := p.FetchEcShard(ctx, 9, "", 0, 0, buf, 0); err != nil || m.lookups.Load() != 3 {
		t.Fatalf("stale answer not looked up again: %v, %d lookups", err, m.lookups.Load())
	}

	// shard 0 moves to another holder: the first read after the move
	// finds it through a fresh lookup
	moved := startHolder(t, "ok", 1009)
	m.mu.Lock()
	m.shards[0] = []*master_pb.Location{moved.addr}
	m.mu.Unlock()
	ok.mode.Store("fail")
	now = now.Add(2 * ecRelookupEvery)
	if n, _, err := p.FetchEcShard(ctx, 9, "", 0, 0, buf, 0); err != nil || n != len(buf) {
		t.Fatalf("read after the move: n=%d err=%v", n, err)
	}
}

// TestEcPeersDeleteBlob: the delete goes to every other holder of any
// shard, once each, and succeeds when one of them accepts it.
func TestEcPeersDeleteBlob(t *testing.T) {
	a := startHolder(t, "ok", 1001)
	b := startHolder(t, "ok", 1002)
	c := startHolder(t, "ok", 1003)
	m := &ecLookupMaster{shards: map[uint32][]*master_pb.Location{
		0: {a.addr}, 1: {a.addr, b.addr}, 2: {b.addr}, 9: {c.addr},
		3: {{Url: "127.0.0.1:18080", GrpcPort: 1}}, // this node: not asked
	}}
	mport := serveGRPC(t, func(gs *grpc.Server) { master_pb.RegisterSeaweedServer(gs, m) })
	e := newEnv(t, func(c *Config) { c.Masters = []string{"127.0.0.1:" + strconv.Itoa(mport) + "." + strconv.Itoa(mport)} })
	p := e.svc.NewEcPeers()
	defer p.Close()
	ctx := ctxT(t)
	for _, shard := range []int{1, 7, -1, 99} {
		if err := p.DeleteEcBlob(ctx, 9, "", 5, 3, shard); err != nil {
			t.Fatalf("shard %d: %v", shard, err)
		}
	}
	if a.deletes.Load() != 4 || b.deletes.Load() != 4 || c.deletes.Load() != 4 {
		t.Fatalf("deletes per holder: %d %d %d, want 4 each", a.deletes.Load(), b.deletes.Load(), c.deletes.Load())
	}
	// one holder down: still a success while another accepts
	dead := &master_pb.Location{Url: "127.0.0.1:1005", GrpcPort: 1}
	m.mu.Lock()
	m.shards[10] = []*master_pb.Location{dead}
	m.mu.Unlock()
	p.forget(9)
	p.now = func() time.Time { return time.Now().Add(time.Hour) }
	if err := p.DeleteEcBlob(ctx, 9, "", 6, 3, 10); err != nil {
		t.Fatalf("with one holder unreachable: %v", err)
	}
	if a.deletes.Load() != 5 {
		t.Fatalf("holder a: %d deletes", a.deletes.Load())
	}
	// nobody accepts: the error names them
	m.mu.Lock()
	m.shards = map[uint32][]*master_pb.Location{0: {dead}}
	m.mu.Unlock()
	p.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if err := p.DeleteEcBlob(ctx, 9, "", 6, 3, 0); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1005") {
		t.Fatalf("no holder accepted: %v", err)
	}
}
