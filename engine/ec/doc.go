// Package ec implements the erasure-coding file formats and algorithms of
// the pinned upstream SeaweedFS volume server, interchangeable both ways
// with upstream's files: shard files (<base>.ec00 ..), the sorted index
// (.ecx), the deletion journal (.ecj) and the bitrot sidecar (.ecsum).
//
// The package knows nothing of the Store, gRPC or HTTP: it takes paths and
// returns results. (Crash story: see below, filled in as pieces land.)
package ec
