package engine

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/weedvol/weedvol/engine/needle"
)

// BenchmarkIdleVolumeHeap opens a store of many small volumes (10 needles
// each) and reports the heap each open, idle volume holds (heap-B/volume)
// and the time to open the store (ns/op), opened in full and cold.
func BenchmarkIdleVolumeHeap(b *testing.B) {
	const volumes = 1000
	dir := b.TempDir()
	for id := uint32(1); id <= volumes; id++ {
		v, err := OpenVolume(VolumeConfig{ID: id, Dir: dir, Create: true})
		if err != nil {
			b.Fatal(err)
		}
		for key := uint64(1); key <= 10; key++ {
			n := needle.Needle{ID: key, Cookie: 1, Data: []byte("sixteen bytes..!")}
			if _, err := v.Write(&n, WriteOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		if err := v.Close(); err != nil {
			b.Fatal(err)
		}
	}
	for _, cold := range []bool{false, true} {
		name := "full"
		if cold {
			name = "cold"
		}
		b.Run(name, func(b *testing.B) { benchStoreOpen(b, dir, volumes, cold) })
	}
}

// benchStoreOpen opens the store of dir b.N times: in full (no volume
// summary) or cold (from the summary the previous Close wrote).
func benchStoreOpen(b *testing.B, dir string, volumes int, cold bool) {
	var perVolume float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if !cold {
			os.Remove(filepath.Join(dir, SummaryFile))
		} else if _, err := os.Stat(filepath.Join(dir, SummaryFile)); err != nil {
			s, err := OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: dir, MaxVolumes: volumes}}})
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
		b.StartTimer()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s, err := OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: dir, MaxVolumes: volumes}}})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perVolume = float64(after.HeapAlloc-before.HeapAlloc) / float64(volumes)
		b.StopTimer()
		if !cold {
			s.Close()
		} else if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(perVolume, "heap-B/volume")
}
