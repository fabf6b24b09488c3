package engine

import (
	"context"
	"errors"
	"os"

	"github.com/weedvol/weedvol/engine/needle"
)

var errEcPending = errors.New("erasure coding: not yet implemented")

// SetEcPeers installs the way to reach other nodes' shards. Until it is
// called, reads need every shard they touch to be local.
func (s *Store) SetEcPeers(p EcPeers) {}

// EcGenerate encodes the local volume vid into shards, .ecx, .ecsum and
// the EC fields of its .vif beside it (upstream's VolumeEcShardsGenerate).
// The volume stays mounted; the shards are not mounted.
// Errors: "volume %d not found", "existing collection:%v unexpected input: %v".
func (s *Store) EcGenerate(ctx context.Context, vid uint32, collection string) error {
	return errEcPending
}

// EcRebuild regenerates the shards of vid missing on this node from the
// ones present in any of its directories, returning their ids (upstream's
// VolumeEcShardsRebuild). Nothing to rebuild from is not an error.
func (s *Store) EcRebuild(ctx context.Context, vid uint32, collection string) ([]uint32, error) {
	return nil, errEcPending
}

// EcMount mounts the given shards of vid, wherever on this node they are.
func (s *Store) EcMount(vid uint32, collection string, shards []uint32) error { return errEcPending }

// EcUnmount unmounts the given shards; an unmounted shard is no error.
func (s *Store) EcUnmount(vid uint32, shards []uint32) error { return errEcPending }

// EcDeleteShards removes the given shard files of vid from every
// directory; when no shard of vid remains on the node, also its .ecx,
// .ecj, .ecsum and (if no .idx) .vif (upstream's VolumeEcShardsDelete).
func (s *Store) EcDeleteShards(vid uint32, collection string, shards []uint32) error {
	return errEcPending
}

// EcTeardown unmounts vid and removes every EC file of it on every disk
// (VolumeEcShardsDelete with full_teardown).
func (s *Store) EcTeardown(vid uint32, collection string) error { return errEcPending }

// EcTarget picks the disk (index into Locations) that receives shards of
// vid: diskID when non-zero ("invalid disk_id %d: only have %d disks"),
// else the disk already holding the volume's shards or .ecx, else the
// first with room.
func (s *Store) EcTarget(vid uint32, collection string, diskID uint32, shards []uint32) (int, error) {
	return 0, errEcPending
}

// EcCreateFile starts receiving an EC file of vid on disk: ext is .ecNN,
// .ecx, .ecj, .vif or .ecsum (anything else is refused). A shard that is
// mounted is refused ("... is mounted"). The file replaces any old one
// only at Commit.
func (s *Store) EcCreateFile(disk int, vid uint32, collection, ext string) (*Incoming, error) {
	return nil, errEcPending
}

// EcMergeJournal adds ids to the .ecj of vid on disk, skipping ids
// already listed, and tombstones them in a mounted .ecx.
func (s *Store) EcMergeJournal(disk int, vid uint32, collection string, ids []uint64) error {
	return errEcPending
}

// EcOpenFile opens an EC file of vid for reading (CopyFile's source):
// ext as for EcCreateFile. os.ErrNotExist when no disk has it.
func (s *Store) EcOpenFile(vid uint32, collection, ext string) (*os.File, error) {
	return nil, os.ErrNotExist
}

// EcVolume reports the EC volume vid if any shard of it is mounted.
func (s *Store) EcVolume(vid uint32) (EcVolumeInfo, bool) { return EcVolumeInfo{}, false }

// EcVolumes reports every mounted EC volume, by ascending id.
func (s *Store) EcVolumes() []EcVolumeInfo { return nil }

// EcReadShard reads local shard bytes (VolumeEcShardRead); ErrEcNotFound
// when the shard is not mounted here. io.EOF at the end of the shard.
func (s *Store) EcReadShard(vid uint32, shard int, p []byte, off int64) (int, error) {
	return 0, ErrEcNotFound
}

// EcLookup finds key in the .ecx of vid: size is the tombstone for a
// deleted needle.
func (s *Store) EcLookup(vid uint32, key uint64) (off int64, size int32, ok bool, err error) {
	return 0, 0, false, ErrEcNotFound
}

// EcRead reads needle key of EC volume vid into n as Volume.Read does,
// from local shards, from other nodes' through EcPeers, and reconstructed
// from parity when a data shard is unavailable.
func (s *Store) EcRead(ctx context.Context, vid uint32, n *needle.Needle, key uint64, cookie uint32, opts ReadOptions) ([]byte, error) {
	return nil, ErrEcNotFound
}

// EcDeleteNeedle marks key deleted in this node's .ecx and .ecj of vid
// (VolumeEcBlobDelete); found is false when it was absent or deleted.
func (s *Store) EcDeleteNeedle(vid uint32, key uint64) (found bool, err error) {
	return false, ErrEcNotFound
}

// EcDelete is an HTTP delete of key on EC volume vid: the cookie is
// checked, the needle is deleted here and on every other node holding
// shards (EcPeers). It returns the needle's size as Volume.Delete does.
func (s *Store) EcDelete(ctx context.Context, vid uint32, key uint64, cookie uint32) (int32, error) {
	return 0, ErrEcNotFound
}

// EcToVolume decodes vid's local data shards back into a normal volume
// (.dat, .idx with the .ecj's deletes, .vif) and mounts it (upstream's
// VolumeEcShardsToVolume). Errors: "ec volume %d not found", "ec volume
// %d missing shard %d", ErrEcNoLiveEntries, ErrEcBusy.
func (s *Store) EcToVolume(ctx context.Context, vid uint32, collection string) error {
	return errEcPending
}

// EcScrub checks vid in the given mode.
func (s *Store) EcScrub(ctx context.Context, vid uint32, mode EcScrubMode, forceDeleted bool) (EcScrubReport, error) {
	return EcScrubReport{}, errEcPending
}
