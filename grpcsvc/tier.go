package grpcsvc

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"

	"github.com/weedvol/weedvol/engine"
)

// tierProgressEvery is how often a tier move reports its progress, as
// upstream (at most one message a second).
const tierProgressEvery = time.Second

// tierProgress returns the engine's progress callback for a move that
// reports through send, at most once a tierProgressEvery. The first failed
// send cancels the move (through cancel) and is kept in *sendErr.
// INVARIANT: the engine calls the callback from one goroutine at a time.
func tierProgress(send func(done int64, pct float32) error, cancel context.CancelFunc, sendErr *error) func(done, total int64) {
	var mu sync.Mutex
	last := time.Now()
	return func(done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if *sendErr != nil || time.Since(last) < tierProgressEvery {
			return
		}
		last = time.Now()
		pct := float32(100)
		if total > 0 {
			pct = float32(done) * 100 / float32(total)
		}
		if err := send(done, pct); err != nil {
			*sendErr = err
			cancel()
		}
	}
}

// VolumeTierMoveDatToRemote copies a volume's .dat to the remote tier
// named by destination_backend_name and serves the volume from it; the
// local .dat is removed unless keep_local_dat_file. Checks and texts are
// upstream's; a volume already remote is answered with success, as
// upstream does.
func (s *Service) VolumeTierMoveDatToRemote(req *volume_server_pb.VolumeTierMoveDatToRemoteRequest, stream volume_server_pb.VolumeServer_VolumeTierMoveDatToRemoteServer) error {
	ctx := stream.Context()
	if err := s.checkAdmin(ctx); err != nil {
		return err
	}
	if err := s.maintenanceErr(); err != nil {
		return err
	}
	v, err := s.tierVolume(req.GetVolumeId(), req.GetCollection())
	if err != nil {
		return err
	}
	if v.IsRemote() {
		return nil // already copied to remote
	}
	dest := req.GetDestinationBackendName()
	backend, found := s.tierBackend(dest)
	if !found {
		return fmt.Errorf("destination %s not found, supported: %v", dest, s.tierBackendNames())
	}
	typ, id := engine.BackendNameToTypeID(dest)
	for _, f := range v.Info().GetFiles() {
		if f.GetBackendType() == typ && f.GetBackendId() == id {
			return fmt.Errorf("destination %s already exists", dest)
		}
	}
	return runTierMove(ctx, func(done int64, pct float32) error {
		return stream.Send(&volume_server_pb.VolumeTierMoveDatToRemoteResponse{Processed: done, ProcessedPercentage: pct})
	}, func(ctx context.Context, progress func(done, total int64)) error {
		_, err := v.MoveDatToRemote(ctx, engine.TierOptions{Backend: dest, Remote: backend, Keep: req.GetKeepLocalDatFile(), Progress: progress})
		return err
	})
}

// VolumeTierMoveDatFromRemote copies a remote volume's .dat back to the
// data directory and serves it from there; the remote object is deleted
// unless keep_remote_dat_file. Checks and texts are upstream's.
func (s *Service) VolumeTierMoveDatFromRemote(req *volume_server_pb.VolumeTierMoveDatFromRemoteRequest, stream volume_server_pb.VolumeServer_VolumeTierMoveDatFromRemoteServer) error {
	ctx := stream.Context()
	if err := s.checkAdmin(ctx); err != nil {
		return err
	}
	v, err := s.tierVolume(req.GetVolumeId(), req.GetCollection())
	if err != nil {
		return err
	}
	name, key := v.RemoteStorage()
	if name == "" || key == "" || !v.IsRemote() {
		return fmt.Errorf("volume %d is already on local disk", req.GetVolumeId())
	}
	backend, found := s.tierBackend(name)
	if !found {
		return fmt.Errorf("remote storage %s not found from supported: %v", name, s.tierBackendNames())
	}
	return runTierMove(ctx, func(done int64, pct float32) error {
		return stream.Send(&volume_server_pb.VolumeTierMoveDatFromRemoteResponse{Processed: done, ProcessedPercentage: pct})
	}, func(ctx context.Context, progress func(done, total int64)) error {
		return v.MoveDatFromRemote(ctx, engine.TierOptions{Backend: name, Remote: backend, Keep: req.GetKeepRemoteDatFile(), Progress: progress})
	})
}

// tierVolume is the volume a tier move names, with upstream's texts for a
// missing volume and another collection.
func (s *Service) tierVolume(id uint32, collection string) (*engine.Volume, error) {
	v, ok := s.store.Volume(id)
	if !ok {
		return nil, fmt.Errorf("volume %d not found", id)
	}
	if v.Collection != collection {
		return nil, fmt.Errorf("existing collection:%v unexpected input: %v", v.Collection, collection)
	}
	return v, nil
}

// runTierMove runs move with a progress callback that reports through
// send (tierProgress); the first failed send cancels the move and is the
// error returned.
func runTierMove(ctx context.Context, send func(done int64, pct float32) error, move func(ctx context.Context, progress func(done, total int64)) error) error {
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var sendErr error
	err := move(mctx, tierProgress(send, cancel, &sendErr))
	if sendErr != nil {
		return sendErr
	}
	return err
}

// sortedNames returns names sorted, for stable error texts.
func sortedNames(names []string) []string {
	out := append([]string(nil), names...)
	sort.Strings(out)
	return out
}
