package ec

import (
	"math/bits"
	"sync"
)

// recoverScratch is the working memory of one recover: the slab its
// inputs are read into (DataShards ranges of the piece's size), the
// shards table ReconstructSome takes, the required flags, and the reader
// of page-cache-only ranges.
//
// Ownership: a scratch belongs to one recover call from getScratch to put.
// Nothing outside that call ever holds a slice of it: the parallel reads
// recover starts have all returned before it goes on, fetchers write into
// their buffer only before returning (ShardFetcher), and the reconstructed
// range is in the caller's p (written there by ReconstructSome, or copied)
// before put. put clears every reference the tables hold, so a pooled
// scratch keeps neither a caller's buffer nor a peer's bytes alive; the
// slab's bytes are stale and every input range is filled in full before
// it is used.
type recoverScratch struct {
	class    int // index into scratchPools; -1 when not pooled
	slab     []byte
	shards   [MaxShards][]byte
	required [MaxShards]bool
	cached   cachedReader
}

// Slabs are pooled in power-of-two classes from 1<<minScratchShift (a 10+4
// read of a 4 KB needle takes 40 KB, in the 64 KB class) to
// 1<<maxScratchShift; a larger one (a piece of a big needle over many
// data shards) is allocated for the call and left to the collector.
const (
	minScratchShift = 14
	maxScratchShift = 24
)

var scratchPools [maxScratchShift - minScratchShift + 1]sync.Pool

// scratchClass is the pool index for a slab of n bytes, -1 past the
// largest class.
func scratchClass(n int64) int {
	if n <= 1<<minScratchShift {
		return 0
	}
	c := bits.Len64(uint64(n-1)) - minScratchShift
	if c >= len(scratchPools) {
		return -1
	}
	return c
}

// getScratch returns a scratch whose slab holds at least n bytes.
func getScratch(n int64) *recoverScratch {
	c := scratchClass(n)
	if c >= 0 {
		if sc, ok := scratchPools[c].Get().(*recoverScratch); ok {
			return sc
		}
		n = 1 << (c + minScratchShift)
	}
	sc := &recoverScratch{class: c, slab: make([]byte, n)}
	sc.cached.bind()
	return sc
}

// put clears the tables and returns sc to its pool; sc must not be used
// after.
func (sc *recoverScratch) put() {
	clear(sc.shards[:])
	clear(sc.required[:])
	if sc.class >= 0 {
		scratchPools[sc.class].Put(sc)
	}
}
