package grpcsvc

import (
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/weedvol/weedvol/engine"
)

// vidStampFile is upstream's per-directory record of the highest volume id
// this server has seen and the master topology it last belonged to. The
// server echoes both in every heartbeat so a master that lost its state
// cannot hand out ids that are already in use.
const vidStampFile = ".vid_stamp"

type vidStampJSON struct {
	MaxVolumeID uint32 `json:"maxVolumeId"`
	TopologyID  string `json:"topologyId,omitempty"`
}

// vidStamp keeps the bound in memory and on disk.
type vidStamp struct {
	dirs []string
	logf func(string, ...any)

	maxID atomic.Uint32
	topo  atomic.Pointer[string]
	dirty atomic.Bool // the last save failed somewhere

	mu sync.Mutex // serializes saves
}

// loadVidStamp seeds the bound from the stamp files and the highest volume
// id on disk, and writes it back.
func loadVidStamp(dirs []string, maxVolumeID uint32, logf func(string, ...any)) *vidStamp {
	s := &vidStamp{dirs: dirs, logf: logf}
	empty := ""
	s.topo.Store(&empty)
	for _, d := range dirs {
		b, err := engine.ReadDirState(d, engine.VidStampFile)
		if err != nil {
			continue
		}
		var st vidStampJSON
		if json.Unmarshal(b, &st) != nil {
			continue
		}
		maxVolumeID = max(maxVolumeID, st.MaxVolumeID)
		if st.TopologyID != "" && s.topology() == "" {
			t := st.TopologyID
			s.topo.Store(&t)
		}
	}
	s.maxID.Store(maxVolumeID)
	s.save()
	return s
}

func (s *vidStamp) maxSeen() uint32  { return s.maxID.Load() }
func (s *vidStamp) topology() string { return *s.topo.Load() }

// raise lifts the bound to vid, persisting when it grew.
func (s *vidStamp) raise(vid uint32) {
	grew := false
	for {
		cur := s.maxID.Load()
		if cur >= vid {
			break
		}
		if s.maxID.CompareAndSwap(cur, vid) {
			grew = true
			break
		}
	}
	if grew || s.dirty.Load() {
		s.save()
	}
}

// setTopology records the master's topology id.
func (s *vidStamp) setTopology(id string) {
	if id == "" || (s.topology() == id && !s.dirty.Load()) {
		return
	}
	s.topo.Store(&id)
	s.save()
}

func (s *vidStamp) save() {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := json.Marshal(vidStampJSON{MaxVolumeID: s.maxID.Load(), TopologyID: s.topology()})
	if err != nil {
		return
	}
	failed := false
	for _, d := range s.dirs {
		if err := engine.WriteDirState(d, engine.VidStampFile, b); err != nil {
			s.logf("write vid stamp in %s: %v", d, err)
			failed = true
		}
	}
	s.dirty.Store(failed)
}
