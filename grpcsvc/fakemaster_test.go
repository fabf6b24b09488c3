package grpcsvc

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/master_pb"
	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc"

	"github.com/weedvol/weedvol/engine"
)

// fakeMaster is a minimal in-process master over real gRPC: a follower that
// names a leader, or a leader that records heartbeats and answers the
// first one of each stream as upstream does.
type fakeMaster struct {
	master_pb.UnimplementedSeaweedServer
	leader string // when set, this master is a follower naming it
	limit  uint64

	mu    sync.Mutex
	beats []*master_pb.Heartbeat
	gs    *grpc.Server
	addr  string // "127.0.0.1:<port>.<port>": HTTP and gRPC ports alike
}

func startFakeMaster(t *testing.T, leader string, grpcPort int) *fakeMaster {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(grpcPort))
	if err != nil {
		t.Fatal(err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	m := &fakeMaster{leader: leader, limit: 64 << 20, gs: grpc.NewServer(), addr: "127.0.0.1:" + strconv.Itoa(port) + "." + strconv.Itoa(port)}
	master_pb.RegisterSeaweedServer(m.gs, m)
	go m.gs.Serve(lis)
	t.Cleanup(m.gs.Stop)
	return m
}

func (m *fakeMaster) grpcPort() int {
	_, _, gp, _ := splitPorts(m.addr)
	p, _ := strconv.Atoi(gp)
	return p
}

func (m *fakeMaster) SendHeartbeat(stream master_pb.Seaweed_SendHeartbeatServer) error {
	first := true
	for {
		hb, err := stream.Recv()
		if err != nil {
			return err
		}
		if m.leader != "" {
			if err := stream.Send(&master_pb.HeartbeatResponse{Leader: m.leader}); err != nil {
				return err
			}
			continue
		}
		m.mu.Lock()
		m.beats = append(m.beats, hb)
		m.mu.Unlock()
		if first {
			first = false
			resp := &master_pb.HeartbeatResponse{VolumeSizeLimit: m.limit, MaxVolumeId: 500, TopologyId: "topo-1"}
			if err := stream.Send(resp); err != nil {
				return err
			}
		}
	}
}

// received returns the heartbeats recorded so far.
func (m *fakeMaster) received() []*master_pb.Heartbeat {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*master_pb.Heartbeat(nil), m.beats...)
}

func (m *fakeMaster) has(pred func(*master_pb.Heartbeat) bool) bool {
	for _, hb := range m.received() {
		if pred(hb) {
			return true
		}
	}
	return false
}

func TestHeartbeatFollowsLeaderAndReconnects(t *testing.T) {
	leader := startFakeMaster(t, "", 0)
	follower := startFakeMaster(t, leader.addr, 0)
	e := newEnv(t, func(c *Config) {
		c.Masters = []string{follower.addr}
		c.Pulse = 300 * time.Millisecond
		c.DataCenter, c.Rack = "dc", "rack"
	})
	e.allocate(t, 3, "c")
	e.svc.hb.settle = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.svc.StartHeartbeat(ctx)

	eventually(t, 10*time.Second, "leader gets a full heartbeat", func() (bool, string) {
		return e.svc.Connected() && leader.has(func(hb *master_pb.Heartbeat) bool {
			return len(hb.GetVolumes()) == 1 && hb.GetVolumes()[0].GetCollection() == "c" && hb.GetGrpcPort() != 0 &&
				hb.GetDataCenter() == "dc" && len(hb.GetLocationUuids()) == 1 && hb.GetMaxVolumeCounts()[""] == 8
		}), ""
	})
	if got := e.svc.CurrentMaster(); got != leader.addr {
		t.Fatalf("current master %q, want the leader %q", got, leader.addr)
	}
	if got := e.svc.VolumeSizeLimit(); got != leader.limit {
		t.Fatalf("volume size limit %d, want %d", got, leader.limit)
	}
	if len(follower.received()) != 0 {
		t.Fatal("the follower recorded heartbeats")
	}
	// The master's volume id bound is echoed and kept on disk.
	eventually(t, 5*time.Second, "bound echoed", func() (bool, string) {
		return leader.has(func(hb *master_pb.Heartbeat) bool {
			return hb.GetMaxVolumeIdSeen() == 500 && hb.GetLastSeenTopologyId() == "topo-1"
		}), ""
	})
	b, err := os.ReadFile(filepath.Join(e.dir, engine.VidStampFile))
	var stamp vidStampJSON
	if err != nil || json.Unmarshal(b, &stamp) != nil || stamp.MaxVolumeID != 500 || stamp.TopologyID != "topo-1" {
		t.Fatalf(".vid_stamp %s: %v", b, err)
	}

	// Changes go out at once as deltas, in order.
	e.allocate(t, 4, "")
	if _, err := e.client.VolumeUnmount(ctxT(t), &volume_server_pb.VolumeUnmountRequest{VolumeId: 3}); err != nil {
		t.Fatal(err)
	}
	e.setMaintenance(t, true)
	eventually(t, 5*time.Second, "deltas", func() (bool, string) {
		added := leader.has(func(hb *master_pb.Heartbeat) bool {
			return len(hb.GetNewVolumes()) == 1 && hb.GetNewVolumes()[0].GetId() == 4 && len(hb.GetVolumes()) == 0
		})
		deleted := leader.has(func(hb *master_pb.Heartbeat) bool {
			return len(hb.GetDeletedVolumes()) == 1 && hb.GetDeletedVolumes()[0].GetId() == 3 && hb.GetDeletedVolumes()[0].GetCollection() == "c"
		})
		state := leader.has(func(hb *master_pb.Heartbeat) bool {
			return hb.GetState().GetMaintenance() && len(hb.GetVolumes()) == 0 && !hb.GetHasNoVolumes()
		})
		return added && deleted && state, ""
	})

	// The leader goes away: the node reconnects once it is back.
	port := leader.grpcPort()
	leader.gs.Stop()
	eventually(t, 5*time.Second, "disconnect noticed", func() (bool, string) { return !e.svc.Connected(), "" })
	if !e.state.IsHeartbeating() {
		t.Fatal("a lost master made the node unhealthy; upstream stays healthy until stopped")
	}
	back := startFakeMaster(t, "", port)
	eventually(t, 10*time.Second, "reconnected", func() (bool, string) {
		return e.svc.Connected() && back.has(func(hb *master_pb.Heartbeat) bool { return len(hb.GetVolumes()) == 1 }), ""
	})

	e.svc.StopHeartbeat()
	eventually(t, 5*time.Second, "goodbye", func() (bool, string) {
		return back.has(func(hb *master_pb.Heartbeat) bool {
			return hb.GetHasNoVolumes() && len(hb.GetVolumes()) == 0 && hb.GetIp() == "127.0.0.1" && hb.GetPublicUrl() != ""
		}), ""
	})
}

func TestHeartbeatWithoutMasters(t *testing.T) {
	e := newEnv(t)
	e.svc.StartHeartbeat(context.Background())
	if !e.state.Healthy() {
		t.Fatal("node without masters is not healthy")
	}
	done := make(chan struct{})
	go func() { e.svc.StopHeartbeat(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("StopHeartbeat hangs without masters")
	}
	if e.state.IsHeartbeating() {
		t.Fatal("still heartbeating after stop")
	}
}
