package engine

import (
	"errors"
	"testing"

	"github.com/weedvol/weedvol/engine/needle"
)

// TestLookupFollowsCompaction: a request that fetched the volume before a
// compaction's commit and looks a needle up after it finds the needle in
// the compacted volume (it used to answer 404 for a live needle), and an
// offset call on the replaced volume fails instead of reading new files.
func TestLookupFollowsCompaction(t *testing.T) {
	dir := t.TempDir()
	old := newVolume(t, dir, nil, needle.Version3, 4)
	for k := uint64(1); k <= 20; k++ {
		mustWrite(t, old, k, 7, []byte("payload of a needle that moves"))
	}
	for k := uint64(1); k <= 10; k++ {
		if _, err := old.Delete(k, 7, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	before, _, _ := old.Lookup(15)
	if err := old.Compact(nil); err != nil {
		t.Fatal(err)
	}
	nv, err := old.CommitCompact()
	if err != nil {
		t.Fatal(err)
	}
	defer nv.Close()
	if nv == old {
		t.Fatal("commit returned the same volume")
	}
	off, size, ok := old.Lookup(15)
	if !ok || size <= 0 {
		t.Fatalf("live needle 15 not found through the replaced volume: %v %d", ok, size)
	}
	if noff, _, _ := nv.Lookup(15); noff != off || off == before {
		t.Fatalf("offset %d, want the compacted volume's %d (before: %d)", off, noff, before)
	}
	if _, _, ok := old.Lookup(3); ok {
		if _, sz, _ := old.Lookup(3); sz > 0 {
			t.Fatal("deleted needle 3 live after compaction")
		}
	}
	if _, err := old.ReadAt(make([]byte, 8), off); !errors.Is(err, ErrClosed) {
		t.Fatalf("ReadAt on the replaced volume: %v, want ErrClosed", err)
	}
}
