package grpcsvc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

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

// compactProgressEvery is how many scanned bytes pass between
// VacuumVolumeCompact's progress messages, as upstream's.
const compactProgressEvery = 128 << 20

// VacuumVolumeCompact writes the compacted copy of a volume beside it
// (engine.Volume.Compact), paced by -compactionMBps, reporting progress
// every 128 MiB scanned.
func (s *Service) VacuumVolumeCompact(req *volume_server_pb.VacuumVolumeCompactRequest, stream volume_server_pb.VolumeServer_VacuumVolumeCompactServer) error {
	ctx := stream.Context()
	if err := s.checkAdmin(ctx); err != nil {
		return err
	}
	if err := s.maintenanceErr(); err != nil {
		return err
	}
	v, ok := s.store.Volume(req.GetVolumeId())
	if !ok {
		return status.Error(codes.NotFound, fmt.Sprintf("compact volume %d: volume id %d is not found during compact: %v", req.GetVolumeId(), req.GetVolumeId(), errVolumeNotFound))
	}
	pace := newPacer(s.cfg.CompactionBytesPerSecond)
	start := time.Now()
	var sendErr error
	last, next := int64(0), int64(compactProgressEvery)
	err := v.Compact(func(scanned int64) bool {
		if pace.wait(ctx, int(scanned-last)) != nil {
			return false
		}
		last = scanned
		if scanned >= next {
			next = scanned + compactProgressEvery
			if sendErr = stream.Send(&volume_server_pb.VacuumVolumeCompactResponse{ProcessedBytes: scanned, LoadAvg_1M: loadPerCPU()}); sendErr != nil {
				return false
			}
		}
		return true
	})
	s.m.Vacuumed("compact", time.Since(start), err == nil && sendErr == nil)
	if sendErr != nil {
		return sendErr
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("compact volume %d: %w", req.GetVolumeId(), err)
	}
	return nil
}

// VacuumVolumeCommit swaps the compacted copy in.
func (s *Service) VacuumVolumeCommit(ctx context.Context, req *volume_server_pb.VacuumVolumeCommitRequest) (*volume_server_pb.VacuumVolumeCommitResponse, error) {
	if err := s.checkAdmin(ctx); err != nil {
		return nil, err
	}
	if err := s.maintenanceErr(); err != nil {
		return nil, err
	}
	release, err := s.commitSlot(ctx)
	if err != nil {
		s.logf("commit volume %d not started: %v", req.GetVolumeId(), err)
		return nil, status.FromContextError(err).Err()
	}
	defer release()
	if err := s.maintenanceErr(); err != nil {
		return nil, err // maintenance may have begun while queued
	}
	resp := &volume_server_pb.VacuumVolumeCommitResponse{}
	start := time.Now()
	v, err := s.store.CommitCompactVolume(req.GetVolumeId())
	s.m.Vacuumed("commit", time.Since(start), err == nil)
	if v != nil {
		resp.IsReadOnly, resp.VolumeSize = v.IsReadOnly(), uint64(v.Size())
	}
	if err != nil {
		if errors.Is(err, engine.ErrVolumeNotFound) {
			return resp, status.Error(codes.NotFound, fmt.Sprintf("commit compact volume %d: %v", req.GetVolumeId(), err))
		}
		return resp, fmt.Errorf("commit compact volume %d: %w", req.GetVolumeId(), err)
	}
	return resp, nil
}

// VacuumVolumeCleanup drops an uncommitted compacted copy.
func (s *Service) VacuumVolumeCleanup(ctx context.Context, req *volume_server_pb.VacuumVolumeCleanupRequest) (*volume_server_pb.VacuumVolumeCleanupResponse, error) {
	if err := s.checkAdmin(ctx); err != nil {
		return nil, err
	}
	if err := s.maintenanceErr(); err != nil {
		return nil, err
	}
	resp := &volume_server_pb.VacuumVolumeCleanupResponse{}
	v, ok := s.store.Volume(req.GetVolumeId())
	if !ok {
		return resp, status.Error(codes.NotFound, fmt.Sprintf("cleanup volume %d: volume id %d is not found during cleaning up: %v", req.GetVolumeId(), req.GetVolumeId(), errVolumeNotFound))
	}
	if err := v.CleanupCompact(); err != nil {
		return resp, fmt.Errorf("cleanup volume %d: %w", req.GetVolumeId(), err)
	}
	return resp, nil
}

// loadPerCPU is the 1-minute load average over the CPU count, as upstream
// reports it with compaction progress; 0 where /proc/loadavg is missing.
func loadPerCPU() float32 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), " ")
	load, err := strconv.ParseFloat(first, 64)
	if err != nil {
		return 0
	}
	return float32(load / float64(runtime.NumCPU()))
}

// commitSlot waits for one of -compactionMaxParallelCommits' slots,
// holding no volume lock meanwhile, as upstream; the wait counts against
// the caller's deadline. Without a limit it returns at once.
func (s *Service) commitSlot(ctx context.Context) (release func(), err error) {
	if s.commitSlots == nil {
		return func() {}, nil
	}
	select {
	case s.commitSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	release = func() { <-s.commitSlots }
	if err := ctx.Err(); err != nil { // both were ready: select chose at random
		release()
		return nil, err
	}
	return release, nil
}
