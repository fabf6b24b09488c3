package grpcsvc

import (
	"slices"
	"strings"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/master_pb"

	"github.com/weedvol/weedvol/diskstat"
	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/superblock"
	"github.com/weedvol/weedvol/wlog"
)

// maxTTLRemovalDelay caps, in minutes, how long an expired TTL volume is
// kept before the heartbeat deletes it (upstream's
// MAX_TTL_VOLUME_REMOVAL_DELAY).
const maxTTLRemovalDelay = 10

// diskType normalizes a location's disk type as upstream's ToDiskType: the
// default hard-drive type is "".
func diskType(t string) string {
	t = strings.ToLower(t)
	if t == "hdd" {
		return ""
	}
	return t
}

// diskID is the index of volume id's location, upstream's disk id.
func (s *Service) diskID(id uint32) (uint32, *engine.Location) {
	loc, ok := s.store.LocationOf(id)
	if !ok {
		return 0, nil
	}
	for i, l := range s.store.Locations() {
		if l == loc {
			return uint32(i), l
		}
	}
	return 0, loc
}

// volumeInfo is what the master is told about v in a full heartbeat, and
// v's largest needle key.
func (s *Service) volumeInfo(v *engine.Volume) (*master_pb.VolumeInformationMessage, uint64) {
	st := v.Stats()
	sb := v.SuperBlock()
	did, loc := s.diskID(v.ID)
	m := &master_pb.VolumeInformationMessage{
		Id:                v.ID,
		Size:              uint64(v.Size()),
		Collection:        v.Collection,
		FileCount:         st.FileCount,
		DeleteCount:       st.DeleteCount,
		DeletedByteCount:  st.DeletedBytes,
		ReadOnly:          v.IsReadOnly(),
		ReadOnlyCanDelete: v.ReadOnlyCanDelete(),
		ReplicaPlacement:  uint32(sb.ReplicaPlacement.Byte()),
		Version:           uint32(v.Version()),
		Ttl:               sb.TTL.Uint32(),
		CompactRevision:   uint32(sb.CompactionRevision),
		ModifiedAtSecond:  v.LastModified(),
		DiskId:            did,
	}
	if loc != nil {
		m.DiskType = diskType(loc.DiskType)
	}
	if v.IsRemote() {
		m.RemoteStorageName, m.RemoteStorageKey = v.RemoteStorage()
	}
	return m, st.MaxFileKey
}

// shortInfo is what the master is told about v in a delta heartbeat.
func (s *Service) shortInfo(v *engine.Volume) *master_pb.VolumeShortInformationMessage {
	sb := v.SuperBlock()
	did, loc := s.diskID(v.ID)
	m := &master_pb.VolumeShortInformationMessage{
		Id:                v.ID,
		Collection:        v.Collection,
		ReplicaPlacement:  uint32(sb.ReplicaPlacement.Byte()),
		Version:           uint32(v.Version()),
		Ttl:               sb.TTL.Uint32(),
		DiskId:            did,
		ReadOnly:          v.IsReadOnly(),
		ReadOnlyCanDelete: v.ReadOnlyCanDelete(),
	}
	if loc != nil {
		m.DiskType = diskType(loc.DiskType)
	}
	return m
}

// ShortInfo describes a mounted volume for NotifyDeletedVolume; call it
// before the volume goes away.
func (s *Service) ShortInfo(v *engine.Volume) *master_pb.VolumeShortInformationMessage {
	return s.shortInfo(v)
}

// NotifyNewVolume reports volume id, now mounted, to the master at once.
// The RPC handlers call it; other code that mounts volumes should too.
func (s *Service) NotifyNewVolume(id uint32) {
	s.stamp.raise(id)
	if v, ok := s.store.Volume(id); ok {
		s.hb.queue(change{added: s.shortInfo(v)})
	}
}

// NotifyDeletedVolume reports a volume that was unmounted or deleted.
func (s *Service) NotifyDeletedVolume(info *master_pb.VolumeShortInformationMessage) {
	if info != nil {
		s.hb.queue(change{deleted: info})
	}
}

// expired reports whether TTL volume v has outlived its TTL, and whether
// it has done so long enough to be deleted. Volumes are never expired
// before the master has told the size limit, as upstream.
func (s *Service) expired(v *engine.Volume, now time.Time) (expired, remove bool) {
	if s.hb.volumeSizeLimit.Load() == 0 || v.Size() <= superblock.Size {
		return false, false
	}
	ttlMin := int64(v.SuperBlock().TTL.Seconds() / 60)
	if ttlMin == 0 {
		return false, false
	}
	lived := now.Unix() - v.LastModified()
	if ttlMin >= lived/60 {
		return false, false
	}
	delay := min(ttlMin/10, maxTTLRemovalDelay)
	return true, (ttlMin+delay)*60+v.LastModified() < now.Unix()
}

// fullHeartbeat lists everything the server holds.
func (s *Service) fullHeartbeat() *master_pb.Heartbeat {
	locs := s.store.Locations()
	maxCounts := map[string]uint32{}
	total := map[string]uint64{}
	free := map[string]uint64{}
	tags := make([]*master_pb.DiskTag, 0, len(locs))
	for i, l := range locs {
		dt := diskType(l.DiskType)
		// a low disk offers the master no new slot (engine.Location.HeartbeatMax)
		slots := max(l.HeartbeatMax(), 0)
		maxCounts[dt] += uint32(slots)
		ds := diskstat.Of(l.Dir, dt)
		total[dt] += ds.GetAll()
		free[dt] += ds.GetFree()
		var dirTags []string
		if i < len(s.cfg.Tags) {
			dirTags = append([]string(nil), s.cfg.Tags[i]...)
		}
		tags = append(tags, &master_pb.DiskTag{DiskId: uint32(i), Tags: dirTags, Type: dt, MaxVolumeCount: int64(slots)})
	}
	now := time.Now()
	var vols []*master_pb.VolumeInformationMessage
	var maxFileKey uint64
	for _, v := range s.store.Volumes() {
		if exp, remove := s.expired(v, now); exp {
			if remove {
				if err := s.store.DeleteVolume(v.ID); err != nil {
					wlog.Errorf("delete expired volume %d: %v", v.ID, err)
				} else {
					s.logf("volume %d is deleted", v.ID)
				}
			}
			continue
		}
		m, key := s.volumeInfo(v)
		maxFileKey = max(maxFileKey, key)
		vols = append(vols, m)
	}
	ec := s.ecHeartbeat()
	return &master_pb.Heartbeat{
		Ip:                 s.cfg.IP,
		Port:               uint32(s.cfg.Port),
		GrpcPort:           uint32(s.cfg.GrpcPort),
		PublicUrl:          s.cfg.PublicURL,
		Id:                 s.cfg.ID,
		MaxVolumeCounts:    maxCounts,
		DiskTotalBytes:     total,
		DiskFreeBytes:      free,
		MaxFileKey:         maxFileKey,
		DataCenter:         s.cfg.DataCenter,
		Rack:               s.cfg.Rack,
		Volumes:            vols,
		HasNoVolumes:       len(vols) == 0,
		EcShards:           ec.GetEcShards(),
		HasNoEcShards:      ec.GetHasNoEcShards(),
		LocationUuids:      s.dirUUIDs,
		DiskTags:           tags,
		State:              s.state.ServerState(),
		MaxVolumeIdSeen:    s.stamp.maxSeen(),
		LastSeenTopologyId: s.stamp.topology(),
	}
}

// deltaHeartbeats turns queued changes into heartbeats, one per run of
// changes of the same kind so that their order is kept.
func (s *Service) deltaHeartbeats(changes []change) []*master_pb.Heartbeat {
	var out []*master_pb.Heartbeat
	var cur *master_pb.Heartbeat
	kind := 0
	for _, c := range changes {
		k := 3
		switch {
		case c.added != nil:
			k = 1
		case c.deleted != nil:
			k = 2
		case c.ecAdded != nil:
			k = 4
		case c.ecDeleted != nil:
			k = 5
		}
		if cur == nil || k != kind || k == 3 {
			cur = &master_pb.Heartbeat{Ip: s.cfg.IP, Port: uint32(s.cfg.Port), DataCenter: s.cfg.DataCenter, Rack: s.cfg.Rack}
			out = append(out, cur)
			kind = k
		}
		switch k {
		case 1:
			cur.NewVolumes = append(cur.NewVolumes, c.added)
		case 2:
			cur.DeletedVolumes = append(cur.DeletedVolumes, c.deleted)
		case 4:
			cur.NewEcShards = append(cur.NewEcShards, c.ecAdded)
		case 5:
			cur.DeletedEcShards = append(cur.DeletedEcShards, c.ecDeleted)
		default:
			cur.State = c.state
		}
	}
	return out
}

// duplicateDirs names the data directories whose UUIDs a master reported
// as another server's (the UUIDs themselves when none is ours).
func (s *Service) duplicateDirs(uuids []string) []string {
	var dirs []string
	locs := s.store.Locations()
	for i, id := range s.dirUUIDs {
		if i < len(locs) && slices.Contains(uuids, id) {
			dirs = append(dirs, locs[i].Dir)
		}
	}
	if len(dirs) == 0 {
		return uuids
	}
	return dirs
}
