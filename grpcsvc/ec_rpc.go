package grpcsvc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine"
)

// The erasure-coding RPCs of upstream's volume_grpc_erasure_coding.go,
// translated into engine.Store's EC calls. Auth and maintenance checks
// follow upstream's per RPC (Mount, ShardRead and Info check neither;
// Delete, Unmount and ShardRead run in maintenance mode; BlobDelete checks
// maintenance but not the admin list). Every RPC that may mount or drop
// shards reports the difference to the master (reportEcChanges).
//
// Shard ids at or above maxShardID are refused or skipped before they reach
// the engine: upstream's would name files no encoder writes.

// ecReadChunk bounds one VolumeEcShardRead message, upstream's
// BufferSizeLimit.
const ecReadChunk = 2 << 20

// VolumeEcShardsGenerate encodes a local volume into shards beside it.
func (s *Service) VolumeEcShardsGenerate(ctx context.Context, req *volume_server_pb.VolumeEcShardsGenerateRequest) (*volume_server_pb.VolumeEcShardsGenerateResponse, error) {
	if err := s.checkAdmin(ctx); err != nil {
		return nil, err
	}
	if err := s.maintenanceErr(); err != nil {
		return nil, err
	}
	// a re-encode drops a mounted generation first
	defer s.reportEcChanges(s.store.EcVolumes())
	if err := s.store.EcGenerate(ctx, req.GetVolumeId(), req.GetCollection()); err != nil {
		return nil, err
	}
	return &volume_server_pb.VolumeEcShardsGenerateResponse{}, nil
}

// VolumeEcShardsRebuild regenerates the shards missing on this node. A
// failure after some shards were regenerated still names them, in the
// status details, as upstream's ecRebuildErrorWithIds does: the shell
// keeps (or cleans up) what it knows was written.
func (s *Service) VolumeEcShardsRebuild(ctx context.Context, req *volume_server_pb.VolumeEcShardsRebuildRequest) (*volume_server_pb.VolumeEcShardsRebuildResponse, error) {
	if err := s.checkAdmin(ctx); err != nil {
		return nil, err
	}
	if err := s.maintenanceErr(); err != nil {
		return nil, err
	}
	defer s.reportEcChanges(s.store.EcVolumes())
	start := time.Now()
	ids, err := s.store.EcRebuild(ctx, req.GetVolumeId(), req.GetCollection())
	s.m.EcRebuilt(time.Since(start), err)
	if err != nil {
		if len(ids) == 0 {
			return nil, err
		}
		st := status.New(codes.Internal, err.Error())
		if withIds, derr := st.WithDetails(&volume_server_pb.VolumeEcShardsRebuildResponse{RebuiltShardIds: ids}); derr == nil {
			st = withIds
		}
		return nil, st.Err()
	}
	return &volume_server_pb.VolumeEcShardsRebuildResponse{RebuiltShardIds: ids}, nil
}

// VolumeEcShardsDelete removes shard files (and, with the last shard of the
// node, the volume's index files), or every EC file of the volume with
// full_teardown. It runs in maintenance mode: draining a node ends here.
func (s *Service) VolumeEcShardsDelete(ctx context.Context, req *volume_server_pb.VolumeEcShardsDeleteRequest) (*volume_server_pb.VolumeEcShardsDeleteResponse, error) {
	if err := s.checkAdmin(ctx); err != nil {
		return nil, err
	}
	vid, coll := req.GetVolumeId(), req.GetCollection()
	before := s.store.EcVolumes()
	defer s.reportEcChanges(before)
	if req.GetFullTeardown() {
		if gen := req.GetEncodeTsNs(); gen != 0 {
			// Generation fence: only a strictly older, known generation goes.
			// The store reports the generation of a mounted volume; an
			// unmounted one is torn down only without a fence.
			info, ok := s.store.EcVolume(vid)
			if !ok || info.EncodeTsNs == 0 || info.EncodeTsNs >= gen {
				return &volume_server_pb.VolumeEcShardsDeleteResponse{FullTeardownDone: true}, nil
			}
		}
		if err := s.store.EcTeardown(vid, coll); err != nil {
			return nil, fmt.Errorf("full teardown of ec volume %d: %w", vid, err)
		}
		return &volume_server_pb.VolumeEcShardsDeleteResponse{FullTeardownDone: true}, nil
	}
	if req.GetDeleteGenerationsOlderThan() > 0 {
		// Staged generations (<base>.*.v<N>) are never written here.
		return &volume_server_pb.VolumeEcShardsDeleteResponse{}, nil
	}
	shards := validShards(req.GetShardIds())
	if len(shards) == 0 {
		return &volume_server_pb.VolumeEcShardsDeleteResponse{}, nil
	}
	if err := s.store.EcDeleteShards(vid, coll, shards); err != nil {
		return nil, err
	}
	return &volume_server_pb.VolumeEcShardsDeleteResponse{}, nil
}

// validShards is ids without those at or above maxShardID (no file of
// theirs exists to delete or unmount), duplicates dropped, order kept.
func validShards(ids []uint32) []uint32 {
	var seen uint32
	out := make([]uint32, 0, len(ids))
	for _, id := range ids {
		if id >= maxShardID || seen&(1<<id) != 0 {
			continue
		}
		seen |= 1 << id
		out = append(out, id)
	}
	return out
}

// VolumeEcShardsMount mounts shards one at a time, stopping at the first
// that fails (those before it stay mounted, as upstream's); a
// source_disk_type is what the volume then reports. Upstream checks no
// admin list here, and neither does this. recover_missing_index is not
// acted on: a shard without an .ecx on this node fails to mount.
func (s *Service) VolumeEcShardsMount(ctx context.Context, req *volume_server_pb.VolumeEcShardsMountRequest) (*volume_server_pb.VolumeEcShardsMountResponse, error) {
	vid, coll := req.GetVolumeId(), req.GetCollection()
	if err := engine.ValidCollection(coll); err != nil {
		return nil, err
	}
	before := s.store.EcVolumes()
	defer s.reportEcChanges(before)
	if req.GetRecoverMissingIndex() {
		s.recoverMissingEcIndexes(ctx, vid)
	}
	for _, id := range req.GetShardIds() {
		if id >= maxShardID {
			return nil, fmt.Errorf("mount %d.%d: shard id out of range", vid, id)
		}
		if err := s.store.EcMount(vid, coll, []uint32{id}); err != nil {
			return nil, fmt.Errorf("mount %d.%d: %v", vid, id, err)
		}
		if dt := req.GetSourceDiskType(); dt != "" {
			// the source volume's medium, so heartbeats report under it
			s.store.EcSetDiskType(vid, dt)
		}
	}
	return &volume_server_pb.VolumeEcShardsMountResponse{}, nil
}

// VolumeEcShardsUnmount unmounts shards; one not mounted is no error. With
// encode_ts_ns set only a strictly older known generation is unmounted.
func (s *Service) VolumeEcShardsUnmount(ctx context.Context, req *volume_server_pb.VolumeEcShardsUnmountRequest) (*volume_server_pb.VolumeEcShardsUnmountResponse, error) {
	if err := s.checkAdmin(ctx); err != nil {
		return nil, err
	}
	vid := req.GetVolumeId()
	if gen := req.GetEncodeTsNs(); gen > 0 {
		info, ok := s.store.EcVolume(vid)
		if !ok || info.EncodeTsNs <= 0 || info.EncodeTsNs >= gen {
			return &volume_server_pb.VolumeEcShardsUnmountResponse{}, nil
		}
	}
	before := s.store.EcVolumes()
	defer s.reportEcChanges(before)
	for _, id := range validShards(req.GetShardIds()) {
		if err := s.store.EcUnmount(vid, []uint32{id}); err != nil {
			return nil, fmt.Errorf("unmount %d.%d: %v", vid, id, err)
		}
	}
	return &volume_server_pb.VolumeEcShardsUnmountResponse{}, nil
}

// hasShard reports whether info lists shard id mounted.
func hasShard(info engine.EcVolumeInfo, id uint32) bool {
	for _, sh := range info.Shards {
		if sh.ID == int(id) {
			return true
		}
	}
	return false
}

// VolumeEcShardRead streams size bytes of a mounted shard from offset in
// messages of at most ecReadChunk bytes, each stamped with the volume's
// encode time. With file_key set and that needle deleted here, the only
// message says IsDeleted. A caller naming another encode run is refused.
// It runs in maintenance mode and checks no admin list, as upstream's.
//
// Buffer ownership: one buffer is read into and sent from for the whole
// stream; Send marshals the message before it returns.
func (s *Service) VolumeEcShardRead(req *volume_server_pb.VolumeEcShardReadRequest, stream volume_server_pb.VolumeServer_VolumeEcShardReadServer) error {
	vid, shard := req.GetVolumeId(), req.GetShardId()
	info, ok := s.store.EcVolume(vid)
	if !ok || shard >= maxShardID || !hasShard(info, shard) {
		return fmt.Errorf("not found ec shard %d.%d", vid, shard)
	}
	if ts := req.GetEncodeTsNs(); ts != 0 && ts != info.EncodeTsNs {
		return fmt.Errorf("ec shard %d.%d belongs to a different encode run", vid, shard)
	}
	if key := req.GetFileKey(); key != 0 {
		_, size, found, err := s.store.EcLookup(vid, key)
		if err != nil && !errors.Is(err, engine.ErrNotFound) {
			return fmt.Errorf("ec shard %d.%d locate needle %d: %w", vid, shard, key, err)
		}
		if err == nil && found && size < 0 {
			return stream.Send(&volume_server_pb.VolumeEcShardReadResponse{IsDeleted: true, EncodeTsNs: info.EncodeTsNs})
		}
	}
	off, left := req.GetOffset(), req.GetSize()
	if left <= 0 {
		return nil
	}
	if off < 0 {
		return fmt.Errorf("ec shard %d.%d: negative offset %d", vid, shard, off)
	}
	buf := make([]byte, min(left, ecReadChunk))
	for left > 0 {
		n, err := s.store.EcReadShard(vid, int(shard), buf[:min(int64(len(buf)), left)], off)
		if n > 0 {
			if serr := stream.Send(&volume_server_pb.VolumeEcShardReadResponse{Data: buf[:n], EncodeTsNs: info.EncodeTsNs}); serr != nil {
				return serr
			}
			off += int64(n)
			left -= int64(n)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if errors.Is(err, engine.ErrEcNotFound) {
				return fmt.Errorf("not found ec shard %d.%d", vid, shard)
			}
			return err
		}
		if n == 0 {
			return nil // no progress and no error: treat as the end
		}
	}
	return nil
}

// VolumeEcBlobDelete records a needle deleted in this node's index of the
// volume (another node's HTTP delete fans out here). A volume not mounted
// here, or a needle already deleted, is success.
func (s *Service) VolumeEcBlobDelete(ctx context.Context, req *volume_server_pb.VolumeEcBlobDeleteRequest) (*volume_server_pb.VolumeEcBlobDeleteResponse, error) {
	if err := s.maintenanceErr(); err != nil {
		return nil, err
	}
	resp := &volume_server_pb.VolumeEcBlobDeleteResponse{}
	vid, key := req.GetVolumeId(), req.GetFileKey()
	if _, ok := s.store.EcVolume(vid); !ok {
		return resp, nil
	}
	_, size, found, err := s.store.EcLookup(vid, key)
	if errors.Is(err, engine.ErrEcNotFound) {
		return resp, nil // unmounted meanwhile
	}
	if err == nil && !found {
		err = engine.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("locate in local ec volume: %w", err)
	}
	if size < 0 {
		return resp, nil
	}
	if _, err := s.store.EcDeleteNeedle(vid, key); err != nil && !errors.Is(err, engine.ErrEcNotFound) {
		return nil, err
	}
	return resp, nil
}

// VolumeEcShardsToVolume decodes the local data shards back into a normal
// volume and mounts it. A volume whose needles are all deleted is
// FailedPrecondition ("has no live entries"), as upstream's, so the shell
// drops the shards instead. Staged decodes (from_staged) are not
// supported: ReceiveFile never stages a new volume here.
func (s *Service) VolumeEcShardsToVolume(ctx context.Context, req *volume_server_pb.VolumeEcShardsToVolumeRequest) (*volume_server_pb.VolumeEcShardsToVolumeResponse, error) {
	if err := s.checkAdmin(ctx); err != nil {
		return nil, err
	}
	if err := s.maintenanceErr(); err != nil {
		return nil, err
	}
	vid := req.GetVolumeId()
	if req.GetFromStaged() {
		return nil, fmt.Errorf("staged volume %d: no .dat.copying found on a %s disk", vid, req.GetDiskType())
	}
	defer s.reportEcChanges(s.store.EcVolumes())
	err := s.store.EcToVolume(ctx, vid, req.GetCollection())
	switch {
	case err == nil:
	case errors.Is(err, engine.ErrEcNoLiveEntries):
		return nil, status.Errorf(codes.FailedPrecondition, "ec volume %d %s", vid, engine.ErrEcNoLiveEntries.Error())
	case errors.Is(err, engine.ErrEcBusy):
		return nil, status.Errorf(codes.Unavailable, "ec volume %d %s", vid, engine.ErrEcBusy.Error())
	case errors.Is(err, engine.ErrEcNotFound):
		return nil, fmt.Errorf("ec volume %d not found", vid)
	default:
		return nil, err
	}
	s.NotifyNewVolume(vid)
	return &volume_server_pb.VolumeEcShardsToVolumeResponse{}, nil
}

// VolumeEcShardsInfo lists the volume's shards mounted on this node (every
// disk) with the index's live and deleted counts and the layout.
func (s *Service) VolumeEcShardsInfo(ctx context.Context, req *volume_server_pb.VolumeEcShardsInfoRequest) (*volume_server_pb.VolumeEcShardsInfoResponse, error) {
	vid := req.GetVolumeId()
	info, ok := s.store.EcVolumeWithTotal(vid)
	if !ok {
		return nil, fmt.Errorf("VolumeEcShardsInfo: EC volume %d not found", vid)
	}
	resp := &volume_server_pb.VolumeEcShardsInfoResponse{
		EcShardInfos:     make([]*volume_server_pb.EcShardInfo, 0, len(info.Shards)),
		VolumeSize:       info.TotalSize,
		FileCount:        info.Files - min(info.Deleted, info.Files),
		FileDeletedCount: info.Deleted,
	}
	var seen uint64
	for _, sh := range info.Shards {
		if sh.ID < 0 || sh.ID >= maxShardID || seen&(1<<uint(sh.ID)) != 0 {
			continue
		}
		seen |= 1 << uint(sh.ID)
		resp.EcShardInfos = append(resp.EcShardInfos, &volume_server_pb.EcShardInfo{
			ShardId: uint32(sh.ID), Size: sh.Size, Collection: info.Collection, VolumeId: vid,
		})
	}
	if info.DataShards > 0 {
		resp.EcShardConfig = &volume_server_pb.EcShardConfig{
			DataShards: uint32(info.DataShards), ParityShards: uint32(max(info.Parity, 0)), BlockSize: info.BlockSize,
		}
	}
	return resp, nil
}
