package grpcsvc

import (
	"context"
	"fmt"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine"
)

// VacuumVolumeCheck reports a volume's garbage ratio, the share of its
// content bytes that deletes and overwrites have made dead, which the
// master compares with its -garbageThreshold to decide on a vacuum.
// DiskSpaceLow stays false: weedvol does not mark volumes read-only for
// low disk space.
func (s *Service) VacuumVolumeCheck(ctx context.Context, req *volume_server_pb.VacuumVolumeCheckRequest) (*volume_server_pb.VacuumVolumeCheckResponse, error) {
	resp := &volume_server_pb.VacuumVolumeCheckResponse{}
	v, ok := s.store.Volume(req.GetVolumeId())
	if !ok {
		return resp, status.Error(codes.NotFound, fmt.Sprintf("volume id %d is not found during check compact: %v", req.GetVolumeId(), errVolumeNotFound))
	}
	resp.GarbageRatio = garbageRatio(v.Stats())
	return resp, nil
}

// garbageRatio is dead bytes over all content bytes (0 for no content).
func garbageRatio(st engine.Stats) float64 {
	if st.FileBytes == 0 {
		return 0
	}
	return float64(st.DeletedBytes) / float64(st.FileBytes)
}

// Compaction itself is not implemented yet. The three steps refuse in
// maintenance mode first, as upstream's do, then answer Unimplemented, so
// the master's vacuum of a volume stops at its first step with nothing
// changed.

// VacuumVolumeCompact would write the compacted copy of a volume.
func (s *Service) VacuumVolumeCompact(req *volume_server_pb.VacuumVolumeCompactRequest, stream volume_server_pb.VolumeServer_VacuumVolumeCompactServer) error {
	if err := s.checkAdmin(stream.Context()); err != nil {
		return err
	}
	if err := s.maintenanceErr(); err != nil {
		return err
	}
	return status.Error(codes.Unimplemented, "method VacuumVolumeCompact not implemented")
}

// VacuumVolumeCommit would swap the compacted copy in.
func (s *Service) VacuumVolumeCommit(ctx context.Context, req *volume_server_pb.VacuumVolumeCommitRequest) (*volume_server_pb.VacuumVolumeCommitResponse, error) {
	if err := s.checkAdmin(ctx); err != nil {
		return nil, err
	}
	if err := s.maintenanceErr(); err != nil {
		return nil, err
	}
	return nil, status.Error(codes.Unimplemented, "method VacuumVolumeCommit not implemented")
}

// VacuumVolumeCleanup would drop an uncommitted compacted copy.
func (s *Service) VacuumVolumeCleanup(ctx context.Context, req *volume_server_pb.VacuumVolumeCleanupRequest) (*volume_server_pb.VacuumVolumeCleanupResponse, error) {
	if err := s.checkAdmin(ctx); err != nil {
		return nil, err
	}
	if err := s.maintenanceErr(); err != nil {
		return nil, err
	}
	return nil, status.Error(codes.Unimplemented, "method VacuumVolumeCleanup not implemented")
}
