package engine

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/weedvol/weedvol/engine/needle"
)

func payload(key uint64, round int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("%d/%d;", key, round)), int(key%7)*40+3)
}

// TestCompactCommit compacts a volume with overwrites and deletes while a
// writer keeps appending, then checks every acknowledged write survives the
// swap, deleted needles stay deleted, the old Volume forwards to the new
// one, and the result reopens clean.
func TestCompactCommit(t *testing.T) {
	for name, io := range engines(t) {
		for _, ver := range []needle.Version{needle.Version2, needle.Version3} {
			t.Run(fmt.Sprintf("%s/v%d", name, ver), func(t *testing.T) {
				dir := t.TempDir()
				v := newVolume(t, dir, io, ver, 4)
				want := map[uint64][]byte{} // live needles and their data
				put := func(v *Volume, key uint64, data []byte) {
					t.Helper()
					n := needle.Needle{ID: key, Cookie: uint32(key), Data: data}
					if _, err := v.Write(&n, WriteOptions{}); err != nil {
						t.Fatalf("write %d: %v", key, err)
					}
					want[key] = data
				}
				del := func(v *Volume, key uint64) {
					t.Helper()
					if _, err := v.Delete(key, uint32(key), WriteOptions{}); err != nil {
						t.Fatalf("delete %d: %v", key, err)
					}
					delete(want, key)
				}
				for key := uint64(1); key <= 60; key++ {
					put(v, key, payload(key, 0))
				}
				for key := uint64(2); key <= 60; key += 2 {
					del(v, key)
				}
				for key := uint64(1); key <= 20; key += 4 {
					put(v, key, payload(key, 1))
				}
				before := v.Size()
				rev := v.SuperBlock().CompactionRevision

				// a writer appends throughout both phases
				var acked sync.Map
				var stop atomic.Bool
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					for key := uint64(1000); !stop.Load(); key++ {
						n := needle.Needle{ID: key, Cookie: uint32(key), Data: payload(key, 2)}
						if _, err := v.Write(&n, WriteOptions{}); err != nil {
							t.Errorf("concurrent write %d: %v", key, err)
							return
						}
						acked.Store(key, true)
					}
				}()

				scanned := int64(0)
				if err := v.Compact(func(n int64) bool { scanned = n; return true }); err != nil {
					t.Fatal(err)
				}
				if scanned == 0 {
					t.Fatalf("no progress reported")
				}
				// changes between the phases must reach the copy
				del(v, 3)
				put(v, 5, payload(5, 3))
				put(v, 200, payload(200, 0))

				nv, err := v.CommitCompact()
				if err != nil {
					t.Fatal(err)
				}
				stop.Store(true)
				wg.Wait()
				if nv == v || nv.SuperBlock().CompactionRevision != rev+1 || v.SuperBlock().CompactionRevision != rev+1 {
					t.Fatalf("revision %d (old pointer %d), want %d", nv.SuperBlock().CompactionRevision, v.SuperBlock().CompactionRevision, rev+1)
				}
				if _, err := os.Stat(v.FileName(".cpd")); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf(".cpd left behind: %v", err)
				}
				check := func(label string, v *Volume) {
					t.Helper()
					for key, data := range want {
						if got := mustRead(t, v, key, uint32(key)); !bytes.Equal(got, data) {
							t.Fatalf("%s: key %d: %d bytes, want %d", label, key, len(got), len(data))
						}
					}
					for key := uint64(2); key <= 60; key += 2 {
						var n needle.Needle
						if _, err := v.Read(&n, key, uint32(key), nil, ReadOptions{}); err == nil {
							t.Fatalf("%s: deleted key %d readable", label, key)
						}
					}
					var n needle.Needle
					if _, err := v.Read(&n, 3, 3, nil, ReadOptions{}); err == nil {
						t.Fatalf("%s: key 3, deleted between the phases, readable", label)
					}
					count := 0
					acked.Range(func(k, _ any) bool {
						key := k.(uint64)
						if got := mustRead(t, v, key, uint32(key)); !bytes.Equal(got, payload(key, 2)) {
							t.Fatalf("%s: acknowledged concurrent write %d lost", label, key)
						}
						count++
						return true
					})
					if count == 0 {
						t.Fatalf("the concurrent writer got nothing in")
					}
				}
				check("new volume", nv)
				check("old pointer", v)
				if nv.IsDamaged() {
					t.Fatalf("compacted volume marked damaged")
				}
				nv.Close()
				re := reopen(t, dir, io)
				defer re.Close()
				if re.IsDamaged() || re.SuperBlock().CompactionRevision != rev+1 {
					t.Fatalf("reopened: damaged %v, revision %d", re.IsDamaged(), re.SuperBlock().CompactionRevision)
				}
				check("reopened", re)
				_ = before
			})
		}
	}
}

func TestCompactShrinksAndCleanup(t *testing.T) {
	v := newVolume(t, t.TempDir(), engines(t)["sync"], needle.Version3, 4)
	defer v.Close()
	for key := uint64(1); key <= 20; key++ {
		mustWrite(t, v, key, 1, make([]byte, 4096))
	}
	for key := uint64(1); key <= 15; key++ {
		if _, err := v.Delete(key, 1, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.CommitCompact(); !errors.Is(err, ErrNotCompacted) {
		t.Fatalf("commit without compact: %v", err)
	}
	if err := v.Compact(nil); err != nil {
		t.Fatal(err)
	}
	if err := v.CleanupCompact(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(v.FileName(".cpd")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf(".cpd after cleanup: %v", err)
	}
	if _, err := v.CommitCompact(); !errors.Is(err, ErrNotCompacted) {
		t.Fatalf("commit after cleanup: %v", err)
	}
	before := v.Size()
	if err := v.Compact(nil); err != nil {
		t.Fatal(err)
	}
	nv, err := v.CommitCompact()
	if err != nil {
		t.Fatal(err)
	}
	if after := nv.Size(); after >= before/3 {
		t.Fatalf(".dat %d bytes after compaction, %d before", after, before)
	}
	if st := nv.Stats(); st.FileCount != 5 || st.DeleteCount != 0 {
		t.Fatalf("stats after compaction: %+v", st)
	}
	if err := v.Compact(func(int64) bool { return false }); err == nil {
		t.Fatalf("a stopped compaction reported success")
	}
}

// TestConcurrentVacuums runs compactions, commits and cleanups from
// several goroutines against writers and readers: no deadlock, no error
// but "nothing to commit", and every acknowledged write readable after.
func TestConcurrentVacuums(t *testing.T) {
	v := newVolume(t, t.TempDir(), engines(t)["sync"], needle.Version3, 4)
	var wg sync.WaitGroup
	var acked sync.Map
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 150; i++ {
				key := uint64(w*1000 + i + 1)
				n := needle.Needle{ID: key, Cookie: 1, Data: payload(key, 0)}
				if _, err := v.Write(&n, WriteOptions{}); err != nil {
					t.Errorf("write %d: %v", key, err)
					return
				}
				acked.Store(key, true)
				if i%3 == 0 {
					var r needle.Needle
					if _, err := v.Read(&r, key, 1, nil, ReadOptions{}); err != nil {
						t.Errorf("read own write %d: %v", key, err)
						return
					}
				}
			}
		}(w)
	}
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 8; i++ {
				if err := v.Compact(nil); err != nil {
					t.Errorf("compact: %v", err)
					return
				}
				if g == 1 && i%3 == 2 {
					v.CleanupCompact()
				}
				if _, err := v.CommitCompact(); err != nil && !errors.Is(err, ErrNotCompacted) {
					t.Errorf("commit: %v", err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	cur := v.current()
	defer cur.Close()
	acked.Range(func(k, _ any) bool {
		key := k.(uint64)
		if got := mustRead(t, cur, key, 1); !bytes.Equal(got, payload(key, 0)) {
			t.Fatalf("acknowledged write %d lost", key)
		}
		return true
	})
}

// TestCompactionInterruptedAtSwap reopens a volume whose commit stopped
// between moving the compacted .dat in and moving its index in, and one
// whose compaction never got to commit.
func TestCompactionInterruptedAtSwap(t *testing.T) {
	io := engines(t)["sync"]
	prepare := func(t *testing.T) (string, *Volume, uint16) {
		dir := t.TempDir()
		v := newVolume(t, dir, io, needle.Version3, 4)
		for key := uint64(1); key <= 10; key++ {
			mustWrite(t, v, key, 1, payload(key, 0))
		}
		for key := uint64(1); key <= 5; key++ {
			if _, err := v.Delete(key, 1, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		rev := v.SuperBlock().CompactionRevision
		if err := v.Compact(nil); err != nil {
			t.Fatal(err)
		}
		return dir, v, rev
	}
	checkLive := func(t *testing.T, v *Volume) {
		for key := uint64(6); key <= 10; key++ {
			if got := mustRead(t, v, key, 1); !bytes.Equal(got, payload(key, 0)) {
				t.Fatalf("key %d after reopen", key)
			}
		}
	}
	t.Run("after the .dat swap", func(t *testing.T) {
		dir, v, rev := prepare(t)
		cpd := v.FileName(".cpd")
		dat := v.FileName(".dat")
		v.Close()
		if err := os.Rename(cpd, dat); err != nil {
			t.Fatal(err)
		}
		re := reopen(t, dir, io)
		defer re.Close()
		if re.IsDamaged() || re.SuperBlock().CompactionRevision != rev+1 {
			t.Fatalf("damaged %v, revision %d, want %d", re.IsDamaged(), re.SuperBlock().CompactionRevision, rev+1)
		}
		checkLive(t, re)
		if _, err := os.Stat(re.FileName(".cpx")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf(".cpx left: %v", err)
		}
	})
	t.Run("before the swap", func(t *testing.T) {
		dir, v, rev := prepare(t)
		v.Close()
		re := reopen(t, dir, io)
		defer re.Close()
		if re.IsDamaged() || re.SuperBlock().CompactionRevision != rev {
			t.Fatalf("damaged %v, revision %d, want %d", re.IsDamaged(), re.SuperBlock().CompactionRevision, rev)
		}
		checkLive(t, re)
		if _, err := os.Stat(re.FileName(".cpd")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf(".cpd left: %v", err)
		}
	})
}
