package engine

import "sync/atomic"

// GroupCommitBuckets are the upper bounds of the batch-size buckets of
// GroupCommitStats: a batch of n appends falls in the first bucket >= n,
// or in the overflow bucket past the last.
var GroupCommitBuckets = [...]uint64{1, 2, 4, 8, 16, 32, 64, 128, 256}

// CommitStats is a histogram of group-commit batch sizes: how many appends
// (writes and deletes) each commit wrote to a .dat with one vectored write.
// Counts[i] is the number of batches in bucket i (not cumulative); the
// last element counts the batches larger than every bound.
type CommitStats struct {
	Counts  [len(GroupCommitBuckets) + 1]uint64
	Batches uint64
	Appends uint64 // the sum of the batch sizes
}

type commitCounters struct {
	counts           [len(GroupCommitBuckets) + 1]atomic.Uint64
	batches, appends atomic.Uint64
}

// groupCommits counts every commit of the process.
var groupCommits commitCounters

func (c *commitCounters) observe(n int) {
	i := 0
	for i < len(GroupCommitBuckets) && uint64(n) > GroupCommitBuckets[i] {
		i++
	}
	c.counts[i].Add(1)
	c.batches.Add(1)
	c.appends.Add(uint64(n))
}

// GroupCommitStats returns the process's batch-size counts so far; each
// field is read atomically, not all of them as one snapshot.
func GroupCommitStats() CommitStats {
	var s CommitStats
	for i := range s.Counts {
		s.Counts[i] = groupCommits.counts[i].Load()
	}
	s.Batches, s.Appends = groupCommits.batches.Load(), groupCommits.appends.Load()
	return s
}
