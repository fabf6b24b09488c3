package httpfast

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"github.com/valyala/fasthttp"

	"github.com/weedvol/weedvol/buildinfo"
	"github.com/weedvol/weedvol/diskstat"
	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/metrics"
)

// volumeInfo mirrors upstream's storage.VolumeInfo JSON in /status.
type volumeInfo struct {
	Collection        string
	DiskType          string
	RemoteStorageName string
	ReplicaPlacement  *placementJSON
	Ttl               *ttlJSON
	Size              uint64
	DeletedByteCount  uint64
	ModifiedAtSecond  int64
	Id                uint32
	DiskId            uint32
	CompactRevision   uint32
	FileCount         uint32
	DeleteCount       uint32
	Version           uint8
	ReadOnly          bool
	ReadOnlyCanDelete bool
}

type placementJSON struct {
	SameRackCount       int `json:"node,omitempty"`
	DiffRackCount       int `json:"rack,omitempty"`
	DiffDataCenterCount int `json:"dc,omitempty"`
}

type ttlJSON struct {
	Count byte
	Unit  byte
}

// VolumeInfos lists the store's volumes as /status shows them, with
// upstream's meaning for every field: Size is the content size (the bytes
// of every needle ever written, deleted ones included, as upstream's
// needle map counts them), not the .dat length; DiskId is the index of
// the volume's directory; DiskType is "" for hard drives.
func VolumeInfos(store *engine.Store) []volumeInfo {
	var out []volumeInfo
	locs := store.Locations()
	for _, v := range store.Volumes() {
		sb := v.SuperBlock()
		st := v.Stats()
		diskType, diskID := "", 0
		if loc, ok := store.LocationOf(v.ID); ok {
			diskType = normDiskType(loc.DiskType)
			diskID = slices.Index(locs, loc)
		}
		out = append(out, volumeInfo{
			Collection: v.Collection, DiskType: diskType,
			ReplicaPlacement: &placementJSON{SameRackCount: sb.ReplicaPlacement.SameRack, DiffRackCount: sb.ReplicaPlacement.DiffRack, DiffDataCenterCount: sb.ReplicaPlacement.DiffDataCenter},
			Ttl:              &ttlJSON{Count: sb.TTL.Count, Unit: sb.TTL.Unit},
			Size:             st.FileBytes, DeletedByteCount: st.DeletedBytes, ModifiedAtSecond: v.LastModified(),
			Id: v.ID, DiskId: uint32(max(diskID, 0)), CompactRevision: uint32(sb.CompactionRevision),
			FileCount: uint32(st.FileCount), DeleteCount: uint32(st.DeleteCount),
			Version: uint8(sb.Version), ReadOnly: v.IsReadOnly(), ReadOnlyCanDelete: v.ReadOnlyCanDelete(),
		})
		if v.IsRemote() {
			out[len(out)-1].RemoteStorageName, _ = v.RemoteStorage()
		}
	}
	return out
}

func (s *Server) diskStatuses() []*volume_server_pb.DiskStatus {
	var ds []*volume_server_pb.DiskStatus
	for _, loc := range s.cfg.Store.Locations() {
		if dir, err := filepath.Abs(loc.Dir); err == nil {
			ds = append(ds, diskstat.Of(dir, normDiskType(loc.DiskType)))
		}
	}
	return ds
}

// normDiskType is upstream's DiskType string: "" for hard drives (hdd or
// unset), the lower-cased tag otherwise.
func normDiskType(t string) string {
	t = strings.ToLower(t)
	if t == "hdd" {
		return ""
	}
	return t
}

// status is upstream's /status; Version is upstream's (free text that
// clients show, "30GB 4.53 " and its empty commit) and WeedvolVersion,
// weedvol's addition, says which weedvol serves it.
func (s *Server) status(ctx *fasthttp.RequestCtx) {
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"Version":        s.cfg.State.Version() + " ",
		"WeedvolVersion": buildinfo.Get().String(),
		"DiskStatuses":   s.diskStatuses(),
		"Volumes":        VolumeInfos(s.cfg.Store),
	})
}

func (s *Server) healthz(ctx *fasthttp.RequestCtx) {
	if s.cfg.State != nil && !s.cfg.State.Healthy() {
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
}

var startTime = time.Now()

// waitUploadSlot applies -concurrentUploadLimitMB: wait while in-flight
// upload bytes exceed the limit, up to the timeout, then 429. Replication
// traffic is never held back.
func (s *Server) waitUploadSlot(ctx *fasthttp.RequestCtx) bool {
	limit := s.cfg.ConcurrentUploadLimit
	if limit == 0 || string(ctx.QueryArgs().Peek("type")) == "replicate" {
		return true
	}
	if s.inflightUpload.Load() > limit {
		s.m.Handler(metrics.UploadLimitCond)
	}
	return s.waitSlot(ctx, &s.inflightUpload, limit, s.cfg.InflightUploadTimeout, s.uploadCond,
		"reject because inflight upload data %d > %d, and wait timeout")
}

func (s *Server) releaseUpload(n int64) {
	s.inflightUpload.Add(-n)
	if s.cfg.ConcurrentUploadLimit != 0 {
		s.limitMu.Lock()
		s.uploadCond.Broadcast()
		s.limitMu.Unlock()
	}
}

// waitDownloadSlot applies -concurrentDownloadLimitMB before a read: over
// the limit, a read of a replicated volume not already proxied goes to a
// replica; otherwise it waits up to the timeout, then gets 429.
func (s *Server) waitDownloadSlot(ctx *fasthttp.RequestCtx, vid uint32, replicated bool) bool {
	limit := s.cfg.ConcurrentDownloadLimit
	if limit == 0 || s.inflightDownload.Load() <= limit {
		return true
	}
	s.m.Handler(metrics.DownloadLimitCond)
	if replicated && string(ctx.QueryArgs().Peek("proxied")) != "true" && s.cfg.Lookup != nil {
		s.proxyRead(ctx, vid)
		return false
	}
	return s.waitSlot(ctx, &s.inflightDownload, limit, s.cfg.InflightDownloadTimeout, s.downloadCond,
		"request "+string(requestPath(ctx))+" because inflight download data %d > %d, and wait timeout")
}

// holdDownload counts n bytes as in flight until the returned release runs.
func (s *Server) holdDownload(n int64) func() {
	if s.cfg.ConcurrentDownloadLimit == 0 {
		return func() {}
	}
	s.inflightDownload.Add(n)
	return func() {
		s.inflightDownload.Add(-n)
		s.limitMu.Lock()
		s.downloadCond.Broadcast()
		s.limitMu.Unlock()
	}
}

func (s *Server) waitSlot(ctx *fasthttp.RequestCtx, inflight interface{ Load() int64 }, limit int64, timeout time.Duration, cond *sync.Cond, msg string) bool {
	if inflight.Load() <= limit {
		return true
	}
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		s.limitMu.Lock()
		cond.Broadcast()
		s.limitMu.Unlock()
	})
	defer timer.Stop()
	s.limitMu.Lock()
	defer s.limitMu.Unlock()
	for inflight.Load() > limit {
		if !time.Now().Before(deadline) {
			writeJSONError(ctx, fasthttp.StatusTooManyRequests, sprintf(msg, inflight.Load(), limit))
			return false
		}
		cond.Wait()
	}
	return true
}
