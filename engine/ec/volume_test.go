package ec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	uec "github.com/seaweedfs/seaweedfs/weed/storage/erasure_coding"
	utypes "github.com/seaweedfs/seaweedfs/weed/storage/types"
)

// fileFetcher serves shards from files, except the dead ones.
func fileFetcher(base string, dead map[int]bool, calls *atomic.Int64) ShardFetcher {
	return func(ctx context.Context, shard int, off int64, p []byte) (int, error) {
		calls.Add(1)
		if dead[shard] {
			return 0, fmt.Errorf("no peer has shard %d", shard)
		}
		f, err := os.Open(ShardFileName(base, shard))
		if err != nil {
			return 0, err
		}
		defer f.Close()
		return f.ReadAt(p, off)
	}
}

func sortedLive(v *testVolume) []uint64 {
	keys := make([]uint64, 0, len(v.live))
	for k := range v.live {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func openTestVolume(t testing.TB, v *testVolume, res EncodeResult, local ...int) *Volume {
	t.Helper()
	vol, err := OpenVolume(VolumeConfig{ID: 1, IndexBase: v.base, Layout: res.Layout, OffsetWidth: v.width, Version: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range local {
		if err := vol.AddShard(id, ShardFileName(v.base, id)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { vol.Close() })
	return vol
}

func TestReadNeedleDegraded(t *testing.T) {
	dir := t.TempDir()
	v := genVolume(t, dir, "v", 29<<20+512, utypes.OffsetSize, 21)
	res := encodeTest(t, v, 10, 4)
	keys := sortedLive(v)
	cases := []struct {
		name  string
		local []int
		dead  []int
	}{
		{"all-local", seqIDs(14), nil},
		{"none-local", nil, nil},
		{"half-local", []int{0, 2, 4, 6, 8, 10, 12}, nil},
		{"1-dead", []int{1, 3}, []int{0}},
		{"2-dead", nil, []int{3, 7}},
		{"3-dead", []int{11, 12}, []int{1, 5, 9}},
		{"4-dead", []int{2}, []int{0, 4, 6, 8}},
		{"4-dead-parity-local", []int{10, 11, 12, 13}, []int{0, 1, 2, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vol := openTestVolume(t, v, res, c.local...)
			dead := map[int]bool{}
			for _, id := range c.dead {
				dead[id] = true
				vol.RemoveShard(id)
			}
			var calls atomic.Int64
			fetch := fileFetcher(v.base, dead, &calls)
			for _, k := range keys {
				got, err := vol.ReadNeedle(context.Background(), k, fetch)
				if err != nil {
					t.Fatalf("key %x: %v", k, err)
				}
				if !bytes.Equal(got, v.live[k]) {
					t.Fatalf("key %x: %d bytes differ from the record (%d bytes)", k, len(got), len(v.live[k]))
				}
			}
			if len(c.local) == 14 && calls.Load() != 0 {
				t.Fatalf("%d fetches with every shard local", calls.Load())
			}
		})
	}
	// Reconstruction from local shards that are not in the page cache (read
	// in parallel) or are broken (a spare local shard replaces them).
	t.Run("local-uncached-and-broken", func(t *testing.T) {
		local := seqIDs(14)[1:]
		vol := openTestVolume(t, v, res, local...)
		broken := filepath.Join(dir, "broken.ec05")
		// a copy, not a link: the cut below must not reach the real shard
		if err := os.WriteFile(broken, mustRead(t, ShardFileName(v.base, 5)), 0o644); err != nil {
			t.Fatal(err)
		}
		vol.RemoveShard(5)
		if err := vol.AddShard(5, broken); err != nil {
			t.Fatal(err)
		}
		// cut after the mount: reads of the open shard come back short
		if err := os.Truncate(broken, 5); err != nil {
			t.Fatal(err)
		}
		for _, id := range local {
			dropFileCache(t, ShardFileName(v.base, id))
		}
		var calls atomic.Int64
		fetch := fileFetcher(v.base, map[int]bool{0: true, 5: true}, &calls)
		for _, k := range keys {
			got, err := vol.ReadNeedle(context.Background(), k, fetch)
			if err != nil {
				t.Fatalf("key %x: %v", k, err)
			}
			if !bytes.Equal(got, v.live[k]) {
				t.Fatalf("key %x: %d bytes differ from the record", k, len(got))
			}
		}
	})
	t.Run("5-dead", func(t *testing.T) {
		vol := openTestVolume(t, v, res)
		var calls atomic.Int64
		fetch := fileFetcher(v.base, map[int]bool{0: true, 1: true, 2: true, 3: true, 4: true}, &calls)
		var failed int
		for _, k := range keys {
			if _, err := vol.ReadNeedle(context.Background(), k, fetch); err != nil {
				failed++
			}
		}
		if failed == 0 {
			t.Fatal("reads succeeded with 5 shards dead")
		}
		k := keys[0]
		_, err := vol.ReadNeedle(context.Background(), k, fetch)
		if err == nil || !strings.Contains(err.Error(), "shards readable; failures: [shard ") {
			t.Fatalf("key %x with 5 shards dead: %v, want the failed shards named", k, err)
		}
	})
	// Many degraded reads at once and in a row, of needles of every size
	// (so every scratch class, and the unpooled one, is taken and given
	// back many times), while a spare local shard is unmounted and mounted
	// again under them: every read is byte-identical to the record. With
	// -race this checks that no pooled slab or reader is shared.
	t.Run("concurrent-pooled", func(t *testing.T) {
		vol := openTestVolume(t, v, res, seqIDs(14)[1:]...)
		fetch := fileFetcher(v.base, map[int]bool{0: true}, new(atomic.Int64))
		stop := make(chan struct{})
		churned := make(chan error, 1)
		go func() {
			for {
				select {
				case <-stop:
					churned <- nil
					return
				default:
				}
				vol.RemoveShard(13)
				if err := vol.AddShard(13, ShardFileName(v.base, 13)); err != nil {
					churned <- err
					return
				}
			}
		}()
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for round := range 3 {
					for i := range keys {
						k := keys[(i*(g+1)+round*7)%len(keys)]
						got, err := vol.ReadNeedle(context.Background(), k, fetch)
						if err != nil {
							errs <- fmt.Errorf("key %x: %v", k, err)
							return
						}
						if !bytes.Equal(got, v.live[k]) {
							errs <- fmt.Errorf("key %x: %d bytes differ from the record", k, len(got))
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(stop)
		if err := <-churned; err != nil {
			t.Fatal(err)
		}
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	})
}

// TestScratchClass: a slab request is served from the smallest class that
// holds it, and one past the largest class is not pooled.
func TestScratchClass(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want int
	}{
		{1, 0}, {1 << minScratchShift, 0}, {1<<minScratchShift + 1, 1}, {40 << 10, 2},
		{64 << 10, 2}, {1 << maxScratchShift, maxScratchShift - minScratchShift}, {1<<maxScratchShift + 1, -1},
	} {
		if got := scratchClass(c.n); got != c.want {
			t.Errorf("scratchClass(%d) = %d, want %d", c.n, got, c.want)
		}
		sc := getScratch(c.n)
		if int64(len(sc.slab)) < c.n || sc.class != c.want {
			t.Errorf("getScratch(%d): slab %d, class %d", c.n, len(sc.slab), sc.class)
		}
		sc.shards[0], sc.required[0] = sc.slab, true
		sc.put()
		if sc.shards[0] != nil || sc.required[0] {
			t.Errorf("put left references in the scratch of %d", c.n)
		}
	}
}

func TestDeleteAndJournal(t *testing.T) {
	dir := t.TempDir()
	v := genVolume(t, dir, "7", 6<<20, utypes.OffsetSize, 31)
	res := encodeTest(t, v, 10, 4)
	keys := sortedLive(v)
	vol := openTestVolume(t, v, res, seqIDs(14)...)
	files, _ := vol.Counts()
	if files != uint64(len(keys)) {
		t.Fatalf("files %d, want %d", files, len(keys))
	}
	victims := []uint64{keys[0], keys[len(keys)/2], keys[len(keys)-1]}
	for _, k := range victims {
		for range 2 {
			found, err := vol.Delete(k)
			if err != nil || !found {
				t.Fatalf("delete %x: %v %v", k, found, err)
			}
		}
		if _, size, ok := vol.Lookup(k); !ok || size >= 0 {
			t.Fatalf("lookup after delete: %v %d", ok, size)
		}
		if _, err := vol.ReadNeedle(context.Background(), k, nil); !errors.Is(err, ErrDeleted) {
			t.Fatalf("read after delete: %v", err)
		}
	}
	if found, err := vol.Delete(1 << 60); found || err != nil {
		t.Fatalf("delete absent: %v %v", found, err)
	}
	if _, err := vol.ReadNeedle(context.Background(), 1<<60, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("read absent: %v", err)
	}
	if _, del := vol.Counts(); del != uint64(len(victims)) {
		t.Fatalf("deleted %d", del)
	}
	ids, err := ReadJournal(v.base + ".ecj")
	if err != nil || !slices.Equal(ids, victims) {
		t.Fatalf("journal %v %v", ids, err)
	}
	vol.Close()

	// Reopen: deletes persist.
	vol2 := openTestVolume(t, v, res)
	if _, del := vol2.Counts(); del != uint64(len(victims)) {
		t.Fatalf("after reopen deleted %d", del)
	}
	for _, k := range victims {
		if _, size, _ := vol2.Lookup(k); size >= 0 {
			t.Fatalf("reopen lookup %x size %d", k, size)
		}
	}
	vol2.Close()

	// Upstream opens our .ecx/.ecj and sees the deletes; its .idx from
	// them equals ours.
	ev, err := uec.NewEcVolume(utypes.HardDriveType, dir, dir, "", 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range victims {
		_, size, err := ev.FindNeedleFromEcx(utypes.NeedleId(k))
		if err != nil || !size.IsDeleted() {
			t.Fatalf("upstream lookup %x: %v %v", k, size, err)
		}
	}
	_, udel := ev.FileAndDeleteCount()
	ev.Close()
	if udel != uint64(len(victims)) {
		t.Fatalf("upstream delete count %d", udel)
	}
	ours := filepath.Join(dir, "ours.idx")
	if err := WriteIdxFromEcx(v.base+".ecx", v.base+".ecj", ours, v.width); err != nil {
		t.Fatal(err)
	}
	if err := uec.WriteIdxFileFromEcIndex(v.base); err != nil {
		t.Fatal(err)
	}
	sameFile(t, ours, v.base+".idx")
	live, err := HasLiveEntries(v.base+".ecx", v.base+".ecj", v.width)
	if err != nil || !live {
		t.Fatalf("live %v %v", live, err)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
}

func TestReadNeedleCustomRatio(t *testing.T) {
	dir := t.TempDir()
	v := genVolume(t, dir, "v", 11<<20+328, utypes.OffsetSize, 23)
	res := encodeTest(t, v, 6, 3)
	vol := openTestVolume(t, v, res, 1, 3, 6)
	var calls atomic.Int64
	fetch := fileFetcher(v.base, map[int]bool{0: true, 2: true, 5: true}, &calls)
	for k, rec := range v.live {
		got, err := vol.ReadNeedle(context.Background(), k, fetch)
		if err != nil || !bytes.Equal(got, rec) {
			t.Fatalf("key %x: %v", k, err)
		}
	}
	out := filepath.Join(dir, "d.dat")
	if err := DecodeDat(context.Background(), res.Layout, presentExcept(v.base, 9, 0, 2, 5), out); err != nil {
		t.Fatal(err)
	}
	sameFile(t, out, v.base+".dat")
}
