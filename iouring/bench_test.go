package iouring

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"
)

// Run with, e.g.:
//
//	go test -run '^$' -bench . -benchtime=2000x ./iouring/
//
// and compare engines with benchstat -col /Engine.
//
// Cached reads read a 64 MiB file read once beforehand, so it sits in the
// page cache. Uncached reads open the same file with O_DIRECT (Linux only;
// skipped elsewhere), so every read reaches the device; buffers and offsets
// are 4 KiB aligned as O_DIRECT requires. Appends extend a fresh file and
// start over (truncate, timer stopped) every 256 MiB.

const (
	benchFileSize = 64 << 20
	appendWrap    = 256 << 20
)

var benchDir struct {
	once sync.Once
	dir  string
	data string // path of the 64 MiB read file
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir.dir != "" {
		os.RemoveAll(benchDir.dir)
	}
	os.Exit(code)
}

// readFile returns the shared 64 MiB file, creating it on first use.
func readFile(b *testing.B) string {
	benchDir.once.Do(func() {
		dir, err := os.MkdirTemp("", "iouring-bench-")
		if err != nil {
			benchDir.err = err
			return
		}
		benchDir.dir = dir
		benchDir.data = filepath.Join(dir, "read.dat")
		chunk := pattern(1<<20, 42)
		f, err := os.Create(benchDir.data)
		if err != nil {
			benchDir.err = err
			return
		}
		for off := int64(0); off < benchFileSize; off += int64(len(chunk)) {
			if _, err := f.WriteAt(chunk, off); err != nil {
				benchDir.err = err
			}
		}
		if err := f.Sync(); err != nil {
			benchDir.err = err
		}
		f.Close()
	})
	if benchDir.err != nil {
		b.Fatal(benchDir.err)
	}
	return benchDir.data
}

// benchEngines returns the engines to compare: sync, uring when available,
// and auto with the production routes.
func benchEngines(b *testing.B) []Engine {
	out := []Engine{NewSync()}
	if e, err := New("uring"); err == nil {
		out = append(out, e)
	}
	auto, _ := New("auto")
	out = append(out, auto)
	b.Cleanup(func() {
		for _, e := range out {
			e.Close()
		}
	})
	return out
}

func openBench(b *testing.B, e Engine, path string, flag int) File {
	osf, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		b.Skipf("open %s: %v", path, err)
	}
	f, err := e.Open(osf)
	if err != nil {
		osf.Close()
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}

// aligned returns a size-byte buffer starting on a 4 KiB boundary.
func aligned(size int) []byte {
	buf := make([]byte, size+4096)
	skip := (4096 - int(uintptr(unsafe.Pointer(&buf[0]))%4096)) % 4096
	return buf[skip : skip+size]
}

var readSizes = []struct {
	name string
	size int
}{{"4KiB", 4 << 10}, {"64KiB", 64 << 10}}

var seeds atomic.Uint64

func benchRead(b *testing.B, flag int, parallel bool) {
	path := readFile(b)
	if flag&oDirect == 0 {
		// Prewarm: the whole file into the page cache.
		if _, err := os.ReadFile(path); err != nil {
			b.Fatal(err)
		}
	}
	for _, rs := range readSizes {
		for _, e := range benchEngines(b) {
			b.Run(fmt.Sprintf("size=%s/Engine=%s", rs.name, e.Name()), func(b *testing.B) {
				f := openBench(b, e, path, os.O_RDONLY|flag)
				slots := int64(benchFileSize / rs.size)
				read := func(rng *rand.Rand, p []byte) {
					off := rng.Int64N(slots) * int64(rs.size)
					if n, err := f.ReadAt(p, off); n != len(p) || err != nil {
						b.Errorf("ReadAt(%d) = %d, %v", off, n, err)
					}
				}
				b.SetBytes(int64(rs.size))
				b.ReportAllocs()
				if !parallel {
					rng := rand.New(rand.NewPCG(seeds.Add(1), 0))
					p := aligned(rs.size)
					b.ResetTimer()
					for b.Loop() {
						read(rng, p)
					}
					return
				}
				if flag&oDirect != 0 {
					b.SetParallelism(4) // 4 per CPU: let the device see a queue
				}
				b.RunParallel(func(pb *testing.PB) {
					rng := rand.New(rand.NewPCG(seeds.Add(1), 0))
					p := aligned(rs.size)
					for pb.Next() {
						read(rng, p)
					}
				})
			})
		}
	}
}

func BenchmarkReadCached(b *testing.B)           { benchRead(b, 0, false) }
func BenchmarkReadCachedParallel(b *testing.B)   { benchRead(b, 0, true) }
func BenchmarkReadUncached(b *testing.B)         { benchDirect(b, false) }
func BenchmarkReadUncachedParallel(b *testing.B) { benchDirect(b, true) }

func benchDirect(b *testing.B, parallel bool) {
	if oDirect == 0 {
		b.Skip("no O_DIRECT here")
	}
	benchRead(b, oDirect, parallel)
}

// benchAppend appends with op(f, off) (which returns the bytes it wrote)
// to a fresh file per engine.
func benchAppend(b *testing.B, bytesPerOp int64, op func(f File, off int64) (int64, error)) {
	for _, e := range benchEngines(b) {
		b.Run("Engine="+e.Name(), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "append.dat")
			f := openBench(b, e, path, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
			b.SetBytes(bytesPerOp)
			b.ReportAllocs()
			var off int64
			for b.Loop() {
				if off+bytesPerOp > appendWrap {
					b.StopTimer()
					if err := os.Truncate(path, 0); err != nil {
						b.Fatal(err)
					}
					off = 0
					b.StartTimer()
				}
				n, err := op(f, off)
				if err != nil {
					b.Fatal(err)
				}
				off += n
			}
		})
	}
}

func BenchmarkAppend1KiB(b *testing.B) {
	p := pattern(1<<10, 1)
	benchAppend(b, int64(len(p)), func(f File, off int64) (int64, error) {
		n, err := f.WriteAt(p, off)
		return int64(n), err
	})
}

func BenchmarkAppend1MiB(b *testing.B) {
	p := pattern(1<<20, 2)
	benchAppend(b, int64(len(p)), func(f File, off int64) (int64, error) {
		n, err := f.WriteAt(p, off)
		return int64(n), err
	})
}

func groupBufs() [][]byte {
	bufs := make([][]byte, 16)
	for i := range bufs {
		bufs[i] = pattern(1<<10, uint64(i))
	}
	return bufs
}

// BenchmarkWriteVAt16x1KiB is a group commit of 16 small needles.
func BenchmarkWriteVAt16x1KiB(b *testing.B) {
	bufs := groupBufs()
	benchAppend(b, 16<<10, func(f File, off int64) (int64, error) {
		return f.WriteVAt(bufs, off)
	})
}

// BenchmarkAppendSync4KiB is a durable append: WriteAt then Sync.
func BenchmarkAppendSync4KiB(b *testing.B) {
	p := pattern(4<<10, 3)
	benchAppend(b, int64(len(p)), func(f File, off int64) (int64, error) {
		n, err := f.WriteAt(p, off)
		if err != nil {
			return int64(n), err
		}
		return int64(n), f.Sync()
	})
}

// BenchmarkWriteVAtSync16x1KiB is a durable group commit: 16 needles and
// the flush, one linked submission on io_uring.
func BenchmarkWriteVAtSync16x1KiB(b *testing.B) {
	bufs := groupBufs()
	benchAppend(b, 16<<10, func(f File, off int64) (int64, error) {
		return WriteVAtSync(f, bufs, off)
	})
}
