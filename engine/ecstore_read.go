package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/weedvol/weedvol/engine/ec"
	"github.com/weedvol/weedvol/engine/needle"
)

// errNoPeers: a read needs a shard that is not local and no EcPeers is
// installed.
var errNoPeers = errors.New("ec shard is not on this node")

// EcReadShard reads local shard bytes (VolumeEcShardRead); ErrEcNotFound
// when the shard is not mounted here. io.EOF at the end of the shard.
func (s *Store) EcReadShard(vid uint32, shard int, p []byte, off int64) (int, error) {
	ev := s.ecGet(vid)
	if ev == nil {
		return 0, ErrEcNotFound
	}
	ev.mu.RLock()
	defer ev.mu.RUnlock()
	if _, ok := ev.shards[shard]; !ok {
		return 0, ErrEcNotFound
	}
	return ev.vol.ReadShardAt(shard, p, off)
}

// EcLookup finds key in the .ecx of vid: size is the tombstone for a
// deleted needle.
func (s *Store) EcLookup(vid uint32, key uint64) (off int64, size int32, ok bool, err error) {
	ev := s.ecGet(vid)
	if ev == nil {
		return 0, 0, false, ErrEcNotFound
	}
	off, size, ok = ev.vol.Lookup(key)
	return off, size, ok, nil
}

// ecRemoteBudget bounds the remote part of one EC read: every fetch of
// the read must finish within it, counted from the read's first fetch.
// A read served from local shards sets no timer at all (a timer per read
// was a twentieth of the server's CPU under load).
const ecRemoteBudget = time.Minute

// ecFetch is the ec.ShardFetcher of one read of needle key on ev: through
// EcPeers, noting in deleted when a holder reports the needle deleted and
// in failed the shards no node could serve (failed may be nil). Its fetch
// may run concurrently.
type ecFetch struct {
	peers  EcPeers
	ev     *ecVol
	key    uint64
	failed *shardSet

	mu       sync.Mutex
	deadline time.Time // set by the first fetch
	deleted  bool
}

func (f *ecFetch) fetch(ctx context.Context, shard int, off int64, p []byte) (int, error) {
	if f.peers == nil {
		f.failed.add(shard)
		return 0, errNoPeers
	}
	f.mu.Lock()
	if f.deadline.IsZero() {
		f.deadline = time.Now().Add(ecRemoteBudget)
	}
	deadline := f.deadline
	f.mu.Unlock()
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	n, del, err := f.peers.FetchEcShard(ctx, f.ev.id, f.ev.collection, shard, off, p, f.key)
	if del {
		f.mu.Lock()
		f.deleted = true
		f.mu.Unlock()
		return 0, ErrDeleted
	}
	if err != nil {
		f.failed.add(shard)
	}
	return n, err
}

// wasDeleted reports whether a holder answered that the needle is deleted;
// call it after the read.
func (f *ecFetch) wasDeleted() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deleted
}

// shardSet collects shard ids; safe for concurrent use; nil ignores adds.
type shardSet struct {
	mu  sync.Mutex
	ids map[int]bool
}

func (f *shardSet) add(id int) {
	if f == nil {
		return
	}
	f.mu.Lock()
	if f.ids == nil {
		f.ids = map[int]bool{}
	}
	f.ids[id] = true
	f.mu.Unlock()
}

// EcRead reads needle key of EC volume vid into n as Volume.Read does,
// from local shards, from other nodes' through EcPeers, and reconstructed
// from parity when a data shard is unavailable. The returned record is
// freshly allocated and owned by the caller; n's slices alias it. The
// fetches from other nodes end at ctx's deadline or ecRemoteBudget after
// the first of them, whichever comes first.
func (s *Store) EcRead(ctx context.Context, vid uint32, n *needle.Needle, key uint64, cookie uint32, opts ReadOptions) ([]byte, error) {
	ev := s.ecGet(vid)
	if ev == nil {
		return nil, ErrEcNotFound
	}
	return s.ecRead(ctx, ev, n, key, cookie, opts, nil)
}

func (s *Store) ecRead(ctx context.Context, ev *ecVol, n *needle.Needle, key uint64, cookie uint32, opts ReadOptions, failed *shardSet) ([]byte, error) {
	off, size, ok := ev.vol.Lookup(key)
	if !ok || off == 0 && size <= 0 {
		return nil, ErrNotFound
	}
	if size < 0 {
		return nil, ErrDeleted
	}
	if size == 0 {
		*n = needle.Needle{ID: key, Cookie: cookie}
		return nil, nil
	}
	f := &ecFetch{peers: s.ecPeers(), ev: ev, key: key, failed: failed}
	rec, err := ev.vol.ReadNeedle(ctx, key, f.fetch)
	if f.wasDeleted() {
		return nil, ErrDeleted
	}
	if errors.Is(err, ec.ErrNotFound) {
		return nil, ErrNotFound
	}
	if errors.Is(err, ec.ErrDeleted) {
		return nil, ErrDeleted
	}
	if err != nil {
		return nil, fmt.Errorf("ec volume %d: read needle %x: %w", ev.id, key, err)
	}
	if err := n.Decode(rec, size, ev.version); err != nil {
		return rec, fmt.Errorf("ec volume %d: %w", ev.id, err)
	}
	if !opts.AnyCookie && n.Cookie != cookie {
		return rec, ErrCookieMismatch
	}
	if n.HasExpired(time.Now()) {
		return rec, ErrNotFound
	}
	return rec, nil
}

// EcDeleteNeedle marks key deleted in this node's .ecx and .ecj of vid
// (VolumeEcBlobDelete); found is false when it was absent or deleted.
func (s *Store) EcDeleteNeedle(vid uint32, key uint64) (found bool, err error) {
	ev := s.ecGet(vid)
	if ev == nil {
		return false, ErrEcNotFound
	}
	return ev.vol.Delete(key)
}

// cookieError is upstream's "unexpected cookie %x"; it is ErrCookieMismatch.
type cookieError uint32

func (c cookieError) Error() string        { return fmt.Sprintf("unexpected cookie %x", uint32(c)) }
func (c cookieError) Is(target error) bool { return target == ErrCookieMismatch }

// EcDelete is an HTTP delete of key on EC volume vid: the needle is read
// (its cookie must match unless cookie is 0), deleted here, and recorded
// deleted on the nodes holding its first shard (EcPeers), as upstream's
// DeleteEcShardNeedle. It returns the needle's size.
func (s *Store) EcDelete(ctx context.Context, vid uint32, key uint64, cookie uint32) (int32, error) {
	ev := s.ecGet(vid)
	if ev == nil {
		return 0, ErrEcNotFound
	}
	var n needle.Needle
	if _, err := s.ecRead(ctx, ev, &n, key, cookie, ReadOptions{AnyCookie: true}, nil); err != nil {
		return 0, err
	}
	if cookie != 0 && n.Cookie != cookie {
		return 0, cookieError(cookie)
	}
	off, size, _ := ev.vol.Lookup(key)
	if _, err := ev.vol.Delete(key); err != nil {
		return 0, err
	}
	if peers := s.ecPeers(); peers != nil {
		shard := 0
		if iv := ev.layout.Locate(ev.vol.ShardSize(), off, needle.ActualSize(size, ev.version)); len(iv) > 0 {
			shard = iv[0].Shard
		}
		if err := peers.DeleteEcBlob(ctx, ev.id, ev.collection, key, uint32(ev.version), shard); err != nil {
			return 0, err
		}
	}
	return size, nil
}
