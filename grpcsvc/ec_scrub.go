package grpcsvc

import (
	"context"
	"errors"
	"fmt"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"

	"github.com/weedvol/weedvol/engine"
)

// ecScrubModes maps upstream's scrub modes to the engine's.
var ecScrubModes = map[volume_server_pb.VolumeScrubMode]engine.EcScrubMode{
	volume_server_pb.VolumeScrubMode_INDEX:    engine.EcScrubIndex,
	volume_server_pb.VolumeScrubMode_LOCAL:    engine.EcScrubLocal,
	volume_server_pb.VolumeScrubMode_FULL:     engine.EcScrubFull,
	volume_server_pb.VolumeScrubMode_READS:    engine.EcScrubReads,
	volume_server_pb.VolumeScrubMode_CHECKSUM: engine.EcScrubChecksum,
}

// ScrubEcVolume checks the listed EC volumes (every mounted one when none
// is listed) in the requested mode. A listed volume that is not mounted
// fails the request ("EC volume id %d not found"); one that went away
// during a node-wide scrub is skipped. As upstream's, the mode is judged
// per volume, so an unsupported mode over no volume succeeds, and the
// deleted-needle check is only for FULL and READS. A CHECKSUM scrub counts
// no files (its engine count is of blocks).
func (s *Service) ScrubEcVolume(ctx context.Context, req *volume_server_pb.ScrubEcVolumeRequest) (*volume_server_pb.ScrubEcVolumeResponse, error) {
	if err := s.checkAdmin(ctx); err != nil {
		return nil, err
	}
	m := req.GetMode()
	if req.GetForceDeletedNeedlesCheck() && m != volume_server_pb.VolumeScrubMode_FULL && m != volume_server_pb.VolumeScrubMode_READS {
		return nil, fmt.Errorf("deleted needle checks are only supported for FULL and READS scrubs")
	}
	ids := req.GetVolumeIds()
	explicit := len(ids) > 0
	if !explicit {
		for _, v := range s.store.EcVolumes() {
			ids = append(ids, v.ID)
		}
	}
	resp := &volume_server_pb.ScrubEcVolumeResponse{}
	for _, vid := range ids {
		info, ok := s.store.EcVolume(vid)
		if !ok {
			if explicit {
				return nil, fmt.Errorf("EC volume id %d not found", vid)
			}
			continue
		}
		mode, ok := ecScrubModes[m]
		if !ok {
			return nil, fmt.Errorf("unsupported EC volume scrub mode %d", m)
		}
		rep, err := s.store.EcScrub(ctx, vid, mode, req.GetForceDeletedNeedlesCheck())
		if errors.Is(err, engine.ErrEcNotFound) {
			if explicit {
				return nil, fmt.Errorf("EC volume id %d not found", vid)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		resp.TotalVolumes++
		if mode != engine.EcScrubChecksum {
			resp.TotalFiles += uint64(max(rep.Files, 0))
		}
		if len(rep.Broken) == 0 && len(rep.Details) == 0 {
			continue
		}
		resp.BrokenVolumeIds = append(resp.BrokenVolumeIds, vid)
		for _, sh := range rep.Broken {
			resp.BrokenShardInfos = append(resp.BrokenShardInfos, &volume_server_pb.EcShardInfo{
				ShardId: uint32(max(sh.ID, 0)), Size: sh.Size, Collection: info.Collection, VolumeId: vid,
			})
		}
		for _, d := range rep.Details {
			resp.Details = append(resp.Details, d.Error())
		}
	}
	s.m.Scrubbed(m.String(), len(resp.BrokenVolumeIds), len(resp.BrokenShardInfos), true)
	return resp, nil
}
