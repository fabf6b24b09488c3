package engine

import (
	"runtime"
	"testing"

	"github.com/weedvol/weedvol/engine/needle"
)

// BenchmarkIdleVolumeHeap opens a store of many small volumes (10 needles
// each) and reports the heap each open, idle volume holds (heap-B/volume)
// and the time to open the store (ns/op, per store of b.N... per run).
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
	var perVolume float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s, err := OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: dir, MaxVolumes: volumes}}})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perVolume = float64(after.HeapAlloc-before.HeapAlloc) / volumes
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(perVolume, "heap-B/volume")
}
