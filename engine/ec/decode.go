package ec

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/reedsolomon"

	"github.com/weedvol/weedvol/atomicfile"
)

// DecodeDat writes datPath, exactly l.DatSize bytes, from the volume's
// shards (present: id -> path). Data shards that are not present are
// reconstructed from parity (any DataShards shards suffice). A layout that
// records no DatSize (old legacy volumes) is an error: pass the length
// upstream would decode to DecodeDatN, normally FindDatFileSize of the
// .ecx after folding the .ecj into it.
func DecodeDat(ctx context.Context, l Layout, present map[int]string, datPath string) error {
	if l.DatSize <= 0 {
		return fmt.Errorf("ec: decode %s: layout records no dat size; use DecodeDatN with FindDatFileSize", datPath)
	}
	return DecodeDatN(ctx, l, present, datPath, l.DatSize)
}

// DecodeDatN writes the first n bytes of the volume's .dat to datPath, as
// upstream's WriteDatFile does. The block placement comes from l (BlockSize,
// and for legacy volumes DatSize when recorded, else the shard length; a
// legacy shard whose length is a whole number of large blocks with n
// beyond the unambiguous rows is refused, as upstream refuses it). The
// file is replaced atomically and durably (temp name, fsync, rename, fsync
// of the directory). When every data shard is present it copies (on Linux
// with copy_file_range, through os.File.ReadFrom); otherwise it
// reconstructs the missing data shards chunk by chunk with peak buffer
// memory 3 * (data+parity) * DefaultBufferSize.
func DecodeDatN(ctx context.Context, l Layout, present map[int]string, datPath string, n int64) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("ec: decode %s: negative size %d", datPath, n)
	}
	have := sortedKeys(present)
	if len(have) < l.DataShards {
		return fmt.Errorf("ec: decode %s: only %d shards present %v, need %d", datPath, len(have), have, l.DataShards)
	}
	files, shardSize, err := openShards(l, present)
	if err != nil {
		return fmt.Errorf("ec: decode %s: %w", datPath, err)
	}
	defer closeAll(files)
	d := int64(l.DataShards)
	if l.BlockSize == 0 && l.DatSize == 0 && shardSize%LargeBlockSize == 0 &&
		n > (shardSize/LargeBlockSize-1)*LargeBlockSize*d {
		return fmt.Errorf("ec: decode %s: shard size %d does not identify the block layout; re-encode to record the dat size in .vif", datPath, shardSize)
	}
	g := l.readGeometry(shardSize)
	if l.BlockSize > 0 && shardSize != l.BlockSize {
		return fmt.Errorf("%w: shards are %d bytes, uniform block size is %d", ErrShardSize, shardSize, l.BlockSize)
	}
	if n > d*shardSize {
		return fmt.Errorf("ec: decode %s: dat size %d exceeds the %d bytes the shards hold", datPath, n, d*shardSize)
	}
	var missingData []int
	for k := 0; k < l.DataShards; k++ {
		if files[k] == nil {
			missingData = append(missingData, k)
		}
	}
	return atomicfile.WriteWith(datPath, 0o644, func(out *os.File) error {
		if len(missingData) == 0 {
			return copyData(ctx, g, files, shardSize, n, out)
		}
		return reconstructData(ctx, l, g, files, have, missingData, shardSize, n, out)
	})
}

// copyData writes dat bytes [0, n) block by block from the data shards,
// sequentially into out.
func copyData(ctx context.Context, g geometry, files map[int]*os.File, shardSize, n int64, out *os.File) error {
	for _, ch := range g.plan(shardSize, max(g.large, g.small)) {
		for k := 0; k < g.d; k++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			at := ch.datOff + int64(k)*ch.stride
			if at >= n {
				return nil
			}
			m := min(ch.n, n-at)
			f := files[k]
			if _, err := f.Seek(ch.shardOff, io.SeekStart); err != nil {
				return err
			}
			w, err := out.ReadFrom(&io.LimitedReader{R: f, N: m})
			if w != m {
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
				return fmt.Errorf("ec: copy shard %d at %d: %w", k, ch.shardOff, err)
			}
		}
	}
	return nil
}

// reconstructData writes dat bytes [0, n) into out, rebuilding the data
// shards in missing from DataShards of the present ones.
func reconstructData(ctx context.Context, l Layout, g geometry, files map[int]*os.File, have, missing []int, shardSize, n int64, out *os.File) error {
	enc, err := reedsolomon.New(l.DataShards, l.ParityShards)
	if err != nil {
		return fmt.Errorf("ec: encoder: %w", err)
	}
	inputs := pickInputs(have, l.DataShards)
	isInput := make([]bool, l.Total())
	for _, id := range inputs {
		isInput[id] = true
	}
	required := make([]bool, l.Total())
	for _, id := range missing {
		required[id] = true
	}
	var plan []chunk
	for _, ch := range g.plan(shardSize, DefaultBufferSize) {
		if ch.datOff < n {
			plan = append(plan, ch)
		}
	}
	dataIDs := seqIDs(l.DataShards)
	p := pass{
		total: l.Total(), c: DefaultBufferSize, sets: pipelineSets,
		fill: readInputs(files, inputs),
		compute: func(s *bufSet) error {
			if err := reconstructSet(enc, s, isInput, required); err != nil {
				return fmt.Errorf("ec: reconstruct data shards %v: %w", missing, err)
			}
			return nil
		},
		drain: func(s *bufSet) error {
			return parallel(dataIDs, func(k int) error {
				at := s.ch.datOff + int64(k)*s.ch.stride
				if at >= n {
					return nil
				}
				b := s.view[k][:min(s.ch.n, n-at)]
				if _, err := out.WriteAt(b, at); err != nil {
					return fmt.Errorf("ec: write dat at %d: %w", at, err)
				}
				return nil
			})
		},
	}
	if err := p.run(ctx, plan); err != nil {
		return err
	}
	return out.Truncate(n)
}
