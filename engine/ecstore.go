package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/weedvol/weedvol/engine/ec"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/engine/superblock"
	"github.com/weedvol/weedvol/engine/vif"
	"github.com/weedvol/weedvol/wlog"
)

// ecVol is one EC volume on this node: the shards mounted from any of the
// store's directories against one .ecx/.ecj (on disk idxDisk).
//
// Lock order: Store.ecMu, then ecVol.mu, then the ec.Volume's own locks.
// INVARIANT: shards lists exactly the shards added to vol; an ecVol in
// Store.ecVols has at least one shard (the last unmount removes it).
type ecVol struct {
	id         uint32
	collection string
	idxDisk    int    // disk whose index or data dir holds the .ecx
	idxBase    string // .ecx/.ecj path without extension
	dataBase   string // <Dir of idxDisk>/<base>, where its .vif is looked for first
	layout     ec.Layout
	version    needle.Version
	width      int // .ecx offset width
	expireAt   uint64
	encodeTsNs int64

	mu       sync.RWMutex
	diskType string      // reported disk type when set (EcSetDiskType); guarded by mu
	vol      *ec.Volume  // guarded by mu (the pointer; the volume locks itself)
	shards   map[int]int // mounted shard -> disk; guarded by mu
}

// ecState is the store's EC registry.
type ecState struct {
	mu       sync.RWMutex
	vols     map[uint32]*ecVol // guarded by mu
	peers    EcPeers           // set before serving by SetEcPeers
	decoding sync.Map          // vid -> struct{}: EcToVolume in progress
}

// SetEcPeers installs the way to reach other nodes' shards. Until it is
// called, reads need every shard they touch to be local. Call it before
// serving.
func (s *Store) SetEcPeers(p EcPeers) {
	s.ec.mu.Lock()
	s.ec.peers = p
	s.ec.mu.Unlock()
}

func (s *Store) ecPeers() EcPeers {
	s.ec.mu.RLock()
	defer s.ec.mu.RUnlock()
	return s.ec.peers
}

func (s *Store) ecGet(vid uint32) *ecVol {
	s.ec.mu.RLock()
	defer s.ec.mu.RUnlock()
	return s.ec.vols[vid]
}

// ecDirs lists the directories of disk: data first, then index if other.
func (s *Store) ecDirs(disk int) []string {
	l := s.locations[disk]
	if l.IdxDir == "" || l.IdxDir == l.Dir {
		return []string{l.Dir}
	}
	return []string{l.Dir, l.IdxDir}
}

func (s *Store) idxDirOf(disk int) string {
	l := s.locations[disk]
	if l.IdxDir != "" {
		return l.IdxDir
	}
	return l.Dir
}

// exists reports whether path is a regular file (links are not followed).
func exists(path string) bool {
	st, err := os.Lstat(path)
	return err == nil && st.Mode().IsRegular()
}

// diskOrder lists the disks (indexes into locations) with prefer first
// when it is one (>= 0), then the others in order.
func (s *Store) diskOrder(prefer int) []int {
	order := make([]int, 0, len(s.locations))
	if prefer >= 0 {
		order = append(order, prefer)
	}
	for i := range s.locations {
		if i != prefer {
			order = append(order, i)
		}
	}
	return order
}

// findEcx finds the .ecx of base: in disk prefer's index then data
// directory first, then in every other disk's. disk is -1 when none has it.
func (s *Store) findEcx(base string, prefer int) (idxBase string, disk int) {
	for _, d := range s.diskOrder(prefer) {
		for _, dir := range []string{s.idxDirOf(d), s.locations[d].Dir} {
			p := filepath.Join(dir, base)
			if exists(p + ".ecx") {
				return p, d
			}
		}
	}
	return "", -1
}

// findShard finds shard file of base: prefer's data directory first.
func (s *Store) findShard(base string, shard, prefer int) (path string, disk int) {
	for _, d := range s.diskOrder(prefer) {
		if p := ec.ShardFileName(filepath.Join(s.locations[d].Dir, base), shard); exists(p) {
			return p, d
		}
	}
	return "", -1
}

// ecVifInfo loads the .vif describing the EC volume: beside the .ecx,
// beside the data base, then on any disk.
func (s *Store) ecVifInfo(base string, idxBase string, disk int) (*vif.Info, error) {
	cands := []string{idxBase + ".vif"}
	if disk >= 0 {
		cands = append(cands, filepath.Join(s.locations[disk].Dir, base)+".vif")
	}
	for _, l := range s.locations {
		cands = append(cands, filepath.Join(l.Dir, base)+".vif", filepath.Join(l.IdxDir, base)+".vif")
	}
	for _, p := range cands {
		if !exists(p) {
			continue
		}
		info, ok, err := vif.Load(p)
		if err != nil {
			return nil, err
		}
		if ok {
			return info, nil
		}
	}
	return &vif.Info{}, nil
}

// openEcVol opens the index side of EC volume vid (no shard yet), from
// the .ecx found on the node, preferring disk prefer.
func (s *Store) openEcVol(vid uint32, collection string, prefer int) (*ecVol, error) {
	base := BaseName(collection, vid)
	idxBase, disk := s.findEcx(base, prefer)
	if disk < 0 {
		return nil, fmt.Errorf("ec volume %d: %s.ecx not found", vid, base)
	}
	info, err := s.ecVifInfo(base, idxBase, disk)
	if err != nil {
		return nil, fmt.Errorf("ec volume %d: %w", vid, err)
	}
	layout, err := ec.LayoutFromInfo(info)
	if err != nil {
		return nil, fmt.Errorf("ec volume %d: %w", vid, err)
	}
	width := int(info.GetBytesOffset())
	if width == 0 {
		width = s.ecxWidth(idxBase + ".ecx")
	}
	ev := &ecVol{
		id: vid, collection: collection, idxDisk: disk, idxBase: idxBase,
		dataBase: filepath.Join(s.locations[disk].Dir, base),
		layout:   layout, width: width, expireAt: info.GetExpireAtSec(),
		encodeTsNs: info.GetEcShardConfig().GetEncodeTsNs(),
		shards:     map[int]int{},
	}
	ev.version = needle.Version(info.GetVersion())
	if ev.version == 0 {
		ev.version = s.ecVersionFromShard0(base)
	}
	vol, err := ec.OpenVolume(ec.VolumeConfig{
		ID: vid, Collection: collection, IndexBase: idxBase, Layout: layout,
		OffsetWidth: width, Version: int(ev.version),
	})
	if err != nil {
		return nil, fmt.Errorf("ec volume %d: %w", vid, err)
	}
	ev.vol = vol
	return ev, nil
}

// ecxWidth guesses the offset width of an .ecx whose .vif does not say
// (upstream leaves bytesOffset unset in the .vif an encode writes): the
// row size its length is a multiple of, the store's own width when both
// fit.
func (s *Store) ecxWidth(path string) int {
	own := s.cfg.OffsetSize
	if own != 5 {
		own = 4
	}
	st, err := os.Stat(path)
	if err != nil || st.Size() == 0 {
		return own
	}
	fits4, fits5 := st.Size()%16 == 0, st.Size()%17 == 0
	switch {
	case fits4 && !fits5:
		return 4
	case fits5 && !fits4:
		return 5
	}
	return own
}

// ecVersionFromShard0 reads the needle version from the super block at
// the start of shard 0 (the start of the .dat), when a disk has it.
func (s *Store) ecVersionFromShard0(base string) needle.Version {
	p, d := s.findShard(base, 0, -1)
	if d < 0 {
		return needle.Version3
	}
	b := make([]byte, superblock.Size)
	f, err := openNoFollow(p, os.O_RDONLY, 0)
	if err != nil {
		return needle.Version3
	}
	defer f.Close()
	if _, err := f.ReadAt(b, 0); err != nil {
		return needle.Version3
	}
	sb, err := superblock.Decode(b)
	if err != nil {
		return needle.Version3
	}
	return sb.Version
}

// EcMount mounts the given shards of vid, wherever on this node they are.
// The first mount opens the .ecx; every shard must have a file.
func (s *Store) EcMount(vid uint32, collection string, shards []uint32) error {
	if err := ValidCollection(collection); err != nil {
		return err
	}
	s.ec.mu.Lock()
	defer s.ec.mu.Unlock()
	return s.ecMountLocked(vid, collection, shards, -1)
}

func (s *Store) ecMountLocked(vid uint32, collection string, shards []uint32, prefer int) error {
	ev := s.ec.vols[vid]
	fresh := ev == nil
	if fresh {
		var err error
		if ev, err = s.openEcVol(vid, collection, prefer); err != nil {
			return err
		}
	} else if ev.collection != collection {
		return fmt.Errorf("ec volume %d is in collection %q, not %q", vid, ev.collection, collection)
	}
	base := BaseName(collection, vid)
	ev.mu.Lock()
	var err error
	for _, sh := range shards {
		if int(sh) >= ec.MaxShards || int(sh) >= ev.layout.Total() {
			err = fmt.Errorf("ec volume %d: shard id %d out of range", vid, sh)
			break
		}
		if _, ok := ev.shards[int(sh)]; ok {
			continue
		}
		p, d := s.findShard(base, int(sh), ev.idxDisk)
		if d < 0 {
			err = fmt.Errorf("ec shard %d.%d not found on disk", vid, sh)
			break
		}
		if err = ev.vol.AddShard(int(sh), p); err != nil {
			break
		}
		ev.shards[int(sh)] = d
	}
	empty := len(ev.shards) == 0
	ev.mu.Unlock()
	switch {
	case fresh && empty:
		ev.vol.Close()
	case fresh:
		if s.ec.vols == nil {
			s.ec.vols = map[uint32]*ecVol{}
		}
		s.ec.vols[vid] = ev
	}
	return err
}

// EcSetDiskType makes the mounted EC volume vid report diskType
// (VolumeEcShardsMount's source_disk_type); "" reports its disk's type.
func (s *Store) EcSetDiskType(vid uint32, diskType string) {
	if ev := s.ecGet(vid); ev != nil {
		ev.mu.Lock()
		ev.diskType = diskType
		ev.mu.Unlock()
	}
}

// EcUnmount unmounts the given shards; an unmounted shard is no error.
// The last one closes the volume's index.
func (s *Store) EcUnmount(vid uint32, shards []uint32) error {
	s.ec.mu.Lock()
	defer s.ec.mu.Unlock()
	ev := s.ec.vols[vid]
	if ev == nil {
		return nil
	}
	ev.mu.Lock()
	for _, sh := range shards {
		if _, ok := ev.shards[int(sh)]; ok {
			ev.vol.RemoveShard(int(sh))
			delete(ev.shards, int(sh))
		}
	}
	empty := len(ev.shards) == 0
	ev.mu.Unlock()
	if empty {
		delete(s.ec.vols, vid)
		return ev.vol.Close()
	}
	return nil
}

// ecUnload unmounts every shard of vid.
func (s *Store) ecUnloadLocked(vid uint32) {
	if ev := s.ec.vols[vid]; ev != nil {
		delete(s.ec.vols, vid)
		ev.mu.Lock()
		ev.vol.Close()
		ev.shards = map[int]int{}
		ev.mu.Unlock()
	}
}

// snapshot describes ev. Caller holds no lock.
// withTotal also sums the .ecx sizes (a walk of the index).
func (ev *ecVol) snapshot(s *Store, withTotal bool) EcVolumeInfo {
	ev.mu.RLock()
	defer ev.mu.RUnlock()
	info := EcVolumeInfo{
		ID: ev.id, Collection: ev.collection,
		DataShards: ev.layout.DataShards, Parity: ev.layout.ParityShards,
		BlockSize: ev.layout.BlockSize, DatSize: ev.layout.DatSize,
		Version: uint32(ev.version), ExpireAtSec: ev.expireAt, EncodeTsNs: ev.encodeTsNs,
	}
	if ev.diskType != "" {
		info.DiskType = ev.diskType
	} else if ev.idxDisk >= 0 && ev.idxDisk < len(s.locations) {
		info.DiskType = s.locations[ev.idxDisk].DiskType
	}
	size := ev.vol.ShardSize()
	for sh, d := range ev.shards {
		info.Shards = append(info.Shards, EcShardInfo{ID: sh, Size: size, DiskID: d})
	}
	sort.Slice(info.Shards, func(i, j int) bool { return info.Shards[i].ID < info.Shards[j].ID })
	files, deleted := ev.vol.Counts()
	info.Files, info.Deleted = files, deleted
	if withTotal {
		info.TotalSize = ev.totalSize()
	}
	return info
}

// EcVolume reports the EC volume vid if any shard of it is mounted. It
// is cheap (no index walk): TotalSize is left 0, see EcVolumeWithTotal.
func (s *Store) EcVolume(vid uint32) (EcVolumeInfo, bool) {
	ev := s.ecGet(vid)
	if ev == nil {
		return EcVolumeInfo{}, false
	}
	return ev.snapshot(s, false), true
}

// EcShape is the layout and encode run of EC volume vid, for the read
// path: no snapshot, no allocation (these are fixed while it is mounted).
// ok is false when no shard of vid is mounted.
func (s *Store) EcShape(vid uint32) (dataShards, parityShards int, encodeTsNs int64, ok bool) {
	ev := s.ecGet(vid)
	if ev == nil {
		return 0, 0, 0, false
	}
	return ev.layout.DataShards, ev.layout.ParityShards, ev.encodeTsNs, true
}

// HasEcVolume reports whether any shard of vid is mounted; it takes one
// read lock and allocates nothing (the request paths' check).
func (s *Store) HasEcVolume(vid uint32) bool { return s.ecGet(vid) != nil }

// EcVolumeWithTotal is EcVolume with TotalSize summed over the .ecx (a
// walk of the whole index: VolumeEcShardsInfo's volume_size).
func (s *Store) EcVolumeWithTotal(vid uint32) (EcVolumeInfo, bool) {
	ev := s.ecGet(vid)
	if ev == nil {
		return EcVolumeInfo{}, false
	}
	return ev.snapshot(s, true), true
}

// EcVolumes reports every mounted EC volume, by ascending id.
func (s *Store) EcVolumes() []EcVolumeInfo {
	s.ec.mu.RLock()
	vols := make([]*ecVol, 0, len(s.ec.vols))
	for _, ev := range s.ec.vols {
		vols = append(vols, ev)
	}
	s.ec.mu.RUnlock()
	sort.Slice(vols, func(i, j int) bool { return vols[i].id < vols[j].id })
	out := make([]EcVolumeInfo, len(vols))
	for i, ev := range vols {
		out[i] = ev.snapshot(s, false)
	}
	return out
}

// ecShardName splits "<base>.ecNN" into base and shard.
func ecShardName(name string) (base string, shard int, ok bool) {
	i := strings.LastIndex(name, ".ec")
	if i <= 0 || len(name)-i != 5 {
		return "", 0, false
	}
	n, err := strconv.Atoi(name[i+3:])
	if err != nil || n < 0 || n >= ec.MaxShards || name[i+3] == '-' || name[i+3] == '+' {
		return "", 0, false
	}
	return name[:i], n, true
}

// listEcShards groups the shard files in the store's data directories by
// volume and disk, in directory listing order, shards ascending.
func (s *Store) listEcShards() []EcOrphan {
	var out []EcOrphan
	for d, l := range s.locations {
		entries, err := os.ReadDir(l.Dir)
		if err != nil {
			continue
		}
		at := map[string]int{} // base -> index in out
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			base, shard, ok := ecShardName(e.Name())
			if !ok {
				continue
			}
			collection, id, ok := ParseBaseName(base)
			if !ok {
				continue
			}
			i, seen := at[base]
			if !seen {
				i = len(out)
				at[base] = i
				out = append(out, EcOrphan{ID: id, Collection: collection, Disk: d})
			}
			out[i].Shards = append(out[i].Shards, uint32(shard))
		}
	}
	for _, o := range out {
		sort.Slice(o.Shards, func(i, j int) bool { return o.Shards[i] < o.Shards[j] })
	}
	return out
}

// loadEcVolumes mounts, at start-up, every shard found in the store's
// data directories whose volume has an .ecx on the node, as upstream's
// volume server does. A volume that fails is logged and skipped.
func (s *Store) loadEcVolumes() {
	type key struct {
		collection string
		id         uint32
	}
	found := map[key][]uint32{}
	var order []key
	for _, o := range s.listEcShards() {
		k := key{o.Collection, o.ID}
		if _, seen := found[k]; !seen {
			order = append(order, k)
		}
		found[k] = append(found[k], o.Shards...)
	}
	s.ec.mu.Lock()
	defer s.ec.mu.Unlock()
	for _, k := range order {
		if err := s.ecMountLocked(k.id, k.collection, found[k], -1); err != nil {
			wlog.Errorf("ec volume %d: not loaded: %v", k.id, err)
		}
	}
}

// closeEc closes every EC volume (Store.Close).
func (s *Store) closeEc() error {
	s.ec.mu.Lock()
	defer s.ec.mu.Unlock()
	var err error
	for vid, ev := range s.ec.vols {
		err = errors.Join(err, ev.vol.Close())
		delete(s.ec.vols, vid)
	}
	return err
}

// EcOrphan is the shard files of an EC volume found on one disk; those
// EcMissingIndex returns have no .ecx on any disk of the node, so they
// cannot be mounted.
type EcOrphan struct {
	ID         uint32
	Collection string
	Disk       int
	Shards     []uint32 // ascending
}

// EcMissingIndex lists the shard files whose volume has no .ecx anywhere
// on this node (upstream's CollectEcVolumesMissingIndex): VolumeEcShardsMount
// with recover_missing_index fetches the index from a peer, then mounts
// them.
func (s *Store) EcMissingIndex() []EcOrphan {
	var out []EcOrphan
	for _, o := range s.listEcShards() {
		if _, d := s.findEcx(BaseName(o.Collection, o.ID), o.Disk); d < 0 {
			out = append(out, o)
		}
	}
	return out
}
