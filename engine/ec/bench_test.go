package ec

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	uec "github.com/seaweedfs/seaweedfs/weed/storage/erasure_coding"
	utypes "github.com/seaweedfs/seaweedfs/weed/storage/types"

	"github.com/weedvol/weedvol/engine/idx"
)

// benchDatSize is the .dat both implementations encode: 256 MiB + 8 KiB
// (not a multiple of the block size, so the last block is padded).
const benchDatSize = 256<<20 + 8192

// benchVolume writes a random .dat of benchDatSize bytes and an .idx of
// 4096 rows into dir as base "b".
//
// EC_BENCH_DIR, when set, is the parent directory to use instead of the
// test temp dir (e.g. /dev/shm, to measure the work without the disk).
func benchVolume(b *testing.B, dir string) string {
	b.Helper()
	if parent := os.Getenv("EC_BENCH_DIR"); parent != "" {
		d, err := os.MkdirTemp(parent, "ecbench")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(d) })
		dir = d
	}
	base := filepath.Join(dir, "b")
	r := rand.NewChaCha8([32]byte{1})
	data := make([]byte, benchDatSize)
	_, _ = r.Read(data)
	if err := os.WriteFile(base+".dat", data, 0o644); err != nil {
		b.Fatal(err)
	}
	f, _ := idx.FormatFor(utypes.OffsetSize)
	var rows []byte
	for i := 0; i < 4096; i++ {
		rows = f.AppendEntry(rows, idx.Entry{Key: uint64(i*7 + 1), Offset: 8 + int64(i)*65536, Size: 65000})
	}
	if err := os.WriteFile(base+".idx", rows, 0o644); err != nil {
		b.Fatal(err)
	}
	return base
}

func removeShards(base string) {
	for i := 0; i < 14; i++ {
		os.Remove(ShardFileName(base, i))
	}
	os.Remove(base + ".ecx")
	os.Remove(SumsPath(base, 0))
}

// BenchmarkEncode compares Encode (including its fsyncs of every shard and
// the .ecx) with upstream's WriteSortedFileFromIdx + WriteEcFiles +
// SaveBitrotSidecar (which do not fsync the shards) on the same .dat.
// MB/s is .dat bytes per second.
func BenchmarkEncode(b *testing.B) {
	dir := b.TempDir()
	base := benchVolume(b, dir)
	b.Run("ours", func(b *testing.B) {
		b.SetBytes(benchDatSize)
		for b.Loop() {
			if _, err := Encode(context.Background(), base+".dat", base+".idx", base, base, utypes.OffsetSize, EncodeOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		removeShards(base)
	})
	b.Run("upstream", func(b *testing.B) {
		b.SetBytes(benchDatSize)
		for b.Loop() {
			if err := uec.WriteSortedFileFromIdx(base, ".ecx"); err != nil {
				b.Fatal(err)
			}
			prot, err := uec.WriteEcFiles(base, uec.BackgroundECContext())
			if err != nil {
				b.Fatal(err)
			}
			if err := uec.SaveBitrotSidecar(uec.BitrotSidecarPath(base, 0), prot); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		removeShards(base)
	})
}

// BenchmarkRebuild regenerates 4 lost shards (two data, two parity) with
// Rebuild and with upstream's RebuildEcFiles (which checks the shards
// against the .ecsum first, reading every present shard twice). MB/s is
// .dat bytes per second.
func BenchmarkRebuild(b *testing.B) {
	dir := b.TempDir()
	base := benchVolume(b, dir)
	res, err := Encode(context.Background(), base+".dat", base+".idx", base, base, utypes.OffsetSize, EncodeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	lost := []int{1, 6, 10, 13}
	drop := func() {
		for _, id := range lost {
			os.Remove(ShardFileName(base, id))
		}
	}
	for _, mode := range []struct {
		name   string
		direct bool
	}{{"ours", false}, {"ours-direct", true}} {
		b.Run(mode.name, func(b *testing.B) {
			defer func(d bool) { directRebuild = d }(directRebuild)
			directRebuild = mode.direct
			b.SetBytes(benchDatSize)
			for b.Loop() {
				b.StopTimer()
				drop()
				b.StartTimer()
				if err := Rebuild(context.Background(), res.Layout, presentExcept(base, 14, lost...), lost, base); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("ours-sums", func(b *testing.B) {
		b.SetBytes(benchDatSize)
		for b.Loop() {
			b.StopTimer()
			drop()
			b.StartTimer()
			if err := RebuildWith(context.Background(), res.Layout, presentExcept(base, 14, lost...), lost, base, RebuildOptions{Sums: res.Sums}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("upstream", func(b *testing.B) {
		b.SetBytes(benchDatSize)
		ctx := &uec.ECContext{DataShards: 10, ParityShards: 4, BlockSize: res.Layout.BlockSize}
		for b.Loop() {
			b.StopTimer()
			drop()
			b.StartTimer()
			if _, err := uec.RebuildEcFiles(base, ctx, false); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncodeNoSync is BenchmarkEncode/ours without the shard fsyncs,
// the work upstream's WriteEcFiles does.
func BenchmarkEncodeNoSync(b *testing.B) {
	dir := b.TempDir()
	base := benchVolume(b, dir)
	syncShards = false
	defer func() { syncShards = true }()
	for _, bs := range []int{1 << 20, 2 << 20, 4 << 20} {
		b.Run(fmt.Sprintf("buf=%dMiB", bs>>20), func(b *testing.B) {
			b.SetBytes(benchDatSize)
			for b.Loop() {
				if _, err := Encode(context.Background(), base+".dat", base+".idx", base, base, utypes.OffsetSize, EncodeOptions{BufferSize: bs}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	removeShards(base)
}

// BenchmarkRecover4K reconstructs 4 KB ranges of data shard 0 from the 13
// other shards, local with a warm page cache: the degraded read of a small
// needle.
func BenchmarkRecover4K(b *testing.B) {
	v := genVolume(b, b.TempDir(), "v", 29<<20+512, utypes.OffsetSize, 5)
	res := encodeTest(b, v, 10, 4)
	vol := openTestVolume(b, v, res, seqIDs(14)[1:]...)
	view := vol.view.Load()
	shardSize := view.size
	for _, id := range vol.ShardIDs() {
		mustRead(b, ShardFileName(v.base, id)) // warm the page cache
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		p := make([]byte, 4096)
		off := int64(0)
		for pb.Next() {
			r := &rangeReader{v: vol, local: view}
			if err := r.recover(context.Background(), Interval{Shard: 0, Offset: off, Size: 4096}, p); err != nil {
				b.Fatal(err)
			}
			off = (off + 7*4096) % (shardSize - 4096)
		}
	})
}
