package ec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/klauspost/reedsolomon"

	"github.com/weedvol/weedvol/engine/needle"
)

// ShardFetcher reads bytes [off, off+len(p)) of shard from a peer, for
// shards this node does not hold; it returns an error when no peer can
// serve them. A short count without an error is treated as a failure. It
// may be called concurrently; p is owned by the caller and valid only for
// the call.
type ShardFetcher func(ctx context.Context, shard int, off int64, p []byte) (int, error)

// VolumeConfig describes one EC volume to OpenVolume.
type VolumeConfig struct {
	ID          uint32
	Collection  string
	IndexBase   string // the .ecx/.ecj path without extension
	Layout      Layout
	OffsetWidth int // 4 or 5
	Version     int // needle version, from the .vif (or the .ec00 super block)
}

// ErrNotFound and ErrDeleted are the answers of ReadNeedle (and of callers
// of Lookup) for a key the .ecx has no row for, and for one that is deleted.
var (
	ErrNotFound = errors.New("ec: needle not found")
	ErrDeleted  = errors.New("ec: needle deleted")
)

// Volume is one EC volume on this node: some local shards, its .ecx
// (mapped) and its .ecj. All methods are safe for concurrent use.
//
// Deletes: the .ecj append (fsynced) is the commit point, then the .ecx row
// is tombstoned in place (not fsynced). Ids in the .ecj are also held in
// memory, so a delete whose tombstone did not reach the disk before a crash
// is still applied on the next open.
type Volume struct {
	cfg     VolumeConfig
	version needle.Version
	index   *Index
	journal *Journal

	mu     sync.RWMutex
	shards map[int]*os.File
	size   int64 // common length of the local shards; 0 with none
	// view is shards and size as one immutable snapshot for the read
	// path (no lock, no copy per read); republished under mu by every
	// change to shards.
	view atomic.Pointer[shardView]

	encOnce sync.Once
	enc     reedsolomon.Encoder
	encErr  error

	delMu   sync.RWMutex
	deleted map[uint64]struct{}
}

// OpenVolume opens the .ecx and .ecj (created if absent) of cfg. It holds
// no shards until AddShard.
func OpenVolume(cfg VolumeConfig) (*Volume, error) {
	if err := cfg.Layout.Validate(); err != nil {
		return nil, err
	}
	ver := needle.Version(cfg.Version)
	if !ver.Supported() {
		return nil, fmt.Errorf("ec: volume %d: unsupported needle version %d", cfg.ID, cfg.Version)
	}
	x, err := OpenIndex(cfg.IndexBase+".ecx", cfg.OffsetWidth)
	if err != nil {
		return nil, err
	}
	j, err := OpenJournal(cfg.IndexBase + ".ecj")
	if err != nil {
		x.Close()
		return nil, err
	}
	ids, err := ReadJournal(cfg.IndexBase + ".ecj")
	if err != nil {
		x.Close()
		j.Close()
		return nil, err
	}
	v := &Volume{cfg: cfg, version: ver, index: x, journal: j, shards: map[int]*os.File{}, deleted: make(map[uint64]struct{}, len(ids))}
	for _, id := range ids {
		v.deleted[id] = struct{}{}
	}
	v.publish()
	return v, nil
}

// Layout is the volume's layout.
func (v *Volume) Layout() Layout { return v.cfg.Layout }

// Index is the volume's open .ecx (owned by the Volume: do not Close it).
func (v *Volume) Index() *Index { return v.index }

// AddShard opens path as the local copy of shard. Its length must match
// the other local shards (and the uniform block size). Adding a shard
// already held replaces it.
func (v *Volume) AddShard(shard int, path string) error {
	if shard < 0 || shard >= v.cfg.Layout.Total() {
		return fmt.Errorf("ec: volume %d: shard id %d out of range", v.cfg.ID, shard)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("ec: volume %d: %w", v.cfg.ID, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("ec: volume %d: %w", v.cfg.ID, err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	others := 0
	for id := range v.shards {
		if id != shard {
			others++
		}
	}
	bs := v.cfg.Layout.BlockSize
	if (others > 0 && fi.Size() != v.size) || (bs > 0 && fi.Size() != bs && fi.Size() != 0) {
		f.Close()
		return fmt.Errorf("%w: volume %d shard %d %s is %d bytes, expected %d", ErrShardSize, v.cfg.ID, shard, path, fi.Size(), max(v.size, bs))
	}
	if old := v.shards[shard]; old != nil {
		old.Close()
	}
	v.shards[shard] = f
	v.size = fi.Size()
	v.publish()
	return nil
}

// RemoveShard closes and forgets the local shard; it does not delete the
// file. Reads in flight on it finish or fail with os.ErrClosed.
func (v *Volume) RemoveShard(shard int) (removed bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	f := v.shards[shard]
	if f == nil {
		return false
	}
	f.Close()
	delete(v.shards, shard)
	if len(v.shards) == 0 {
		v.size = 0
	}
	v.publish()
	return true
}

// ShardIDs lists the local shards in ascending order.
func (v *Volume) ShardIDs() []int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return sortedKeys(v.shards)
}

// ShardSize is the length of the local shard files; 0 with none. For a
// uniform volume with no local shard it is the block size.
func (v *Volume) ShardSize() int64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.size == 0 && v.cfg.Layout.BlockSize > 0 {
		return v.cfg.Layout.BlockSize
	}
	return v.size
}

// ReadShardAt reads a local shard; reading past its end returns io.EOF.
func (v *Volume) ReadShardAt(shard int, p []byte, off int64) (int, error) {
	v.mu.RLock()
	f := v.shards[shard]
	v.mu.RUnlock()
	if f == nil {
		return 0, fmt.Errorf("ec: volume %d: shard %d is not local", v.cfg.ID, shard)
	}
	return f.ReadAt(p, off)
}

func (v *Volume) isDeleted(key uint64) bool {
	v.delMu.RLock()
	defer v.delMu.RUnlock()
	_, ok := v.deleted[key]
	return ok
}

// Lookup finds key in the .ecx: the byte offset of its record in the .dat
// and its size, the tombstone (negative) when deleted in the .ecx or the
// .ecj. ok is false when the .ecx has no row for key.
func (v *Volume) Lookup(key uint64) (offset int64, size int32, ok bool) {
	offset, size, ok = v.index.Lookup(key)
	if ok && v.isDeleted(key) {
		size = tombstone
	}
	return
}

// Delete deletes key: it appends key to the .ecj (fsynced: the commit
// point) and then tombstones its .ecx row in place. found is false (and
// nothing is written) when the .ecx has no row for key. Deleting a deleted
// key writes nothing and reports found.
func (v *Volume) Delete(key uint64) (found bool, err error) {
	_, size, ok := v.index.Lookup(key)
	if !ok {
		return false, nil
	}
	v.delMu.Lock()
	defer v.delMu.Unlock()
	if _, done := v.deleted[key]; done {
		return true, nil
	}
	if size >= 0 {
		if err := v.journal.Append(key); err != nil {
			return true, err
		}
		if _, err := v.index.MarkDeleted(key); err != nil {
			// The journal already records the delete; the next fold or
			// open applies it.
			v.deleted[key] = struct{}{}
			return true, err
		}
	}
	v.deleted[key] = struct{}{}
	return true, nil
}

// Counts is upstream's (file count, delete count): the number of .ecx rows
// and the number of distinct deleted ids this volume has journaled or
// found tombstoned while deleting.
func (v *Volume) Counts() (files, deleted uint64) {
	v.delMu.RLock()
	defer v.delMu.RUnlock()
	return uint64(v.index.Len()), uint64(len(v.deleted))
}

// Close closes the shards, the index and the journal.
func (v *Volume) Close() error {
	v.mu.Lock()
	for id, f := range v.shards {
		f.Close()
		delete(v.shards, id)
	}
	v.size = 0
	v.publish()
	v.mu.Unlock()
	err := v.index.Close()
	if jerr := v.journal.Close(); err == nil {
		err = jerr
	}
	return err
}

// shardView is one immutable snapshot of the local shards: files[id] is
// shard id's file, nil when it is not local (len(files) is the layout's
// total). A view is never modified once published; its files stay owned
// by the Volume, and a read on one that RemoveShard or Close closed since
// fails with os.ErrClosed.
type shardView struct {
	files []*os.File
	conns []syscall.RawConn // files[id]'s, for cachedReader; nil where files[id] is
	size  int64
}

// file is shard id's file in the view, nil when not local.
func (sv *shardView) file(id int) *os.File {
	if id < 0 || id >= len(sv.files) {
		return nil
	}
	return sv.files[id]
}

// publish replaces the view with one of the current shards; v.mu is held
// (or v is not yet shared).
func (v *Volume) publish() {
	n := v.cfg.Layout.Total()
	sv := &shardView{files: make([]*os.File, n), conns: make([]syscall.RawConn, n), size: v.size}
	for id, f := range v.shards {
		sv.files[id] = f
		if rc, err := f.SyscallConn(); err == nil {
			sv.conns[id] = rc
		}
	}
	v.view.Store(sv)
}
