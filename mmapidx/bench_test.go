package mmapidx

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestMain(m *testing.M) {
	// the tests' small fixtures exercise the .wvx file path;
	// TestSmallIndexInMemory covers the in-memory one
	smallIndexEntries = 0
	code := m.Run()
	if benchRoot != "" {
		os.RemoveAll(benchRoot)
	}
	os.Exit(code)
}

// benchRoot holds the generated volumes of one benchmark process.
var (
	benchRoot string
	benchMu   sync.Mutex
	benchVols = map[int]*benchVol{}
)

type benchVol struct {
	idx    string
	n      int      // .idx rows
	hits   []uint64 // present keys, shuffled (only for small volumes)
	misses []uint64 // absent keys inside the key range, shuffled
}

// benchVolume returns a volume of n .idx rows with a valid .wvx, generated
// once per process: increasing ids with gaps (as a master's sequencer
// hands them out) and one row in ten a tombstone of an earlier id.
func benchVolume(b *testing.B, n int) *benchVol {
	benchMu.Lock()
	defer benchMu.Unlock()
	if v := benchVols[n]; v != nil {
		return v
	}
	if n >= 10_000_000 && testing.Short() {
		b.Skip("10M-needle volume skipped in -short mode")
	}
	if benchRoot == "" {
		dir, err := os.MkdirTemp("", "mmapidx-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchRoot = dir
	}
	v := &benchVol{idx: filepath.Join(benchRoot, fmt.Sprintf("%d.idx", n)), n: n}
	f, err := os.Create(v.idx)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	keepKeys := n <= 1_000_000
	var buf []byte
	key, off := uint64(1000), uint64(1)
	var puts []uint64
	for i := 0; i < n; i++ {
		buf = buf[:0]
		if i%10 == 9 && len(puts) > 0 {
			buf = appendIdxEntry(buf, Offset4, puts[rng.IntN(len(puts))], off, -1)
		} else {
			gap := 1 + rng.Uint64N(4)
			if keepKeys && gap > 1 {
				v.misses = append(v.misses, key+1)
			}
			key += gap
			size := int32(100 + rng.IntN(10000))
			buf = appendIdxEntry(buf, Offset4, key, off, size)
			off += uint64(size+7) / 8
			if len(puts) < 1<<20 {
				puts = append(puts, key)
			} else {
				puts[rng.IntN(len(puts))] = key
			}
			if keepKeys {
				v.hits = append(v.hits, key)
			}
		}
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	rng.Shuffle(len(v.hits), func(i, j int) { v.hits[i], v.hits[j] = v.hits[j], v.hits[i] })
	rng.Shuffle(len(v.misses), func(i, j int) { v.misses[i], v.misses[j] = v.misses[j], v.misses[i] })
	ix, err := Open(v.idx, Offset4)
	if err != nil {
		b.Fatal(err)
	}
	ix.Close()
	benchVols[n] = v
	return v
}

func benchGet(b *testing.B, keys []uint64, wantOK bool) {
	v := benchVolume(b, 1_000_000)
	ix, err := Open(v.idx, Offset4)
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	mask := len(keys) - 1
	for mask&(mask+1) != 0 {
		mask >>= 1 // a power of two minus one
	}
	var seed atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7919))
		for pb.Next() {
			if _, _, ok := ix.Get(keys[i&mask]); ok != wantOK {
				panic("unexpected lookup result")
			}
			i++
		}
	})
}

// BenchmarkGet looks up random keys of a warm-opened 1M-row volume from
// all Ps (page cache warm after the first pass).
func BenchmarkGet(b *testing.B) {
	b.Run("hit", func(b *testing.B) { benchGet(b, benchVolume(b, 1_000_000).hits, true) })
	b.Run("miss", func(b *testing.B) { benchGet(b, benchVolume(b, 1_000_000).misses, false) })
	b.Run("delta-hit", func(b *testing.B) {
		dir := b.TempDir()
		idx := filepath.Join(dir, "1.idx")
		os.WriteFile(idx, nil, 0o644)
		ix, err := Open(idx, Offset4)
		if err != nil {
			b.Fatal(err)
		}
		defer ix.Close()
		const n = 1 << 16
		for k := uint64(1); k <= n; k++ {
			ix.Put(k*7, k, 1)
		}
		var seed atomic.Uint64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := seed.Add(7919)
			for pb.Next() {
				ix.Get((i%n + 1) * 7)
				i++
			}
		})
	})
}

// BenchmarkPut applies writes to the delta over a 1M-row base: new keys
// (delta insert, base miss) and overwrites of base keys.
func BenchmarkPut(b *testing.B) {
	v := benchVolume(b, 1_000_000)
	for _, mode := range []string{"new", "overwrite"} {
		b.Run(mode, func(b *testing.B) {
			ix, err := Open(v.idx, Offset4)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				key := uint64(1<<40 + i)
				if mode == "overwrite" {
					key = v.hits[i%len(v.hits)]
				}
				ix.Put(key, uint64(i+1), 100)
			}
			b.StopTimer()
			// The rows were never appended to the .idx, so Close's
			// Persist fails and leaves the volume's .wvx as it was.
			ix.Close()
		})
	}
}

// heapNow returns live heap bytes after a full collection.
func heapNow() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func totalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// BenchmarkOpen measures Open+Close of a volume: warm (valid .wvx, the
// normal start) and rebuild (no .wvx, the first start after upstream).
// heapB/needle is the heap the open index retains per map entry;
// allocB/needle is everything allocated while opening.
func BenchmarkOpen(b *testing.B) {
	for _, c := range []struct {
		n       int
		rebuild bool
	}{{1_000_000, false}, {10_000_000, false}, {1_000_000, true}, {10_000_000, true}} {
		name := fmt.Sprintf("warm-%dM", c.n/1_000_000)
		if c.rebuild {
			name = fmt.Sprintf("rebuild-%dM", c.n/1_000_000)
		}
		b.Run(name, func(b *testing.B) {
			v := benchVolume(b, c.n)
			open := func() *Index {
				ix, err := Open(v.idx, Offset4)
				if err != nil {
					b.Fatal(err)
				}
				if ix.OpenInfo().Rebuilt != c.rebuild {
					b.Fatalf("Rebuilt = %v: %s", ix.OpenInfo().Rebuilt, ix.OpenInfo().Reason)
				}
				return ix
			}
			// Memory, measured once, untimed.
			if c.rebuild {
				Remove(v.idx)
			}
			before, allocBefore := heapNow(), totalAlloc()
			ix := open()
			allocated := totalAlloc() - allocBefore
			retained := int64(heapNow()) - int64(before)
			needles := float64(ix.Len())
			ix.Close()

			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if c.rebuild {
					b.StopTimer()
					Remove(v.idx)
					b.StartTimer()
				}
				open().Close()
			}
			b.ReportMetric(float64(retained)/needles, "heapB/needle")
			b.ReportMetric(float64(allocated)/needles, "allocB/needle")
		})
	}
}
