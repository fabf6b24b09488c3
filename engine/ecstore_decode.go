package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/weedvol/weedvol/atomicfile"
	"github.com/weedvol/weedvol/engine/ec"
	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/engine/superblock"
	"github.com/weedvol/weedvol/engine/vif"
)

// EcToVolume decodes vid's local data shards back into a normal volume:
// the .dat from the shards, the .idx from the .ecx with the .ecj's
// deletes as tombstones, the .vif kept (upstream's
// VolumeEcShardsToVolume; crash story in ecstore_files.go). A data shard
// that fails its .ecsum checksum stops the decode before anything is
// written. When the volume is mounted here (the encode's source), it is
// replaced by the decoded files and remounted. The EC files stay.
func (s *Store) EcToVolume(ctx context.Context, vid uint32, collection string) error {
	if _, busy := s.ec.decoding.LoadOrStore(vid, struct{}{}); busy {
		return fmt.Errorf("ec volume %d %w", vid, ErrEcBusy)
	}
	defer s.ec.decoding.Delete(vid)
	ev := s.ecGet(vid)
	if ev == nil {
		return fmt.Errorf("ec volume %d not found", vid)
	}
	if ev.collection != collection {
		return fmt.Errorf("existing collection:%v unexpected input: %v", ev.collection, collection)
	}
	base := BaseName(collection, vid)
	present := map[int]string{}
	for i := 0; i < ev.layout.DataShards; i++ {
		p, d := s.findShard(base, i, ev.idxDisk)
		if d < 0 {
			return fmt.Errorf("ec volume %d missing shard %d", vid, i)
		}
		present[i] = p
	}
	live, err := ec.HasLiveEntries(ev.idxBase+".ecx", ev.idxBase+".ecj", ev.width)
	if err != nil {
		return fmt.Errorf("HasLiveNeedles %s: %w", ev.idxBase, err)
	}
	if !live {
		return fmt.Errorf("ec volume %d %w", vid, ErrEcNoLiveEntries)
	}
	if err := s.ecVerifyDataShards(ev, base, present); err != nil {
		return fmt.Errorf("ec volume %d: %w", vid, err)
	}

	disk := ev.idxDisk
	datPath := filepath.Join(s.locations[disk].Dir, base) + ".dat"
	idxPath := filepath.Join(s.idxDirOf(disk), base) + ".idx"
	if v, ok := s.Volume(vid); ok {
		datPath, idxPath = v.FileName(".dat"), v.FileName(".idx")
	}
	datTmp, idxTmp := atomicfile.TempName(datPath), atomicfile.TempName(idxPath)
	defer os.Remove(datTmp)
	defer os.Remove(idxTmp)
	// As upstream, the .dat ends with the last needle the .ecx names:
	// records past it (tombstones of needles deleted before the encode,
	// the encode's zero padding) are left out.
	datSize, err := ec.FindDatFileSize(ev.idxBase+".ecx", ev.width, ev.version)
	if err != nil {
		return fmt.Errorf("FindDatFileSize %s: %v", ev.idxBase, err)
	}
	if err := ec.DecodeDatN(ctx, ev.layout, present, datTmp, datSize); err != nil {
		return fmt.Errorf("WriteDatFile %s: %v", datPath, err)
	}
	if err := ec.WriteIdxFromEcx(ev.idxBase+".ecx", ev.idxBase+".ecj", idxTmp, ev.width); err != nil {
		return fmt.Errorf("WriteIdxFileFromEcIndex %s: %v", idxPath, err)
	}
	if err := sealDecodedTail(datTmp, idxTmp, ev.version, ev.width); err != nil {
		return err
	}
	// The decoded volume's .vif must say its offset width: upstream's
	// encode leaves it out (its build's width is implied).
	vifPath := filepath.Join(filepath.Dir(datPath), base) + ".vif"
	if info, ok, verr := vif.Load(vifPath); verr == nil && ok && info.GetBytesOffset() == 0 {
		info.BytesOffset = uint32(ev.width)
		if err := vif.Save(vifPath, info); err != nil {
			return err
		}
	}
	_, mounted := s.Volume(vid)
	if mounted {
		if err := s.UnmountVolume(vid); err != nil {
			return err
		}
	}
	if err = reached(stepDecodeWritten); err == nil {
		err = os.Rename(idxTmp, idxPath)
	}
	if err == nil {
		err = atomicfile.SyncDir(filepath.Dir(idxPath))
	}
	if err == nil {
		err = reached(stepDecodeIdx)
	}
	if err == nil {
		err = os.Rename(datTmp, datPath)
	}
	if err == nil {
		err = atomicfile.SyncDir(filepath.Dir(datPath))
	}
	if err == nil {
		err = reached(stepDecodeDat)
	}
	if err == nil {
		// A .wvx of the old .idx must not be taken for the new one.
		err = removeStaleWVX(idxPath)
	}
	if mounted {
		err = errors.Join(err, s.MountVolume(vid))
	}
	return err
}

// removeStaleWVX removes the index snapshot beside idxPath, if any.
func removeStaleWVX(idxPath string) error {
	wvx := idxPath[:len(idxPath)-len(".idx")] + ".wvx"
	if err := os.Remove(wvx); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// ecVerifyDataShards checks the data shards a decode reads against the
// volume's .ecsum, when it has one: upstream's texts ("data shard %d ...
// fails its bitrot checksum", "... refusing to serve ...").
func (s *Store) ecVerifyDataShards(ev *ecVol, base string, present map[int]string) error {
	sums, err := s.ecLoadSums(ev, base)
	if err != nil || sums == nil {
		return err
	}
	sl, err := ec.LayoutFromSums(sums)
	if err != nil {
		return fmt.Errorf("bitrot sidecar is malformed or unverifiable: %w", err)
	}
	if sl.DataShards != ev.layout.DataShards || sl.ParityShards != ev.layout.ParityShards {
		return fmt.Errorf("%s.ecsum records layout %d+%d but the volume is mounted as %d+%d; refusing to serve one of the two layouts",
			base, sl.DataShards, sl.ParityShards, ev.layout.DataShards, ev.layout.ParityShards)
	}
	ids := make([]int, 0, len(present))
	for id := range present {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		bad, err := ec.VerifyShard(sums, id, present[id])
		if err != nil {
			return fmt.Errorf("verify data shard %d %s: %w", id, present[id], err)
		}
		if len(bad) > 0 {
			return fmt.Errorf("data shard %d %s fails its bitrot checksum in %d blocks", id, present[id], len(bad))
		}
	}
	return nil
}

// ecLoadSums loads the .ecsum of ev: beside its data base, the .ecx, or
// on any disk. nil, nil when there is none.
func (s *Store) ecLoadSums(ev *ecVol, base string) (*ec.Sums, error) {
	cands := []string{ec.SumsPath(ev.dataBase, 0), ec.SumsPath(ev.idxBase, 0)}
	for _, l := range s.locations {
		cands = append(cands, ec.SumsPath(filepath.Join(l.Dir, base), 0))
	}
	for _, p := range cands {
		if !exists(p) {
			continue
		}
		return ec.LoadSums(p)
	}
	return nil, nil
}

// EcScrub checks vid in the given mode (upstream's ScrubEcVolume):
//
//   - Index: the .ecx is sorted, its rows point inside the volume;
//   - Local: every local shard has the shard size and passes the .ecsum,
//     and every needle whose bytes are all local reads back intact;
//   - Full: every needle reads back, remote shards fetched, nothing
//     reconstructed; Reads: the same, reconstructing what no node serves;
//   - Checksum: the local shards against the .ecsum only.
//
// Shards found damaged or unreachable are reported in Broken.
func (s *Store) EcScrub(ctx context.Context, vid uint32, mode EcScrubMode, forceDeleted bool) (EcScrubReport, error) {
	ev := s.ecGet(vid)
	if ev == nil {
		return EcScrubReport{}, fmt.Errorf("EC volume id %d not found", vid)
	}
	var rep EcScrubReport
	base := BaseName(ev.collection, vid)
	broken := map[int]bool{}
	switch mode {
	case EcScrubIndex:
		rep.Files, rep.Details = ev.scrubIndex()
	case EcScrubChecksum:
		s.ecScrubSums(ev, base, broken, &rep)
	case EcScrubLocal:
		s.ecScrubSizes(ev, broken, &rep)
		s.ecScrubSums(ev, base, broken, &rep)
		s.ecScrubNeedles(ctx, ev, true, false, broken, &rep)
	case EcScrubFull, EcScrubReads:
		s.ecScrubNeedles(ctx, ev, false, mode == EcScrubReads, broken, &rep)
	default:
		return EcScrubReport{}, fmt.Errorf("unsupported EC volume scrub mode %d", mode)
	}
	ids := make([]int, 0, len(broken))
	for id := range broken {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	size := ev.vol.ShardSize()
	ev.mu.RLock()
	for _, id := range ids {
		rep.Broken = append(rep.Broken, EcShardInfo{ID: id, Size: size, DiskID: ev.shards[id]})
	}
	ev.mu.RUnlock()
	return rep, nil
}

func (s *Store) ecScrubSizes(ev *ecVol, broken map[int]bool, rep *EcScrubReport) {
	want := ev.vol.ShardSize()
	ev.mu.RLock()
	defer ev.mu.RUnlock()
	for id := range ev.shards {
		if got := s.localShardSize(ev, id); got != want {
			broken[id] = true
			rep.Details = append(rep.Details, fmt.Errorf("ec volume %d shard %d: size %d, expected %d", ev.id, id, got, want))
		}
	}
}

func (s *Store) ecScrubSums(ev *ecVol, base string, broken map[int]bool, rep *EcScrubReport) {
	sums, err := s.ecLoadSums(ev, base)
	if err != nil {
		rep.Details = append(rep.Details, fmt.Errorf("ec volume %d: %w", ev.id, err))
		return
	}
	if sums == nil {
		return
	}
	ev.mu.RLock()
	defer ev.mu.RUnlock()
	for id := range ev.shards {
		path := s.shardPath(ev, id)
		bad, err := ec.VerifyShard(sums, id, path)
		if err != nil {
			broken[id] = true
			rep.Details = append(rep.Details, fmt.Errorf("ec volume %d shard %d: %w", ev.id, id, err))
		} else if len(bad) > 0 {
			broken[id] = true
			rep.Details = append(rep.Details, fmt.Errorf("ec volume %d shard %d fails its bitrot checksum in %d blocks", ev.id, id, len(bad)))
		}
	}
}

// ecScrubNeedles reads every live needle of ev. localOnly skips needles
// with bytes on shards not mounted here; reconstruct lets reads rebuild
// intervals from parity. Shards that no node could serve are broken.
func (s *Store) ecScrubNeedles(ctx context.Context, ev *ecVol, localOnly, reconstruct bool, broken map[int]bool, rep *EcScrubReport) {
	local := map[int]bool{}
	for _, id := range ev.vol.ShardIDs() {
		local[id] = true
	}
	shardSize := ev.vol.ShardSize()
	var failed shardSet
	err := ev.walkIndex(func(key uint64, off int64, size int32) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if size <= 0 || off == 0 {
			return nil
		}
		total := needle.ActualSize(size, ev.version)
		ivs := ev.layout.Locate(shardSize, off, total)
		allLocal := true
		for _, iv := range ivs {
			if !local[iv.Shard] {
				allLocal = false
			}
		}
		if localOnly && !allLocal {
			return nil
		}
		rep.Files++
		var n needle.Needle
		var rerr error
		if reconstruct {
			_, rerr = s.ecRead(ctx, ev, &n, key, 0, ReadOptions{AnyCookie: true}, &failed)
		} else {
			rerr = s.ecReadDirect(ctx, ev, &n, key, off, size, ivs, &failed)
		}
		if rerr != nil && !errors.Is(rerr, ErrDeleted) {
			rep.Details = append(rep.Details, fmt.Errorf("ec volume %d needle %x: %w", ev.id, key, rerr))
		}
		return nil
	})
	if err != nil {
		rep.Details = append(rep.Details, fmt.Errorf("ec volume %d: walk index: %w", ev.id, err))
	}
	for id := range failed.ids {
		broken[id] = true
	}
}

// ecReadDirect reads a needle's intervals from their own shards only (no
// reconstruction) and decodes it.
func (s *Store) ecReadDirect(ctx context.Context, ev *ecVol, n *needle.Needle, key uint64, off int64, size int32, ivs []ec.Interval, failed *shardSet) error {
	total := needle.ActualSize(size, ev.version)
	rec := make([]byte, 0, total)
	fetch := (&ecFetch{peers: s.ecPeers(), ev: ev, key: key, failed: failed}).fetch
	for _, iv := range ivs {
		buf := make([]byte, iv.Size)
		var err error
		if _, lerr := s.EcReadShard(ev.id, iv.Shard, buf, iv.Offset); lerr == nil {
			err = nil
		} else if errors.Is(lerr, ErrEcNotFound) {
			var got int
			got, err = fetch(ctx, iv.Shard, iv.Offset, buf)
			if err == nil && int64(got) < iv.Size {
				err = fmt.Errorf("ec shard %d.%d: short read", ev.id, iv.Shard)
			}
		} else {
			failed.add(iv.Shard)
			err = lerr
		}
		if err != nil {
			return err
		}
		rec = append(rec, buf...)
	}
	return n.Decode(rec, size, ev.version)
}

// sealDecodedTail gives the .idx a decode wrote a row for every delete's
// tombstone record past its last live record. The .ecx an encode sorts
// keeps only live needles, so a needle deleted before the encode has
// neither its record nor its tombstone in the decoded .idx; records past
// the last indexed one would then be taken by Open for writes a crash
// left unindexed (checkTail), and a tombstone of a needle not live for an
// empty upload, bringing the deleted file back as 0 bytes. With the
// tombstones indexed, Open finds the .idx ending at the .dat's last
// tombstone and replays nothing before it. The rows are fsynced.
func sealDecodedTail(datPath, idxPath string, ver needle.Version, width int) error {
	f, err := idx.FormatFor(width)
	if err != nil {
		return err
	}
	ix, err := os.OpenFile(idxPath, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer ix.Close()
	st, err := ix.Stat()
	if err != nil {
		return err
	}
	live := map[uint64]bool{}
	end := int64(superblock.Size)
	if err := f.Walk(ix, func(e idx.Entry) error {
		if e.Offset > 0 && e.Size >= 0 {
			live[e.Key] = true
			end = max(end, e.Offset+needle.ActualSize(e.Size, ver))
		} else {
			delete(live, e.Key)
		}
		return nil
	}); err != nil {
		return err
	}
	dat, err := os.Open(datPath)
	if err != nil {
		return err
	}
	defer dat.Close()
	dst, err := dat.Stat()
	if err != nil {
		return err
	}
	read := func(p []byte, off int64) error {
		_, err := dat.ReadAt(p, off)
		return err
	}
	var rows []byte
	_, err = needle.WalkRecords(read, ver, end, dst.Size(), nil, func(off int64, h needle.Header) (bool, error) {
		if h.Size == 0 && !live[h.ID] {
			rows = f.AppendEntry(rows, idx.Entry{Key: h.ID, Offset: off, Size: needle.TombstoneSize})
		}
		return false, nil
	}, nil)
	if err != nil {
		return fmt.Errorf("scan the decoded %s past its last live needle: %w", datPath, err)
	}
	if len(rows) == 0 {
		return nil
	}
	if _, err := ix.WriteAt(rows, st.Size()); err != nil {
		return err
	}
	return ix.Sync()
}
