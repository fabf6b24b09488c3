package ec

import (
	"context"
	"errors"
	"os"
	"sync"
)

var errNotYet = errors.New("ec: not yet implemented")

// ShardFetcher reads bytes [off, off+len(p)) of a shard this node does not
// hold. It returns an error when no peer can serve them.
type ShardFetcher func(ctx context.Context, shard int, off int64, p []byte) (int, error)

// VolumeConfig describes one EC volume to OpenVolume.
type VolumeConfig struct {
	ID          uint32
	Collection  string
	IndexBase   string // .ecx/.ecj path without extension
	Layout      Layout
	OffsetWidth int
	Version     int // needle version from the .vif / .ec00 super block
}

// ErrNotFound and ErrDeleted are ReadNeedle's answers for a key that has no
// row and for one that is deleted.
var (
	ErrNotFound = errors.New("ec: needle not found")
	ErrDeleted  = errors.New("ec: needle deleted")
)

// Volume is one EC volume on this node.
type Volume struct {
	mu     sync.RWMutex
	cfg    VolumeConfig
	shards map[int]*os.File
}

// OpenVolume opens the .ecx and .ecj of cfg.
func OpenVolume(cfg VolumeConfig) (*Volume, error) { return nil, errNotYet }

// AddShard adds a local shard file.
func (v *Volume) AddShard(shard int, path string) error { return errNotYet }

// RemoveShard closes and forgets a local shard.
func (v *Volume) RemoveShard(shard int) (removed bool) { return false }

// ShardIDs lists the local shards, ascending.
func (v *Volume) ShardIDs() []int { return nil }

// ShardSize is the length of the local shard files (0 with none).
func (v *Volume) ShardSize() int64 { return 0 }

// ReadShardAt reads a local shard.
func (v *Volume) ReadShardAt(shard int, p []byte, off int64) (int, error) { return 0, errNotYet }

// Lookup finds key in the index, applying journaled deletes.
func (v *Volume) Lookup(key uint64) (offset int64, size int32, ok bool) { return 0, 0, false }

// ReadNeedle returns the raw needle record of key.
func (v *Volume) ReadNeedle(ctx context.Context, key uint64, fetch ShardFetcher) ([]byte, error) {
	return nil, errNotYet
}

// Delete deletes key.
func (v *Volume) Delete(key uint64) (found bool, err error) { return false, errNotYet }

// Counts returns the file and delete counts.
func (v *Volume) Counts() (files, deleted uint64) { return 0, 0 }

// Close closes the volume.
func (v *Volume) Close() error { return nil }
