package ec

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/klauspost/reedsolomon"

	"github.com/weedvol/weedvol/engine/needle"
)

// ReadNeedle returns the raw record of key exactly as it sits in the .dat:
// header, body, checksum (and v3 timestamp) and padding,
// needle.ActualSize(size, version) bytes from the .ecx offset. The caller
// owns the returned buffer and parses it like a .dat record.
//
// Each piece is read from the local shard, else through fetch; when both
// fail for a data shard the piece is reconstructed from DataShards other
// shards, reading (locally or through fetch) only the same byte range of
// each. A missing row is ErrNotFound, a deleted one ErrDeleted; a piece
// that cannot be read or reconstructed is an error naming the shards that
// failed. fetch may be nil (local shards only).
func (v *Volume) ReadNeedle(ctx context.Context, key uint64, fetch ShardFetcher) ([]byte, error) {
	off, size, ok := v.Lookup(key)
	if !ok {
		return nil, ErrNotFound
	}
	if size < 0 {
		return nil, ErrDeleted
	}
	n := needle.ActualSize(size, v.version)
	view := v.view.Load()
	l := v.cfg.Layout
	shardSize := view.size
	if shardSize == 0 {
		shardSize = l.ShardSizeFor(l.DatSize)
	}
	ivs := l.Locate(shardSize, off, n)
	if ivs == nil {
		return nil, fmt.Errorf("ec: volume %d needle %x: %d bytes at %d lie outside the shards (shard size %d)", v.cfg.ID, key, n, off, shardSize)
	}
	buf := make([]byte, n)
	r := &rangeReader{v: v, local: view, fetch: fetch}
	pos := int64(0)
	for _, iv := range ivs {
		if err := r.read(ctx, iv, buf[pos:pos+iv.Size:pos+iv.Size]); err != nil {
			return nil, fmt.Errorf("ec: volume %d needle %x: %w", v.cfg.ID, key, err)
		}
		pos += iv.Size
	}
	return buf, nil
}

// rangeReader reads shard ranges for one ReadNeedle, remembering which
// shards failed so later pieces do not retry them. It is used by one
// goroutine (recover's parallel reads go through get, which touches no
// field that changes).
type rangeReader struct {
	v      *Volume
	local  *shardView
	fetch  ShardFetcher
	failed [MaxShards]error // by shard id: why it could not be read
}

// bad reports whether shard id failed earlier in this read.
func (r *rangeReader) bad(id int) bool { return r.failed[id] != nil }

// failures lists the failed shards and why, for an error message.
func (r *rangeReader) failures() string {
	var b strings.Builder
	for id, err := range r.failed {
		if err != nil {
			fmt.Fprintf(&b, " [shard %d: %v]", id, err)
		}
	}
	return b.String()
}

// get reads p from shard at off, locally or through fetch. It does not
// touch r.failed (callers may run it concurrently).
func (r *rangeReader) get(ctx context.Context, shard int, off int64, p []byte) error {
	var lerr error
	if f := r.local.file(shard); f != nil {
		if lerr = readFull(f, shard, p, off); lerr == nil {
			return nil
		}
	}
	if r.fetch == nil {
		if lerr == nil {
			lerr = fmt.Errorf("shard %d is not local and there is no fetcher", shard)
		}
		return lerr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	n, err := r.fetch(ctx, shard, off, p)
	if err == nil && n != len(p) {
		err = fmt.Errorf("fetch of shard %d at %d returned %d of %d bytes", shard, off, n, len(p))
	}
	if err != nil {
		return fmt.Errorf("shard %d: %w", shard, err)
	}
	return nil
}

func (r *rangeReader) read(ctx context.Context, iv Interval, p []byte) error {
	if !r.bad(iv.Shard) {
		err := r.get(ctx, iv.Shard, iv.Offset, p)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.failed[iv.Shard] = err
	}
	err := r.recover(ctx, iv, p)
	if ctx.Err() == nil {
		countReconstructed(err == nil)
	}
	return err
}

// recover reconstructs p (shard iv.Shard at iv.Offset) from DataShards
// other shards' bytes at the same range. Local shards come first: those
// whose range is in the page cache are read on the spot (no goroutine, no
// wait), the others in parallel; then fetched ones, in parallel batches of
// as many as are still needed. The inputs share one pooled slab
// (recoverScratch), so a degraded read of a small needle allocates
// almost nothing.
func (r *rangeReader) recover(ctx context.Context, iv Interval, p []byte) error {
	l := r.v.cfg.Layout
	enc, err := r.v.encoder()
	if err != nil {
		return err
	}
	sc := getScratch(int64(l.DataShards) * iv.Size)
	defer sc.put()
	shards := sc.shards[:l.Total()]
	slab := sc.slab
	next := func() []byte {
		b := slab[:iv.Size:iv.Size]
		slab = slab[iv.Size:]
		return b
	}
	have := 0
	var idBuf [2 * MaxShards]int
	localIDs, remote := idBuf[:0:MaxShards], idBuf[MaxShards:MaxShards]
	for id := 0; id < l.Total(); id++ {
		if r.bad(id) || id == iv.Shard {
			continue
		}
		if r.local.file(id) != nil {
			localIDs = append(localIDs, id)
		} else {
			remote = append(remote, id)
		}
	}
	var uncached []int
	for _, id := range localIDs {
		if have+len(uncached) == l.DataShards {
			remote = append(remote, id) // a spare, should one of those fail
			continue
		}
		b := next()
		shards[id] = b
		if sc.cached.read(r.local.conns[id], b, iv.Offset) {
			have++
			continue
		}
		uncached = append(uncached, id) // read below, with the other uncached ones
	}
	batch := func(ids []int) {
		bufs := make([][]byte, len(ids))
		errs := make([]error, len(ids))
		var wg sync.WaitGroup
		for i, id := range ids {
			if bufs[i] = shards[id]; bufs[i] == nil {
				bufs[i] = make([]byte, iv.Size)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = r.get(ctx, id, iv.Offset, bufs[i])
			}()
		}
		wg.Wait()
		for i, id := range ids {
			if errs[i] != nil {
				r.failed[id] = errs[i]
				shards[id] = nil
				continue
			}
			shards[id] = bufs[i]
			have++
		}
	}
	if len(uncached) > 0 {
		batch(uncached)
	}
	for have < l.DataShards && len(remote) > 0 && ctx.Err() == nil {
		ids := remote[:min(l.DataShards-have, len(remote))]
		remote = remote[len(ids):]
		batch(ids)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if have < l.DataShards {
		return fmt.Errorf("cannot reconstruct shard %d at %d+%d: %d of %d shards readable; failures:%s",
			iv.Shard, iv.Offset, iv.Size, have, l.DataShards, r.failures())
	}
	shards[iv.Shard] = p[:0]
	required := sc.required[:l.Total()]
	required[iv.Shard] = true
	if err := enc.ReconstructSome(shards, required); err != nil {
		return fmt.Errorf("reconstruct shard %d: %w", iv.Shard, err)
	}
	if got := shards[iv.Shard]; len(got) != len(p) || &got[0] != &p[0] {
		copy(p, got)
	}
	return nil
}

// encoder returns the volume's Reed-Solomon codec (created once; safe for
// concurrent use).
func (v *Volume) encoder() (reedsolomon.Encoder, error) {
	v.encOnce.Do(func() {
		v.enc, v.encErr = reedsolomon.New(v.cfg.Layout.DataShards, v.cfg.Layout.ParityShards)
	})
	return v.enc, v.encErr
}
