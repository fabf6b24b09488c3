package ec

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/klauspost/reedsolomon"

	"github.com/weedvol/weedvol/engine/needle"
)

// Scrub helpers for upstream's ScrubEcVolume modes. Each returns what the
// upstream mode reports: a count, the local shards found broken (sorted
// ids) and every problem found, so the caller can build the response.

// ScrubIndex checks the volume's .ecx (upstream's "index" mode): not empty,
// keys strictly ascending, every live row with a nonzero offset and the
// live needles' extents not overlapping. count is the number of rows.
func (v *Volume) ScrubIndex() (count int64, errs []error) {
	x := v.index
	if x.Len() == 0 {
		return 0, []error{fmt.Errorf("zero-size ECX file for EC volume %v", v.cfg.ID)}
	}
	if err := x.Check(); err != nil {
		errs = append(errs, err)
	}
	type extent struct {
		key      uint64
		off, end int64
	}
	var live []extent
	_ = x.Walk(func(key uint64, off int64, size int32) error {
		count++
		if size < 0 {
			return nil
		}
		if off == 0 {
			errs = append(errs, fmt.Errorf("ec volume %d: live needle %x has offset 0", v.cfg.ID, key))
			return nil
		}
		live = append(live, extent{key, off, off + needle.ActualSize(size, v.version)})
		return nil
	})
	slices.SortFunc(live, func(a, b extent) int {
		switch {
		case a.off < b.off:
			return -1
		case a.off > b.off:
			return 1
		}
		return 0
	})
	for i := 1; i < len(live); i++ {
		if live[i].off < live[i-1].end {
			errs = append(errs, fmt.Errorf("ec volume %d: needle %x at %d overlaps needle %x ending at %d",
				v.cfg.ID, live[i].key, live[i].off, live[i-1].key, live[i-1].end))
		}
	}
	return count, errs
}

// ScrubChecksums verifies every local shard against the sidecar s
// (upstream's checksum scrub). blocks is the number of blocks checked.
// When more local shards mismatch than there are parity shards, the
// sidecar is reported as suspect and no shard is flagged (as upstream).
// Unlike upstream it does not arbitrate single mismatches with
// Reed-Solomon: VerifyParity recomputes parity where all shards are local.
func (v *Volume) ScrubChecksums(s *Sums) (blocks int64, broken []int, errs []error) {
	if err := ValidateSums(s, v.cfg.Layout); err != nil {
		return 0, nil, []error{fmt.Errorf("ec volume %d: bitrot sidecar is malformed/unverifiable (sidecar integrity): %w", v.cfg.ID, err)}
	}
	local := v.view.Load()
	held := 0
	for id, f := range local.files {
		if f == nil {
			continue
		}
		held++
		bad, err := VerifyShard(s, id, f.Name())
		if e := shardSums(s, id); e != nil && s.GetBlockSize() > 0 {
			blocks += (e.GetCoveredSize() + int64(s.GetBlockSize()) - 1) / int64(s.GetBlockSize())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("ec volume %d shard %d: %w", v.cfg.ID, id, err))
			if errors.Is(err, ErrShardSize) {
				broken = append(broken, id)
			}
			continue
		}
		if len(bad) > 0 {
			errs = append(errs, fmt.Errorf("ec volume %d shard %d: checksum mismatch at blocks %v", v.cfg.ID, id, bad))
			broken = append(broken, id)
		}
	}
	if len(broken) > v.cfg.Layout.ParityShards {
		return blocks, nil, append(errs, fmt.Errorf("ec volume %d: %d/%d local shards mismatch (> parity %d): suspect stale sidecar, not flagging shard corruption",
			v.cfg.ID, len(broken), held, v.cfg.Layout.ParityShards))
	}
	return blocks, broken, errs
}

// ScrubLocal is upstream's "local" mode: ScrubIndex, then for every live
// needle read its pieces from the local shards (a piece past a shard's end
// or unreadable flags that shard broken) and, when all pieces are local,
// decode the record and check its header and CRC. count is the number of
// .ecx rows.
func (v *Volume) ScrubLocal() (count int64, broken []int, errs []error) {
	_, errs = v.ScrubIndex()
	local := v.view.Load()
	shardSize := local.size
	l := v.cfg.Layout
	if shardSize == 0 {
		shardSize = l.ShardSizeFor(l.DatSize)
	}
	brokenSet := map[int]bool{}
	_ = v.index.Walk(func(key uint64, off int64, size int32) error {
		count++
		if size < 0 {
			return nil
		}
		n := needle.ActualSize(size, v.version)
		ivs := l.Locate(shardSize, off, n)
		if ivs == nil {
			errs = append(errs, fmt.Errorf("needle %x on volume %d: %d bytes at %d lie outside the shards", key, v.cfg.ID, n, off))
			return nil
		}
		rec := make([]byte, 0, n)
		complete := true
		for i, iv := range ivs {
			f := local.file(iv.Shard)
			if f == nil {
				complete = false
				continue
			}
			piece := make([]byte, iv.Size)
			if err := readFull(f, iv.Shard, piece, iv.Offset); err != nil {
				brokenSet[iv.Shard] = true
				errs = append(errs, fmt.Errorf("chunk %d/%d for needle %x: %w", i+1, len(ivs), key, err))
				complete = false
				continue
			}
			rec = append(rec, piece...)
		}
		if complete {
			var nd needle.Needle
			if err := nd.Decode(rec, size, v.version); err != nil {
				errs = append(errs, fmt.Errorf("needle %x on volume %d: %w", key, v.cfg.ID, err))
			} else if nd.ID != key {
				errs = append(errs, fmt.Errorf("needle %x on volume %d: record holds id %x", key, v.cfg.ID, nd.ID))
			}
		}
		return nil
	})
	for id := range brokenSet {
		broken = append(broken, id)
	}
	slices.Sort(broken)
	return count, broken, errs
}

// VerifyParity recomputes the parity of a volume whose every shard is in
// paths and compares it with the parity shards, chunk by chunk. It returns
// the shard offsets of the chunks (DefaultBufferSize each) that disagree;
// nil means the shards are consistent.
func VerifyParity(ctx context.Context, l Layout, paths map[int]string) (badChunks []int64, err error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if len(paths) != l.Total() {
		return nil, fmt.Errorf("ec: verify parity: %d of %d shards present", len(paths), l.Total())
	}
	files, size, err := openShards(l, paths)
	if err != nil {
		return nil, err
	}
	defer closeAll(files)
	enc, err := reedsolomon.New(l.DataShards, l.ParityShards)
	if err != nil {
		return nil, err
	}
	all := seqIDs(l.Total())
	p := pass{
		total: l.Total(), c: DefaultBufferSize, sets: pipelineSets,
		fill: func(_ context.Context, s *bufSet) error {
			return parallel(all, func(id int) error { return readFull(files[id], id, s.bufs[id], s.ch.shardOff) })
		},
		compute: func(s *bufSet) error {
			ok, err := enc.Verify(s.bufs)
			if err != nil {
				return err
			}
			if !ok {
				badChunks = append(badChunks, s.ch.shardOff)
			}
			return nil
		},
		drain: func(*bufSet) error { return nil },
	}
	if err := p.run(ctx, flatPlan(size, DefaultBufferSize)); err != nil {
		return nil, err
	}
	return badChunks, nil
}
