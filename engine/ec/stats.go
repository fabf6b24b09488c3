package ec

import "sync/atomic"

// mappedBytes is the size of the .ecx files this process has mapped now.
var mappedBytes atomic.Int64

// MappedBytes reports how many bytes of .ecx indexes are memory-mapped at
// this moment (0 where they are read into memory instead).
func MappedBytes() int64 { return mappedBytes.Load() }
