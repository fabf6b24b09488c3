package grpcsvc

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/diskstat"
)

// masterType is upstream's ping target type for masters; volume servers
// ping no other type.
const masterType = "master"

// VolumeServerStatus reports disks, memory, version, location and state.
func (s *Service) VolumeServerStatus(ctx context.Context, req *volume_server_pb.VolumeServerStatusRequest) (*volume_server_pb.VolumeServerStatusResponse, error) {
	resp := &volume_server_pb.VolumeServerStatusResponse{
		State:        s.state.ServerState(),
		MemoryStatus: memStatus(),
		Version:      s.state.Version() + " ",
		DataCenter:   s.cfg.DataCenter,
		Rack:         s.cfg.Rack,
	}
	for _, l := range s.store.Locations() {
		if dir, err := filepath.Abs(l.Dir); err == nil {
			resp.DiskStatuses = append(resp.DiskStatuses, diskstat.Of(dir, ""))
		}
	}
	return resp, nil
}

func memStatus() *volume_server_pb.MemStatus {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := &volume_server_pb.MemStatus{
		Goroutines: int32(runtime.NumGoroutine()),
		Self:       ms.Alloc,
		Heap:       ms.HeapAlloc,
		Stack:      ms.StackInuse,
	}
	fillSystemMemory(m)
	return m
}

// VolumeServerLeave stops the heartbeat for good: the master drops this
// server's volumes and /healthz turns unhealthy. Repeating it succeeds.
func (s *Service) VolumeServerLeave(ctx context.Context, req *volume_server_pb.VolumeServerLeaveRequest) (*volume_server_pb.VolumeServerLeaveResponse, error) {
	resp := &volume_server_pb.VolumeServerLeaveResponse{}
	if err := s.checkAdmin(ctx); err != nil {
		return resp, err
	}
	s.state.Leave()
	s.StopHeartbeat()
	return resp, nil
}

// Ping answers a self-probe (empty target) or pings a master this server
// knows (a seed or the current leader). Every other target is refused with
// InvalidArgument before anything is dialed.
func (s *Service) Ping(ctx context.Context, req *volume_server_pb.PingRequest) (*volume_server_pb.PingResponse, error) {
	resp := &volume_server_pb.PingResponse{StartTimeNs: time.Now().UnixNano()}
	if req.GetTarget() != "" && !s.knownPingTarget(req.GetTarget(), req.GetTargetType()) {
		resp.StopTimeNs = time.Now().UnixNano()
		return resp, status.Errorf(codes.InvalidArgument, "unknown ping target %s of type %s", req.GetTarget(), req.GetTargetType())
	}
	var err error
	if req.GetTargetType() == masterType {
		resp.RemoteTimeNs, err = s.pingMaster(ctx, req.GetTarget())
	}
	if err != nil {
		err = fmt.Errorf("ping %s %s: %v", req.GetTargetType(), req.GetTarget(), err)
	}
	resp.StopTimeNs = time.Now().UnixNano()
	return resp, err
}

func (s *Service) knownPingTarget(target, targetType string) bool {
	if targetType != masterType {
		return false
	}
	key := httpAddress(target)
	if key == "" {
		return false
	}
	if cur := s.hb.currentMaster(); cur != "" && httpAddress(cur) == key {
		return true
	}
	for _, m := range s.cfg.Masters {
		if httpAddress(m) == key {
			return true
		}
	}
	return false
}
