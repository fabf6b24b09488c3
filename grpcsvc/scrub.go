package grpcsvc

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
)

// ScrubVolume checks the listed volumes (all mounted ones when none is
// listed) with engine.Volume.Scrub: INDEX checks the .idx against the .dat;
// FULL also reads every record; LOCAL and READS, which differ from FULL
// only for EC volumes, scrub as FULL. Volumes found broken are listed with
// what is wrong, and marked read-only (persisted, the master told) when
// the request asks.
func (s *Service) ScrubVolume(ctx context.Context, req *volume_server_pb.ScrubVolumeRequest) (*volume_server_pb.ScrubVolumeResponse, error) {
	if err := s.checkAdmin(ctx); err != nil {
		return nil, err
	}
	var full bool
	switch m := req.GetMode(); m {
	case volume_server_pb.VolumeScrubMode_INDEX:
	case volume_server_pb.VolumeScrubMode_FULL, volume_server_pb.VolumeScrubMode_LOCAL, volume_server_pb.VolumeScrubMode_READS:
		full = true
	default:
		return nil, fmt.Errorf("unsupported volume scrub mode %d", m)
	}
	ids := req.GetVolumeIds()
	explicit := len(ids) > 0
	if !explicit {
		for _, v := range s.store.Volumes() {
			ids = append(ids, v.ID)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	}
	resp := &volume_server_pb.ScrubVolumeResponse{}
	for _, id := range ids {
		v, ok := s.store.Volume(id)
		if !ok {
			if explicit {
				return nil, fmt.Errorf("volume id %d not found", id)
			}
			continue // unmounted since the list was made
		}
		rows, problems := v.Scrub(full)
		resp.TotalVolumes++
		resp.TotalFiles += uint64(rows)
		if len(problems) == 0 {
			continue
		}
		resp.BrokenVolumeIds = append(resp.BrokenVolumeIds, id)
		for _, p := range problems {
			resp.Details = append(resp.Details, p.Error())
		}
	}
	s.m.Scrubbed(req.GetMode().String(), len(resp.BrokenVolumeIds), 0, false)
	if req.GetMarkBrokenVolumesReadonly() {
		var errs []error
		for _, id := range resp.BrokenVolumeIds {
			if _, err := s.VolumeMarkReadonly(ctx, &volume_server_pb.VolumeMarkReadonlyRequest{VolumeId: id, Persist: true}); err != nil {
				errs = append(errs, err)
				continue
			}
			resp.Details = append(resp.Details, fmt.Sprintf("volume %d is now read-only", id))
		}
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
	}
	return resp, nil
}
