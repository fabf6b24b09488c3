package mmapidx

import "sync/atomic"

// mappedBytes is the size of the index files mapped by this process right
// now: mapFile adds what it maps, unmapFile takes it off again.
var mappedBytes atomic.Int64

// MappedBytes reports how many bytes of persisted indexes the process has
// memory-mapped at this moment (0 where indexes are read into memory
// instead of mapped).
func MappedBytes() int64 { return mappedBytes.Load() }
