// Package ec implements the erasure-coding file formats and algorithms of
// the pinned upstream SeaweedFS volume server. Its files are
// interchangeable with upstream's in both directions: shard files
// (<base>.ec00 ..), the sorted index (.ecx), the deletion journal (.ecj)
// and the bitrot sidecar (.ecsum). The package knows nothing of the Store,
// gRPC or HTTP: it takes paths and returns results.
//
// # Formats
//
// Shards: DataShards data shards then ParityShards parity shards (default
// 10+4, at most 32 in all), Reed-Solomon with klauspost/reedsolomon's
// default matrix, so shards are byte-identical to upstream's. New volumes
// use the uniform layout (Layout.BlockSize > 0): data shard k is .dat bytes
// [k*B, (k+1)*B), zero padded, B = ceil(datSize/DataShards) rounded up to
// 1 MiB. Legacy volumes (BlockSize 0) use rows of 1 GiB blocks while a
// whole row fits, then rows of 1 MiB blocks; they are read, rebuilt and
// decoded but never written.
//
// .ecx: the live rows of the .idx (key 8 | offset 4 or 5, in 8-byte units |
// size 4, big-endian), one per key, ascending by key. A delete writes the
// tombstone size (0xFFFFFFFF) into the row in place. .ecj: 8-byte big-endian
// needle ids of deletes, appended. .ecsum: "ECSU" | version 1 | payload
// length | CRC32C(payload) | protobuf EcBitrotProtection with a CRC32C per
// 16 MiB block of every shard; generation 0 lives at <dataBase>.ecsum.
//
// The .vif is the caller's: write Layout.Apply's fields (ec_shard_config
// data/parity/block_size/encode_ts_ns and dat_file_size) after Encode
// returns, and read them back with LayoutFromInfo (LayoutFromSums when the
// .vif records no config).
//
// # Crash story
//
// Encode, in order: (1) removes the .ecx of both bases, then any .ecj,
// .ecsum and .ec00-.ec31 of them, and fsyncs the directories; (2) reads the
// .idx and builds the .ecx rows in memory (so the index never names data
// the shards lack: the .dat is measured after); (3) writes every shard to
// <shard>.tmp (with O_DIRECT where the file system takes it: the bytes go
// to the device without a page-cache copy, and the fsync of (4) then only
// flushes the file size and the device cache; it is not skipped); (4)
// fsyncs them, renames them to their final names, fsyncs
// the directory; (5) replaces the .ecsum atomically (tmp, fsync, rename,
// fsync dir); (6) replaces the .ecx the same way. A crash before (4)
// leaves only .tmp files (garbage: the next Encode or Rebuild of that
// shard removes them) and no .ecx. A crash in (4)-(5) leaves complete
// shards, perhaps only some renamed, and no .ecx. So an .ecx under its
// final name means every shard and the sidecar are complete and durable.
// An Encode that fails or is cancelled removes what it created.
//
// Rebuild writes each missing shard to <shard>.tmp, fsyncs all of them,
// and only then renames them to their final names and fsyncs the
// directory. A crash or error before the renames leaves no final name
// touched (only .tmp garbage, removed on error); after a crash during the
// renames some shards are published, each complete. A shard under its
// final name is never short.
//
// Delete (Volume.Delete) appends the id to the .ecj and fsyncs it (the
// commit point; a failed append is truncated away), then writes the
// tombstone into the .ecx row without fsync. After a crash before the
// fsync the delete may be lost (it was not acknowledged); after it, the id
// is in the .ecj, and OpenVolume applies every .ecj id on top of the .ecx
// whether or not the tombstone reached the disk, as upstream does. A torn
// .ecj tail (a crash mid-append) is cut back to whole records on open.
//
// DecodeDat and WriteIdxFromEcx replace their outputs atomically and
// durably (tmp, fsync, rename, fsync dir): a reader finds the old file or
// the complete new one.
//
// # Buffers and memory
//
// Encode, Rebuild, DecodeDat (when reconstructing) and VerifyParity run a
// three-stage pipeline (read, Reed-Solomon, write) with three sets of one
// buffer per shard, allocated once per call and handed from stage to
// stage, never shared: peak 3 * (data+parity) * BufferSize bytes (84 MiB
// for 10+4 at the 2 MiB default), plus, for Encode, the .ecx rows (16 or 17
// bytes per live needle) and 24 bytes per .idx row while sorting.
// ReadNeedle allocates the record it returns (owned by the caller) and,
// for a degraded read, one buffer per shard it reads for the piece.
package ec
