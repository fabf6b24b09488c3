package mmapidx

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sizeFor ties a size to an offset so that readers can detect a torn
// (offset, size) pair.
func sizeFor(offset uint64) int32 { return int32(offset%1000) + 1 }

// TestConcurrentReaders runs lock-free readers against one writer and a
// goroutine that persists, and checks that every read is a state the
// writer produced: present keys stay present, offsets of a key never go
// back, sizes match their offsets.
func TestConcurrentReaders(t *testing.T) {
	for _, w := range widths {
		t.Run(fmt.Sprint(w), func(t *testing.T) { testConcurrent(t, w, false) })
	}
	// Rows never reach the .idx: every Persist fails and folds its frozen
	// delta back while readers run.
	t.Run("failing-persist", func(t *testing.T) { testConcurrent(t, Offset4, true) })
}

func testConcurrent(t *testing.T, width int, failPersist bool) {
	const (
		nKeys   = 2000
		nOps    = 20000
		readers = 4
	)
	v := newVol(t, width)
	var rows []row
	for k := uint64(1); k <= nKeys; k++ {
		rows = append(rows, row{k, 1, sizeFor(1)})
	}
	v.writeIdx(rows)
	ix := v.open()
	defer ix.Close()
	ref := refOf(rows, width)

	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, readers+2)
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			last := make([]uint64, nKeys+1)
			var lastMetrics Metrics
			for i := 0; !stop.Load(); i++ {
				k := 1 + rng.Uint64N(nKeys)
				off, size, ok := ix.Get(k)
				if !ok {
					errs <- fmt.Errorf("key %d vanished", k)
					return
				}
				if off < last[k] {
					errs <- fmt.Errorf("key %d went back from offset %d to %d", k, last[k], off)
					return
				}
				last[k] = off
				if s := sizeFor(off); size != s && size != -s {
					errs <- fmt.Errorf("key %d: torn read: offset %d size %d", k, off, size)
					return
				}
				if _, _, ok := ix.Get(nKeys + 1 + k); ok && k%2 == 0 {
					errs <- fmt.Errorf("key %d never written, found", nKeys+1+k)
					return
				}
				if i%512 == 0 {
					m := ix.Metrics()
					if m.FileCount < lastMetrics.FileCount || m.DeletionCount > m.FileCount {
						errs <- fmt.Errorf("metrics %+v after %+v", m, lastMetrics)
						return
					}
					lastMetrics = m
				}
				if i%4096 == 0 {
					prev, n := uint64(0), 0
					ix.Ascend(func(k, off uint64, size int32) bool {
						if n > 0 && k <= prev {
							errs <- fmt.Errorf("Ascend: %d after %d", k, prev)
							return false
						}
						prev = k
						n++
						return true
					})
					if n < nKeys {
						errs <- fmt.Errorf("Ascend saw %d keys", n)
						return
					}
				}
			}
		}()
	}
	var persists atomic.Int64
	persisted := make(chan struct{}) // closed after the first Persist (or its failure, as meant)
	wg.Add(1)
	go func() { // persister, alongside the writer
		defer wg.Done()
		for !stop.Load() {
			err := ix.Persist()
			if err != nil && !failPersist {
				errs <- fmt.Errorf("Persist: %v", err)
				return
			}
			if (err != nil) == failPersist {
				if persists.Add(1) == 1 {
					close(persisted)
				}
			}
		}
	}()

	f, err := os.OpenFile(v.idx, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(99, 1))
	next := uint64(2)
	var buf []byte
	for i := 0; i < nOps; i++ {
		k := 1 + rng.Uint64N(nKeys)
		buf = buf[:0]
		if rng.IntN(4) == 0 {
			buf = appendIdxEntry(buf, width, k, 0, -1)
			if !failPersist {
				f.Write(buf)
			}
			if got, want := ix.Delete(k), ref.apply(k, 0, -1); got != want {
				t.Fatalf("Delete(%d) = %d, want %d", k, got, want)
			}
		} else {
			off := next
			next++
			buf = appendIdxEntry(buf, width, k, off, sizeFor(off))
			if !failPersist {
				f.Write(buf)
			}
			ix.Put(k, off, sizeFor(off))
			ref.apply(k, off, sizeFor(off))
		}
		if len(errs) > 0 {
			break
		}
	}
	// the writes may all be done before the persister got its first turn:
	// wait for it rather than hope the scheduler interleaved them
	select {
	case <-persisted:
	case <-time.After(30 * time.Second):
		t.Error("no Persist ran (or failed, as meant) within 30s")
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if persists.Load() == 0 {
		t.Fatal("no Persist ran (or failed, as meant) during the writes")
	}
	check(t, ix, ref)
}

// TestCloseWithReaders closes an index under running readers: Close waits
// for them to leave the mapping, and they then find nothing.
func TestCloseWithReaders(t *testing.T) {
	v := newVol(t, Offset4)
	var rows []row
	for k := uint64(1); k <= 5000; k++ {
		rows = append(rows, row{k, k, 1})
	}
	v.writeIdx(rows)
	ix := v.open()
	var wg sync.WaitGroup
	var started sync.WaitGroup
	for r := range 4 {
		wg.Add(1)
		started.Add(1)
		go func() {
			defer wg.Done()
			once := false
			for i := uint64(r); ; i++ {
				_, _, ok := ix.Get(1 + i%5000)
				if !once {
					started.Done()
					once = true
				}
				if !ok {
					return
				}
				if i%100 == 0 {
					ix.Ascend(func(uint64, uint64, int32) bool { return true })
				}
			}
		}()
	}
	started.Wait()
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

// TestRandomized drives random operations, reopening, persisting, losing
// the .wvx and simulating crashes in the middle, against the reference.
func TestRandomized(t *testing.T) {
	defer func(s bool) { syncFiles = s }(syncFiles)
	syncFiles = false
	for _, w := range widths {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("w%d/seed%d", w, seed), func(t *testing.T) {
				testRandomized(t, w, seed, 6000)
			})
		}
	}
}

func testRandomized(t *testing.T, width int, seed uint64, ops int) {
	rng := rand.New(rand.NewPCG(seed, 42))
	v := newVol(t, width)
	ref := newRef()
	ix := v.open()
	var abandoned []*Index
	defer func() {
		ix.Close()
		for _, a := range abandoned {
			a.Close()
		}
	}()
	keySpace := uint64(50 + rng.IntN(800))
	randKey := func() uint64 {
		if rng.IntN(50) == 0 {
			return rng.Uint64() // sparse, far keys
		}
		return rng.Uint64N(keySpace)
	}
	randOff := func() uint64 {
		switch rng.IntN(10) {
		case 0:
			return 0
		case 1:
			return rng.Uint64() // beyond the width: masked
		default:
			return 1 + rng.Uint64N(1<<40-1)
		}
	}
	randSize := func() int32 {
		switch rng.IntN(12) {
		case 0:
			return 0
		case 1:
			return -1
		case 2:
			return -rng.Int32N(1000)
		default:
			return rng.Int32N(1 << 20)
		}
	}
	for i := range ops {
		switch p := rng.IntN(1000); {
		case p < 600:
			v.put(ix, ref, row{randKey(), randOff(), randSize()})
		case p < 900:
			v.del(ix, ref, randKey())
		case p < 930:
			if err := ix.Persist(); err != nil {
				t.Fatal(err)
			}
		case p < 950:
			if err := ix.Close(); err != nil {
				t.Fatal(err)
			}
			ix = v.open()
			if ix.OpenInfo().Rebuilt {
				t.Fatalf("op %d: reopen rebuilt: %s", i, ix.OpenInfo().Reason)
			}
		case p < 960: // crash: rows reach the .idx, the index dies
			for range rng.IntN(20) {
				e := row{randKey(), randOff(), randSize()}
				v.appendIdx(e)
				ref.apply(e.key, e.offset&offsetMask(width), e.size)
			}
			abandoned = append(abandoned, ix)
			ix = v.open()
		case p < 965: // a torn write at the crash
			abandoned = append(abandoned, ix)
			v.appendRaw([]byte{1, 2, 3})
			ix = v.open()
			os.Truncate(v.idx, ix.IdxSize())
		case p < 970:
			ix.Close()
			Remove(v.idx)
			ix = v.open()
			if !ix.OpenInfo().Rebuilt {
				t.Fatal("open after Remove did not rebuild")
			}
		case p < 975: // corrupt .wvx
			ix.Close()
			if b, err := os.ReadFile(v.wvx()); err == nil && len(b) > 0 {
				b[rng.IntN(min(len(b), headerSize))] ^= byte(1 + rng.IntN(255))
				os.WriteFile(v.wvx(), b, 0o644)
			}
			ix = v.open()
			if !ix.OpenInfo().Rebuilt {
				t.Fatal("open of a corrupt .wvx header did not rebuild")
			}
		default:
			check(t, ix, ref)
		}
		if ix.IdxSize() != fileSize(t, v.idx) {
			t.Fatalf("op %d: IdxSize %d, .idx %d", i, ix.IdxSize(), fileSize(t, v.idx))
		}
	}
	check(t, ix, ref)
	if err := ix.Verify(); err != nil {
		t.Fatal(err)
	}
}
