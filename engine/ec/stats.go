package ec

import "sync/atomic"

// mappedBytes is the size of the .ecx files this process has mapped now.
var mappedBytes atomic.Int64

// MappedBytes reports how many bytes of .ecx indexes are memory-mapped at
// this moment (0 where they are read into memory instead).
func MappedBytes() int64 { return mappedBytes.Load() }

// reconstructed counts shard intervals read by reconstruction from the
// other shards, by outcome (success: the reconstruction produced data; the
// needle is checked afterwards).
var reconstructed [2]atomic.Uint64

func countReconstructed(ok bool) {
	i := 0
	if ok {
		i = 1
	}
	reconstructed[i].Add(1)
}

// Reconstructed reports how many shard intervals degraded reads have
// reconstructed, and how many reconstructions failed.
func Reconstructed() (succeeded, failed uint64) {
	return reconstructed[1].Load(), reconstructed[0].Load()
}
