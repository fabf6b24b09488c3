package engine

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	upmap "github.com/seaweedfs/seaweedfs/weed/storage/needle_map"
	uptypes "github.com/seaweedfs/seaweedfs/weed/storage/types"

	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/iouring"
)

func benchEngines(b *testing.B) map[string]iouring.Engine {
	out := map[string]iouring.Engine{"sync": iouring.NewSync()}
	if e, err := iouring.New("uring"); err == nil {
		out["uring"] = e
	}
	return out
}

// BenchmarkWrite appends needles of several sizes from parallel writers,
// the group-commit path.
func BenchmarkWrite(b *testing.B) {
	for name, io := range benchEngines(b) {
		for _, size := range []int{1 << 10, 16 << 10, 1 << 20} {
			b.Run(fmt.Sprintf("engine=%s/size=%d", name, size), func(b *testing.B) {
				v, err := OpenVolume(VolumeConfig{ID: 1, Dir: b.TempDir(), Create: true, IO: io, OffsetSize: 5})
				if err != nil {
					b.Fatal(err)
				}
				defer v.Close()
				data := make([]byte, size)
				var next uint64
				var mu = make(chan struct{}, 1)
				mu <- struct{}{}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						<-mu
						next++
						key := next
						mu <- struct{}{}
						n := needle.Needle{ID: key, Cookie: 1, Data: data}
						if _, err := v.Write(&n, WriteOptions{}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkRead reads random needles of a volume whose data is in the page
// cache, into a reused buffer.
func BenchmarkRead(b *testing.B) {
	for name, io := range benchEngines(b) {
		for _, size := range []int{1 << 10, 16 << 10, 1 << 20} {
			b.Run(fmt.Sprintf("engine=%s/size=%d", name, size), func(b *testing.B) {
				v, err := OpenVolume(VolumeConfig{ID: 1, Dir: b.TempDir(), Create: true, IO: io})
				if err != nil {
					b.Fatal(err)
				}
				defer v.Close()
				const count = 512
				data := make([]byte, size)
				for k := uint64(1); k <= count; k++ {
					if _, err := v.Write(&needle.Needle{ID: k, Cookie: 7, Data: data}, WriteOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					var buf []byte
					var n needle.Needle
					k := uint64(0)
					for pb.Next() {
						k = k*6364136223846793005 + 1442695040888963407
						var err error
						buf, err = v.Read(&n, k%count+1, 7, buf, ReadOptions{})
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// writeIdx writes an .idx of n live needles with 4-byte offsets, as a
// volume of n 1 KB needles would have.
func writeIdx(b *testing.B, path string, n int) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	format, _ := idx.FormatFor(4)
	buf := make([]byte, 0, 1<<20)
	for i := 1; i <= n; i++ {
		buf = format.AppendEntry(buf, idx.Entry{Key: uint64(i), Offset: int64(i) * 1048, Size: 1024})
		if len(buf) >= 1<<20-32 {
			f.Write(buf)
			buf = buf[:0]
		}
	}
	f.Write(buf)
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkOpenIndex opens a volume's index of 1M and 10M needles: the
// first open builds the memory-mapped snapshot, later ones map it. It
// reports the Go heap the open index holds per needle.
func BenchmarkOpenIndex(b *testing.B) {
	for _, n := range []int{1_000_000, 10_000_000} {
		if n > 1_000_000 && testing.Short() {
			continue
		}
		b.Run(fmt.Sprintf("needles=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			path := filepath.Join(dir, "1.idx")
			writeIdx(b, path, n)
			warm, err := openIndexForBench(path)
			if err != nil {
				b.Fatal(err)
			}
			warm.Close()
			before := heapInUse()
			b.ResetTimer()
			var last interface{ Close() error }
			for i := 0; i < b.N; i++ {
				if last != nil {
					last.Close()
				}
				ix, err := openIndexForBench(path)
				if err != nil {
					b.Fatal(err)
				}
				last = ix
			}
			b.StopTimer()
			after := heapInUse()
			b.ReportMetric(float64(after-min(before, after))/float64(n), "heapB/needle")
			last.Close()
		})
	}
}

// BenchmarkUpstreamCompactMapLoad loads the same .idx into upstream's
// in-memory needle map (its default -index=memory), for comparison.
func BenchmarkUpstreamCompactMapLoad(b *testing.B) {
	for _, n := range []int{1_000_000, 10_000_000} {
		if n > 1_000_000 && testing.Short() {
			continue
		}
		b.Run(fmt.Sprintf("needles=%d", n), func(b *testing.B) {
			if uptypes.OffsetSize != 4 {
				b.Skip("upstream built with 5-byte offsets")
			}
			path := filepath.Join(b.TempDir(), "1.idx")
			writeIdx(b, path, n)
			raw, err := os.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			before := heapInUse()
			b.ResetTimer()
			var m *upmap.CompactMap
			for i := 0; i < b.N; i++ {
				m = upmap.NewCompactMap()
				for p := 0; p+16 <= len(raw); p += 16 {
					key := uptypes.NeedleId(binary.BigEndian.Uint64(raw[p:]))
					off := uptypes.BytesToOffset(raw[p+8 : p+12])
					size := uptypes.Size(binary.BigEndian.Uint32(raw[p+12:]))
					m.Set(key, off, size)
				}
			}
			b.StopTimer()
			after := heapInUse()
			b.ReportMetric(float64(after-min(before, after))/float64(n), "heapB/needle")
			runtime.KeepAlive(m)
			runtime.KeepAlive(raw)
		})
	}
}
