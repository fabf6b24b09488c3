package ec

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/klauspost/reedsolomon"
)

// RebuildOptions tunes RebuildWith.
type RebuildOptions struct {
	// Sums, when set, is the volume's sidecar: the inputs read and the
	// shards regenerated are checked against it (CRCs computed while
	// streaming, no second read) and a mismatch fails the rebuild before
	// anything is published.
	Sums *Sums
	// BufferSize is the per-shard chunk; 0 means DefaultBufferSize. Peak
	// buffer memory is 3 * (data+parity) * BufferSize.
	BufferSize int
}

// Rebuild is RebuildWith without a sidecar check.
func Rebuild(ctx context.Context, l Layout, present map[int]string, missing []int, outBase string) error {
	return RebuildWith(ctx, l, present, missing, outBase, RebuildOptions{})
}

// RebuildWith regenerates the shards listed in missing as
// ShardFileName(outBase, id) from the shards in present (id -> path; they
// may sit in different directories). It reads only DataShards of them (the
// lowest ids), all of the same nonzero length. Outputs are written under
// temporary names, fsynced, and renamed into place only when all are
// complete (then the directory is fsynced); on any error or cancellation
// the temporaries are removed and no final name is touched. Errors name
// the shard ids involved. Reconstruction does not depend on the block
// layout, so legacy and uniform volumes rebuild alike.
func RebuildWith(ctx context.Context, l Layout, present map[int]string, missing []int, outBase string, o RebuildOptions) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if len(missing) == 0 {
		return nil
	}
	want := slices.Clone(missing)
	slices.Sort(want)
	for i, id := range want {
		if id < 0 || id >= l.Total() {
			return fmt.Errorf("ec: rebuild: shard id %d out of range for %d+%d", id, l.DataShards, l.ParityShards)
		}
		if i > 0 && want[i-1] == id {
			return fmt.Errorf("ec: rebuild: shard %d listed twice", id)
		}
		if _, ok := present[id]; ok {
			return fmt.Errorf("ec: rebuild: shard %d is both present and missing", id)
		}
	}
	have := sortedKeys(present)
	if len(have) < l.DataShards {
		return fmt.Errorf("ec: rebuild of shards %v: only %d shards present %v, need %d", want, len(have), have, l.DataShards)
	}
	files, size, err := openShards(l, present)
	if err != nil {
		return fmt.Errorf("ec: rebuild of shards %v: %w", want, err)
	}
	defer closeAll(files)
	if o.Sums != nil {
		if err := ValidateSums(o.Sums, l); err != nil {
			return fmt.Errorf("ec: rebuild of shards %v: %w", want, err)
		}
	}
	enc, err := reedsolomon.New(l.DataShards, l.ParityShards)
	if err != nil {
		return fmt.Errorf("ec: encoder: %w", err)
	}
	c := int64(o.BufferSize)
	if c <= 0 {
		c = DefaultBufferSize
	}
	inputs := pickInputs(have, l.DataShards)
	out, err := createTemps(outBase, want, directRebuild)
	if err != nil {
		return err
	}
	defer out.abort()
	required := make([]bool, l.Total())
	for _, id := range want {
		required[id] = true
	}
	isInput := make([]bool, l.Total())
	for _, id := range inputs {
		isInput[id] = true
	}
	sums := make([]sumBuilder, l.Total())
	for i := range sums {
		sums[i].block = SumBlockSize
	}
	checked := inputs
	if o.Sums == nil {
		checked = nil
	}
	p := pass{
		total: l.Total(), c: c, sets: pipelineSets,
		fill: readInputs(files, inputs),
		compute: func(s *bufSet) error {
			if err := reconstructSet(enc, s, isInput, required); err != nil {
				return fmt.Errorf("ec: reconstruct shards %v: %w", want, err)
			}
			return nil
		},
		drain: func(s *bufSet) error {
			err := parallel(want, func(id int) error {
				b := s.view[id][:s.ch.n]
				if err := out.write(id, b, s.ch.shardOff); err != nil {
					return err
				}
				sums[id].write(b)
				return nil
			})
			if err == nil && len(checked) > 0 {
				err = parallel(checked, func(id int) error { sums[id].write(s.bufs[id]); return nil })
			}
			return err
		},
		afterDrain: encodeHook,
	}
	if err := p.run(ctx, flatPlan(size, c)); err != nil {
		return fmt.Errorf("ec: rebuild of shards %v: %w", want, err)
	}
	if o.Sums != nil {
		for _, id := range append(slices.Clone(inputs), want...) {
			if err := compareSums(o.Sums, id, sums[id].finish(id).GetBlockCrc32C(), size); err != nil {
				return fmt.Errorf("ec: rebuild of shards %v: %w", want, err)
			}
		}
	}
	if err := out.commit(); err != nil {
		return fmt.Errorf("ec: rebuild of shards %v: %w", want, err)
	}
	return nil
}

// flatPlan covers shards of size bytes in chunks of c, ignoring the .dat
// mapping (reconstruction works on shard offsets only).
func flatPlan(size, c int64) []chunk {
	var out []chunk
	for off := int64(0); off < size; off += c {
		out = append(out, chunk{shardOff: off, n: min(c, size-off)})
	}
	return out
}

// compareSums checks packed CRCs computed for shard id over size bytes
// against the sidecar's entry.
func compareSums(s *Sums, id int, crcs []byte, size int64) error {
	e := shardSums(s, id)
	if e == nil {
		return fmt.Errorf("%w: no checksums for shard %d", ErrSums, id)
	}
	if e.GetCoveredSize() != size {
		return fmt.Errorf("%w: shard %d is %d bytes, sidecar covers %d", ErrShardSize, id, size, e.GetCoveredSize())
	}
	want := e.GetBlockCrc32C()
	if len(want) != len(crcs) {
		return fmt.Errorf("%w: shard %d: %d CRCs, sidecar has %d", ErrSums, id, len(crcs)/4, len(want)/4)
	}
	for b := 0; b+4 <= len(want); b += 4 {
		if binary.LittleEndian.Uint32(want[b:]) != binary.LittleEndian.Uint32(crcs[b:]) {
			return fmt.Errorf("%w: shard %d block %d does not match its checksum", ErrSums, id, b/4)
		}
	}
	return nil
}
