package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/weedvol/weedvol/atomicfile"
	"github.com/weedvol/weedvol/engine/ec"
	"github.com/weedvol/weedvol/engine/vif"
)

// The EC files of a volume base "<collection>_<id>":
//
//	data dir:  base.ec00 .. base.ec31, base.vif, base.ecsum
//	index dir: base.ecx, base.ecj (the data dir too, for files upstream
//	           put there when -dir.idx was not set)
//
// Crash story: VolumeEcShardsGenerate (EcGenerate).
//
//  1. remove every EC file of the base on every disk (a retry never
//     mixes two encode runs); the volume's own files are untouched;
//  2. ec.Encode writes and fsyncs the shards and the .ecsum, and writes
//     the .ecx under a temporary base (base.ecgen.ecx), fsynced;
//  3. the .vif is replaced (atomicfile) with the layout fields;
//  4. the temporary .ecx is renamed to base.ecx and the index directory
//     fsynced.
//
// A crash before 4 leaves shards without an .ecx, which start-up does not
// mount and the next EcGenerate removes; after 4 the volume is complete:
// an .ecx is only ever found beside a .vif that describes its shards.
// The original volume is untouched throughout.
//
// Crash story: EcToVolume. The .dat and .idx are written under temporary
// names (atomicfile.TempName) and fsynced; the .vif gains its offset width
// if it lacked it; then the .idx is renamed into place, its directory
// fsynced, and the .dat last (the .dat makes the volume, as at create),
// its directory fsynced. A crash before the .dat's rename leaves no new
// volume (an .idx without .dat is not opened; when the volume existed,
// the new .idx describes the same bytes, the decoded .dat being the
// original's prefix). The shards and .ecx are kept until the caller
// deletes them, so the decode can run again.

// ecGenTmp is the temporary base the .ecx of a running encode is written
// under.
const ecGenTmp = ".ecgen"

// ecExtKind classifies an EC file extension: a shard (its id), or one of
// the volume-wide files. ok is false for anything else.
func ecExtKind(ext string) (shard int, ok bool) {
	switch ext {
	case ".ecx", ".ecj", ".vif", ".ecsum":
		return -1, true
	}
	_, sh, ok := ecShardName("x" + ext)
	return sh, ok
}

// ecFileDir is where ext of an EC volume lives on disk: the index
// directory for .ecx/.ecj, else the data directory.
func (s *Store) ecFileDir(disk int, ext string) string {
	if ext == ".ecx" || ext == ".ecj" {
		return s.idxDirOf(disk)
	}
	return s.locations[disk].Dir
}

// removeEcFiles removes the EC files of base on disk: every shard (all
// 32 ids), the .ecx/.ecj/.ecsum in both directories, and the .vif too
// when withVif. It fsyncs the directories it changed.
func (s *Store) removeEcFiles(disk int, base string, withVif bool) error {
	var err error
	for _, dir := range s.ecDirs(disk) {
		p := filepath.Join(dir, base)
		names := []string{p + ".ecx", p + ".ecj", p + ".ecsum", p + ecGenTmp + ".ecx"}
		for i := 0; i < ec.MaxShards; i++ {
			names = append(names, ec.ShardFileName(p, i))
		}
		if withVif {
			names = append(names, p+".vif")
		}
		changed := false
		for _, n := range names {
			rerr := os.Remove(n)
			if rerr == nil {
				changed = true
			} else if !errors.Is(rerr, os.ErrNotExist) {
				err = errors.Join(err, rerr)
			}
		}
		if changed {
			err = errors.Join(err, atomicfile.SyncDir(dir))
		}
	}
	return err
}

// hasIdx reports whether disk holds a .idx of base (a normal volume's).
func (s *Store) hasIdx(disk int, base string) bool {
	for _, dir := range s.ecDirs(disk) {
		if exists(filepath.Join(dir, base) + ".idx") {
			return true
		}
	}
	return false
}

// EcGenerate encodes the local volume vid into shards, .ecx, .ecsum and
// the EC fields of its .vif beside it (upstream's VolumeEcShardsGenerate;
// crash story above). The volume stays mounted; the shards are not
// mounted. An EC layout already in the volume's .vif is kept.
func (s *Store) EcGenerate(ctx context.Context, vid uint32, collection string) error {
	v, ok := s.Volume(vid)
	if !ok {
		return fmt.Errorf("volume %d not found", vid)
	}
	if v.Collection != collection {
		return fmt.Errorf("existing collection:%v unexpected input: %v", v.Collection, collection)
	}
	layout := ec.DefaultLayout()
	if info, ok, err := vif.Load(v.FileName(".vif")); err == nil && ok && info.GetEcShardConfig() != nil {
		if l, lerr := ec.LayoutFromInfo(info); lerr == nil {
			layout.DataShards, layout.ParityShards = l.DataShards, l.ParityShards
		}
	}
	base := BaseName(collection, vid)
	s.ec.mu.Lock()
	s.ecUnloadLocked(vid)
	s.ec.mu.Unlock()
	for d := range s.locations {
		if err := s.removeEcFiles(d, base, false); err != nil {
			return fmt.Errorf("wipe stale EC files of volume %d on %s: %w", vid, s.locations[d].Dir, err)
		}
	}
	if err := reached(stepEcWiped); err != nil {
		return err
	}
	if err := v.Sync(); err != nil {
		return err
	}
	datPath, idxPath := v.FileName(".dat"), v.FileName(".idx")
	dataBase, indexBase := strings.TrimSuffix(datPath, ".dat"), strings.TrimSuffix(idxPath, ".idx")
	cleanup := func() {
		for d := range s.locations {
			s.removeEcFiles(d, base, false)
		}
	}
	res, err := ec.Encode(ctx, datPath, idxPath, dataBase, indexBase+ecGenTmp, v.format.OffsetSize, ec.EncodeOptions{Layout: layout})
	if err != nil {
		cleanup()
		return fmt.Errorf("WriteEcFiles %s: %v", dataBase, err)
	}
	if err := reached(stepEcEncoded); err != nil {
		cleanup()
		return err
	}
	info := &vif.Info{Version: uint32(v.Version()), BytesOffset: uint32(v.format.OffsetSize)}
	if ttl := v.SuperBlock().TTL.Seconds(); ttl > 0 {
		info.ExpireAtSec = uint64(v.LastModified()) + ttl
	}
	res.Layout.Apply(info)
	if err := vif.Save(dataBase+".vif", info); err != nil {
		cleanup()
		return fmt.Errorf("SaveVolumeInfo %s: %v", dataBase, err)
	}
	if err := reached(stepEcVif); err != nil {
		cleanup()
		return err
	}
	if err := os.Rename(indexBase+ecGenTmp+".ecx", indexBase+".ecx"); err != nil {
		cleanup()
		return err
	}
	if err := atomicfile.SyncDir(filepath.Dir(indexBase)); err != nil {
		return err
	}
	return reached(stepEcGenerated)
}

// EcRebuild regenerates the shards of vid missing on this node from the
// ones present in any of its directories, returning their ids (upstream's
// VolumeEcShardsRebuild). The rebuilt shards go to the disk with the .ecx
// and the most shards. Nothing to rebuild from is not an error.
func (s *Store) EcRebuild(ctx context.Context, vid uint32, collection string) ([]uint32, error) {
	if err := ValidCollection(collection); err != nil {
		return nil, err
	}
	base := BaseName(collection, vid)
	present := map[int]string{}
	best, bestCount := -1, -1
	for d, l := range s.locations {
		count := 0
		for i := 0; i < ec.MaxShards; i++ {
			p := ec.ShardFileName(filepath.Join(l.Dir, base), i)
			if !exists(p) {
				continue
			}
			count++
			if _, ok := present[i]; !ok {
				present[i] = p
			}
		}
		hasEcx := exists(filepath.Join(s.idxDirOf(d), base)+".ecx") || exists(filepath.Join(l.Dir, base)+".ecx")
		if hasEcx && count > bestCount {
			best, bestCount = d, count
		}
	}
	if best < 0 {
		return nil, nil
	}
	idxBase, _ := s.findEcx(base, best)
	info, err := s.ecVifInfo(base, idxBase, best)
	if err != nil {
		return nil, err
	}
	layout, err := ec.LayoutFromInfo(info)
	if err != nil {
		return nil, err
	}
	var missing []int
	for i := 0; i < layout.Total(); i++ {
		if _, ok := present[i]; !ok {
			missing = append(missing, i)
		}
	}
	for i := range present {
		if i >= layout.Total() {
			delete(present, i)
		}
	}
	if len(missing) == 0 {
		return nil, nil
	}
	if len(present) < layout.DataShards {
		return nil, fmt.Errorf("RebuildEcFiles %s: only %d of the %d shards needed are present", base, len(present), layout.DataShards)
	}
	if err := ec.Rebuild(ctx, layout, present, missing, filepath.Join(s.locations[best].Dir, base)); err != nil {
		return nil, fmt.Errorf("RebuildEcFiles %s: %v", base, err)
	}
	out := make([]uint32, len(missing))
	for i, m := range missing {
		out[i] = uint32(m)
	}
	return out, nil
}

// EcDeleteShards removes the given shard files of vid from every
// directory, unmounting them first; when no shard of vid remains on the
// node, also its .ecx, .ecj, .ecsum and (where no .idx is) .vif
// (upstream's VolumeEcShardsDelete).
func (s *Store) EcDeleteShards(vid uint32, collection string, shards []uint32) error {
	if err := ValidCollection(collection); err != nil {
		return err
	}
	if err := s.EcUnmount(vid, shards); err != nil {
		return err
	}
	base := BaseName(collection, vid)
	var err error
	left := 0
	for _, l := range s.locations {
		changed := false
		for _, sh := range shards {
			if int(sh) >= ec.MaxShards {
				continue
			}
			rerr := os.Remove(ec.ShardFileName(filepath.Join(l.Dir, base), int(sh)))
			if rerr == nil {
				changed = true
			} else if !errors.Is(rerr, os.ErrNotExist) {
				err = errors.Join(err, rerr)
			}
		}
		if changed {
			err = errors.Join(err, atomicfile.SyncDir(l.Dir))
		}
		for i := 0; i < ec.MaxShards; i++ {
			if exists(ec.ShardFileName(filepath.Join(l.Dir, base), i)) {
				left++
			}
		}
	}
	if err != nil || left > 0 {
		return err
	}
	if s.ecGet(vid) != nil {
		return nil
	}
	for d := range s.locations {
		err = errors.Join(err, s.removeEcFiles(d, base, !s.hasIdx(d, base)))
	}
	return err
}

// EcTeardown unmounts vid and removes every EC file of it on every disk
// (VolumeEcShardsDelete with full_teardown); a .vif stays where a .idx is.
func (s *Store) EcTeardown(vid uint32, collection string) error {
	if err := ValidCollection(collection); err != nil {
		return err
	}
	s.ec.mu.Lock()
	s.ecUnloadLocked(vid)
	s.ec.mu.Unlock()
	base := BaseName(collection, vid)
	var err error
	for d := range s.locations {
		err = errors.Join(err, s.removeEcFiles(d, base, !s.hasIdx(d, base)))
	}
	return err
}

// EcTarget picks the disk (index into Locations) that receives shards of
// vid: diskID when non-zero, else the disk already holding one of the
// shards, else the one with the volume's .ecx, else the first of the
// default disk type.
func (s *Store) EcTarget(vid uint32, collection string, diskID uint32, shards []uint32) (int, error) {
	if diskID > 0 {
		if int(diskID) >= len(s.locations) {
			return 0, fmt.Errorf("invalid disk_id %d: only have %d disks", diskID, len(s.locations))
		}
		return int(diskID), nil
	}
	base := BaseName(collection, vid)
	for _, sh := range shards {
		if int(sh) < ec.MaxShards {
			if _, d := s.findShard(base, int(sh), -1); d >= 0 {
				return d, nil
			}
		}
	}
	if ev := s.ecGet(vid); ev != nil {
		return ev.idxDisk, nil
	}
	if _, d := s.findEcx(base, -1); d >= 0 {
		return d, nil
	}
	for d, l := range s.locations {
		if !l.Loading() && sameDiskType(l.DiskType, "") {
			return d, nil
		}
	}
	return 0, nil
}

// EcCreateFile starts receiving an EC file of vid on disk: ext is .ecNN,
// .ecx, .ecj, .vif or .ecsum (anything else is refused). A shard that is
// mounted is refused, and so is the .vif of a mounted volume. The file
// is written under a temporary name and replaces the old one at Commit.
func (s *Store) EcCreateFile(disk int, vid uint32, collection, ext string) (*Incoming, error) {
	if err := ValidCollection(collection); err != nil {
		return nil, err
	}
	if err := ValidExt(ext); err != nil {
		return nil, err
	}
	shard, ok := ecExtKind(ext)
	if !ok {
		return nil, fmt.Errorf("ec volume %d: %q is not an erasure-coding file", vid, ext)
	}
	if disk < 0 || disk >= len(s.locations) {
		return nil, fmt.Errorf("invalid disk_id %d: only have %d disks", disk, len(s.locations))
	}
	if shard >= 0 {
		if ev := s.ecGet(vid); ev != nil {
			ev.mu.RLock()
			_, mounted := ev.shards[shard]
			ev.mu.RUnlock()
			if mounted {
				return nil, fmt.Errorf("ec volume %d shard %d is mounted; unmount it before overwriting", vid, shard)
			}
		}
	}
	if ext == ".vif" {
		if e, ok := (*s.volumes.Load())[vid]; ok && e.loc == s.locations[disk] {
			return nil, fmt.Errorf("%s of volume %d: %w", ext, vid, ErrVolumeFile)
		}
	}
	final := filepath.Join(s.ecFileDir(disk, ext), BaseName(collection, vid)+ext)
	f, err := createFresh(atomicfile.TempName(final))
	if err != nil {
		return nil, err
	}
	return &Incoming{f: f, final: final}, nil
}

// EcMergeJournal adds ids to the deletions of vid on disk: through the
// mounted volume when there is one (its .ecx and .ecj), else into the
// .ecj (ids already listed are skipped) and a .ecx on disk.
func (s *Store) EcMergeJournal(disk int, vid uint32, collection string, ids []uint64) error {
	if err := ValidCollection(collection); err != nil {
		return err
	}
	if disk < 0 || disk >= len(s.locations) {
		return fmt.Errorf("invalid disk_id %d: only have %d disks", disk, len(s.locations))
	}
	if ev := s.ecGet(vid); ev != nil {
		for _, id := range ids {
			if _, err := ev.vol.Delete(id); err != nil {
				return err
			}
		}
		return nil
	}
	p := filepath.Join(s.idxDirOf(disk), BaseName(collection, vid))
	have, err := ec.ReadJournal(p + ".ecj")
	if err != nil {
		return err
	}
	seen := make(map[uint64]bool, len(have))
	for _, id := range have {
		seen[id] = true
	}
	j, err := ec.OpenJournal(p + ".ecj")
	if err != nil {
		return err
	}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			if err = j.Append(id); err != nil {
				break
			}
		}
	}
	return errors.Join(err, j.Close())
}

// EcOpenFile opens an EC file of vid for reading (CopyFile's source):
// ext as for EcCreateFile. os.ErrNotExist when no disk has it.
func (s *Store) EcOpenFile(vid uint32, collection, ext string) (*os.File, error) {
	if err := ValidCollection(collection); err != nil {
		return nil, err
	}
	if err := ValidExt(ext); err != nil {
		return nil, err
	}
	if _, ok := ecExtKind(ext); !ok {
		return nil, fmt.Errorf("ec volume %d: %q is not an erasure-coding file", vid, ext)
	}
	base := BaseName(collection, vid)
	prefer := -1
	if ev := s.ecGet(vid); ev != nil {
		prefer = ev.idxDisk
	}
	for _, d := range s.diskOrder(prefer) {
		for _, dir := range []string{s.ecFileDir(d, ext), s.locations[d].Dir, s.idxDirOf(d)} {
			f, err := openNoFollow(filepath.Join(dir, base)+ext, os.O_RDONLY, 0)
			if err == nil {
				return f, nil
			}
			if !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
	}
	return nil, os.ErrNotExist
}
