package engine

import (
	"testing"

	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/iouring"
)

// TestGroupCommitStatsCountBatches writes from concurrent writers to a real
// volume and checks that the batch-size histogram accounts for every
// append exactly once, in batches no larger than the writers.
func TestGroupCommitStatsCountBatches(t *testing.T) {
	v := newVolume(t, t.TempDir(), iouring.NewSync(), needle.Version3, 4)
	defer v.Close()
	before := GroupCommitStats()
	const writers, per = 8, 50
	writeConcurrently(t, writers, per, func(_ int, key uint64) error {
		n := needle.Needle{ID: key, Cookie: 1, Data: []byte("group commit")}
		_, err := v.Write(&n, WriteOptions{})
		return err
	})
	after := GroupCommitStats()
	batches, appends := after.Batches-before.Batches, after.Appends-before.Appends
	if appends != writers*per {
		t.Errorf("%d appends counted, want %d", appends, writers*per)
	}
	if batches < 1 || batches > appends {
		t.Errorf("%d batches for %d appends", batches, appends)
	}
	var inBuckets uint64
	for i := range after.Counts {
		d := after.Counts[i] - before.Counts[i]
		inBuckets += d
		if i > 0 && GroupCommitBuckets[i-1] >= writers && d > 0 {
			t.Errorf("%d batches larger than %d with %d writers", d, GroupCommitBuckets[i-1], writers)
		}
	}
	if inBuckets != batches {
		t.Errorf("buckets hold %d batches, want %d", inBuckets, batches)
	}
}
