package engine

import (
	"context"
	"errors"
)

// Erasure-coded volumes in the store.
//
// An EC volume of id V in collection C is, on this node, some of the
// shard files <dir>/C_V.ec00 .. .ecNN (in one or several data
// directories), its sorted index <idxdir>/C_V.ecx, the deletion journal
// C_V.ecj beside it, the C_V.vif with the layout (EcShardConfig) and
// optionally the bitrot sidecar C_V.ecsum. The formats and algorithms are
// in package engine/ec; this file is the store's side: which shards are
// mounted where, and the operations upstream's gRPC and HTTP handlers
// call. grpcsvc and httpfast only translate requests into these calls.
//
// Shards on this node that another node needs, and shards other nodes
// hold that this node needs, cross through EcPeers, which grpcsvc
// implements over gRPC; the engine makes no network calls itself.

// EcPeers reaches the shards of an EC volume held by other nodes.
type EcPeers interface {
	// FetchEcShard reads len(p) bytes (or fewer at the end of the shard)
	// at off of shard of volume vid from a node holding it, passing key
	// (0: none) as VolumeEcShardRead's file_key: deleted reports that the
	// holder has needle key deleted (and then n is 0). It fails when no
	// reachable node has the shard.
	FetchEcShard(ctx context.Context, vid uint32, collection string, shard int, off int64, p []byte, key uint64) (n int, deleted bool, err error)
	// DeleteEcBlob records needle key deleted on the other nodes that hold
	// shard (the needle's first data shard), falling back to the holders
	// of any other shard when none holds it: upstream's
	// VolumeEcBlobDelete, as its store_ec_delete.go sends it.
	DeleteEcBlob(ctx context.Context, vid uint32, collection string, key uint64, version uint32, shard int) error
}

// EcShardInfo describes one mounted shard.
type EcShardInfo struct {
	ID     int
	Size   int64
	DiskID int // index of its Location in Store.Locations()
}

// EcVolumeInfo is a snapshot of one EC volume on this node.
type EcVolumeInfo struct {
	ID          uint32
	Collection  string
	DiskType    string
	Shards      []EcShardInfo // ascending ID
	DataShards  int
	Parity      int
	BlockSize   int64 // 0: legacy two-tier layout
	DatSize     int64
	Version     uint32 // needle version
	ExpireAtSec uint64
	EncodeTsNs  int64
	// Index counts from the .ecx: every row, the deleted ones (tombstoned
	// in the .ecx or listed in the .ecj), and the sum of row sizes (only
	// from EcVolumeWithTotal).
	Files, Deleted, TotalSize uint64
}

// EC errors that handlers map to upstream's codes and texts.
var (
	// ErrEcNotFound: no EC volume (or no such shard) is mounted here.
	ErrEcNotFound = errors.New("ec volume not found")
	// ErrEcNoLiveEntries: decoding a volume whose every needle is deleted.
	ErrEcNoLiveEntries = errors.New("has no live entries")
	// ErrEcBusy: another decode of the volume is running.
	ErrEcBusy = errors.New("is already being decoded")
)

// EcScrubMode selects what EcScrub checks (upstream's VolumeScrubMode).
type EcScrubMode int

// The scrub modes EcScrub knows.
const (
	EcScrubIndex    EcScrubMode = iota + 1 // the .ecx: sorted, rows sane
	EcScrubLocal                           // the local shards: sizes, bitrot sums, needles whose bytes are local
	EcScrubFull                            // every needle, remote shards fetched through EcPeers
	EcScrubReads                           // as Full, intervals no shard serves reconstructed from parity
	EcScrubChecksum                        // the local shards against the .ecsum only
)

// EcScrubReport is what one EcScrub found.
type EcScrubReport struct {
	Files   int64         // needles checked
	Broken  []EcShardInfo // shards found damaged
	Details []error       // one per problem, upstream's texts
}
