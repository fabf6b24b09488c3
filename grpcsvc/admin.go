package grpcsvc

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/seaweedfs/seaweedfs/weed/pb/master_pb"
	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/engine/superblock"
	"github.com/weedvol/weedvol/wlog"
)

// Errors with upstream's texts, which shells and tests match on.
var (
	errVolumeNotFound = errors.New("volume not found")
	errVolumeNotEmpty = errors.New("volume not empty")
)

// AllocateVolume creates a volume the master grew onto this server and
// reports it to the master. A collection engine.ValidCollection refuses
// is refused with InvalidArgument before anything is created (upstream
// creates the files wherever the name leads).
func (s *Service) AllocateVolume(ctx context.Context, req *volume_server_pb.AllocateVolumeRequest) (*volume_server_pb.AllocateVolumeResponse, error) {
	resp := &volume_server_pb.AllocateVolumeResponse{}
	if err := s.checkAdmin(ctx); err != nil {
		return resp, err
	}
	if err := s.maintenanceErr(); err != nil {
		return resp, err
	}
	if err := engine.ValidCollection(req.GetCollection()); err != nil {
		return resp, status.Error(codes.InvalidArgument, err.Error())
	}
	rp, err := superblock.ParsePlacement(req.GetReplication())
	if err != nil {
		return resp, err
	}
	ttl, err := needle.ParseTTL(req.GetTtl())
	if err != nil {
		return resp, err
	}
	ver := needle.Version(req.GetVersion())
	if ver != 0 && !ver.Supported() {
		return resp, fmt.Errorf("volume %d: unsupported needle version %d", req.GetVolumeId(), req.GetVersion())
	}
	id := req.GetVolumeId()
	s.stamp.raise(id)
	err = s.store.AllocateVolume(id, engine.AllocateOptions{
		Collection: req.GetCollection(), ReplicaPlacement: rp, TTL: ttl,
		Preallocate: req.GetPreallocate(), DiskType: req.GetDiskType(), Version: ver,
	})
	switch {
	case errors.Is(err, engine.ErrVolumeExists):
		err = fmt.Errorf("Volume Id %d already exists!", id)
	case errors.Is(err, engine.ErrNoFreeSlot):
		err = errors.New("No more free space left")
	}
	if err != nil {
		wlog.Errorf("assign volume %v: %v", req, err)
		return resp, err
	}
	wlog.V(2).Infof("assign volume %v", req)
	s.NotifyNewVolume(id)
	return resp, nil
}

// VolumeMount opens a volume whose files are on disk and reports it.
// Mounting a mounted volume succeeds.
func (s *Service) VolumeMount(ctx context.Context, req *volume_server_pb.VolumeMountRequest) (*volume_server_pb.VolumeMountResponse, error) {
	resp := &volume_server_pb.VolumeMountResponse{}
	if err := s.checkAdmin(ctx); err != nil {
		return resp, err
	}
	id := req.GetVolumeId()
	if err := s.store.MountVolume(id); err != nil {
		if errors.Is(err, engine.ErrVolumeNotFound) {
			err = fmt.Errorf("volume %d not found on disk", id)
		}
		wlog.Errorf("volume mount %v: %v", req, err)
		return resp, err
	}
	s.NotifyNewVolume(id)
	return resp, nil
}

// VolumeUnmount closes a volume, keeping its files. A volume that is not
// mounted is not an error.
func (s *Service) VolumeUnmount(ctx context.Context, req *volume_server_pb.VolumeUnmountRequest) (*volume_server_pb.VolumeUnmountResponse, error) {
	resp := &volume_server_pb.VolumeUnmountResponse{}
	if err := s.checkAdmin(ctx); err != nil {
		return resp, err
	}
	return resp, s.unmount(req.GetVolumeId())
}

func (s *Service) unmount(id uint32) error {
	v, ok := s.store.Volume(id)
	if !ok {
		return nil
	}
	info := s.shortInfo(v)
	if err := s.store.UnmountVolume(id); err != nil {
		if errors.Is(err, engine.ErrVolumeNotFound) {
			return nil
		}
		wlog.Errorf("volume unmount %d: %v", id, err)
		return err
	}
	s.NotifyDeletedVolume(info)
	return nil
}

// VolumeDelete removes a volume and its files. With only_empty or
// only_garbage it refuses (FailedPrecondition) unless the volume holds no
// data, or only deleted data. It is allowed in maintenance mode: it is how
// an evacuation ends.
func (s *Service) VolumeDelete(ctx context.Context, req *volume_server_pb.VolumeDeleteRequest) (*volume_server_pb.VolumeDeleteResponse, error) {
	resp := &volume_server_pb.VolumeDeleteResponse{}
	if err := s.checkAdmin(ctx); err != nil {
		return resp, err
	}
	id := req.GetVolumeId()
	v, ok := s.store.Volume(id)
	if !ok {
		return resp, status.Error(codes.NotFound, fmt.Sprintf("delete volume %d not found on disk: %v", id, errVolumeNotFound))
	}
	if req.GetOnlyEmpty() || req.GetOnlyGarbage() {
		st := v.Stats()
		empty := req.GetOnlyEmpty() && v.Size() <= superblock.Size && st.FileBytes == 0
		garbage := req.GetOnlyGarbage() && st.FileBytes > 0 && st.DeletedBytes >= st.FileBytes
		if !empty && !garbage {
			return resp, status.Error(codes.FailedPrecondition, fmt.Sprintf("DeleteVolume %d: %v", id, errVolumeNotEmpty))
		}
	}
	info := s.shortInfo(v)
	if err := s.store.DeleteVolume(id); err != nil {
		if errors.Is(err, engine.ErrVolumeNotFound) {
			return resp, status.Error(codes.NotFound, fmt.Sprintf("delete volume %d not found on disk: %v", id, errVolumeNotFound))
		}
		wlog.Errorf("volume delete %v: %v", req, err)
		return resp, fmt.Errorf("DeleteVolume %d failed on some disks: %w", id, err)
	}
	s.logf("volume delete %v", req)
	s.NotifyDeletedVolume(info)
	return resp, nil
}

// DeleteCollection deletes every volume of a collection. A collection with
// no volumes here is not an error; a name engine.ValidCollection refuses,
// which no volume can have, is refused with InvalidArgument (upstream
// answers it with success).
func (s *Service) DeleteCollection(ctx context.Context, req *volume_server_pb.DeleteCollectionRequest) (*volume_server_pb.DeleteCollectionResponse, error) {
	resp := &volume_server_pb.DeleteCollectionResponse{}
	if err := s.checkAdmin(ctx); err != nil {
		return resp, err
	}
	if err := engine.ValidCollection(req.GetCollection()); err != nil {
		return resp, status.Error(codes.InvalidArgument, err.Error())
	}
	var errs []string
	for _, v := range s.store.Volumes() {
		if v.Collection != req.GetCollection() {
			continue
		}
		info := s.shortInfo(v)
		if err := s.store.DeleteVolume(v.ID); err != nil {
			if !errors.Is(err, engine.ErrVolumeNotFound) {
				errs = append(errs, err.Error()+"; ")
			}
			continue
		}
		s.NotifyDeletedVolume(info)
	}
	if len(errs) > 0 {
		err := fmt.Errorf("delete collection %s: %s", req.GetCollection(), strings.Join(errs, ""))
		wlog.Errorf("%v", err)
		return resp, err
	}
	return resp, nil
}

// VolumeMarkReadonly stops writes to a volume, telling the master before
// and after so it routes no writes here in between. persist records the
// mark in the .vif. It is allowed in maintenance mode.
func (s *Service) VolumeMarkReadonly(ctx context.Context, req *volume_server_pb.VolumeMarkReadonlyRequest) (*volume_server_pb.VolumeMarkReadonlyResponse, error) {
	resp := &volume_server_pb.VolumeMarkReadonlyResponse{}
	if err := s.checkAdmin(ctx); err != nil {
		return resp, err
	}
	v, ok := s.store.Volume(req.GetVolumeId())
	if !ok {
		return resp, fmt.Errorf("volume %d not found", req.GetVolumeId())
	}
	if err := s.markReadonlyOnMaster(ctx, s.markRequest(v, true)); err != nil {
		return resp, err
	}
	if err := v.SetReadOnlyMode(true, req.GetCanDelete(), req.GetPersist()); err != nil {
		wlog.Errorf("mark volume %d readonly: %v", v.ID, err)
		return resp, fmt.Errorf("volume %d persist read-only: %w", v.ID, err)
	}
	if err := s.markReadonlyOnMaster(ctx, s.markRequest(v, true)); err != nil {
		return resp, err
	}
	return resp, nil
}

// VolumeMarkWritable lifts the read-only mark (in memory and in the .vif)
// and tells the master. It is refused in maintenance mode.
func (s *Service) VolumeMarkWritable(ctx context.Context, req *volume_server_pb.VolumeMarkWritableRequest) (*volume_server_pb.VolumeMarkWritableResponse, error) {
	resp := &volume_server_pb.VolumeMarkWritableResponse{}
	if err := s.checkAdmin(ctx); err != nil {
		return resp, err
	}
	v, ok := s.store.Volume(req.GetVolumeId())
	if !ok {
		return resp, fmt.Errorf("volume %d not found", req.GetVolumeId())
	}
	if err := s.maintenanceErr(); err != nil {
		return resp, err
	}
	if v.IsDamaged() {
		return resp, fmt.Errorf("volume %d cannot be marked writable: volume files are damaged", v.ID)
	}
	if err := v.SetReadOnly(false, true); err != nil {
		wlog.Errorf("mark volume %d writable: %v", v.ID, err)
		return resp, fmt.Errorf("volume %d persist writable: %w", v.ID, err)
	}
	if err := s.markReadonlyOnMaster(ctx, s.markRequest(v, false)); err != nil {
		return resp, err
	}
	return resp, nil
}

func (s *Service) markRequest(v *engine.Volume, readOnly bool) *master_pb.VolumeMarkReadonlyRequest {
	info := s.shortInfo(v)
	return &master_pb.VolumeMarkReadonlyRequest{
		Ip: s.cfg.IP, Port: uint32(s.cfg.Port), VolumeId: v.ID, Collection: v.Collection,
		ReplicaPlacement: info.ReplicaPlacement, Ttl: info.Ttl, DiskType: info.DiskType, IsReadonly: readOnly,
	}
}

// VolumeConfigure changes a volume's replication: it unmounts the volume,
// rewrites the .vif and the super block's placement byte, and mounts it
// again. Failures are reported in the response's error field.
func (s *Service) VolumeConfigure(ctx context.Context, req *volume_server_pb.VolumeConfigureRequest) (*volume_server_pb.VolumeConfigureResponse, error) {
	resp := &volume_server_pb.VolumeConfigureResponse{}
	if err := s.checkAdmin(ctx); err != nil {
		return resp, err
	}
	if err := s.maintenanceErr(); err != nil {
		return resp, err
	}
	rp, err := superblock.ParsePlacement(req.GetReplication())
	if err != nil {
		resp.Error = fmt.Sprintf("volume configure replication %v: %v", req, err)
		return resp, nil
	}
	id := req.GetVolumeId()
	if err := s.unmount(id); err != nil {
		resp.Error = fmt.Sprintf("volume configure unmount %v: %v", req, err)
		return resp, nil
	}
	if err := s.store.ConfigureUnmounted(id, req.GetReplication(), rp); err != nil {
		wlog.Errorf("volume configure %v: %v", req, err)
		resp.Error = fmt.Sprintf("volume configure %v: %v", req, err)
		if merr := s.mount(id); merr != nil {
			resp.Error += fmt.Sprintf(". Also failed to restore mount: %v", merr)
		}
		return resp, nil
	}
	if err := s.mount(id); err != nil {
		resp.Error = fmt.Sprintf("volume configure mount %v: %v", req, err)
	}
	return resp, nil
}

func (s *Service) mount(id uint32) error {
	if err := s.store.MountVolume(id); err != nil {
		if errors.Is(err, engine.ErrVolumeNotFound) {
			return fmt.Errorf("volume %d not found on disk", id)
		}
		return err
	}
	s.NotifyNewVolume(id)
	return nil
}

// VolumeStatus reports a volume's size, counts and read-only flag.
func (s *Service) VolumeStatus(ctx context.Context, req *volume_server_pb.VolumeStatusRequest) (*volume_server_pb.VolumeStatusResponse, error) {
	v, ok := s.store.Volume(req.GetVolumeId())
	if !ok {
		return nil, fmt.Errorf("not found volume id %d", req.GetVolumeId())
	}
	st := v.Stats()
	return &volume_server_pb.VolumeStatusResponse{
		IsReadOnly: v.IsReadOnly(), VolumeSize: uint64(v.Size()),
		FileCount: st.FileCount, FileDeletedCount: st.DeleteCount,
	}, nil
}
