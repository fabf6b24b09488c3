package engine

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/weedvol/weedvol/engine/ec"
	"github.com/weedvol/weedvol/engine/needle"
)

// shardPath is where mounted shard id of ev is. Caller holds ev.mu.
func (s *Store) shardPath(ev *ecVol, id int) string {
	return ec.ShardFileName(filepath.Join(s.locations[ev.shards[id]].Dir, BaseName(ev.collection, ev.id)), id)
}

// walkIndex calls fn for every row of ev's .ecx, with the deletes of the
// volume (journal included) applied to size. It maps the .ecx on its own
// for the walk.
func (ev *ecVol) walkIndex(fn func(key uint64, off int64, size int32) error) error {
	x, err := ec.OpenIndex(ev.idxBase+".ecx", ev.width)
	if err != nil {
		return err
	}
	defer x.Close()
	return x.Walk(func(key uint64, off int64, size int32) error {
		if _, cur, ok := ev.vol.Lookup(key); ok && cur < 0 {
			size = cur
		}
		return fn(key, off, size)
	})
}

// totalSize sums the sizes of ev's .ecx rows as upstream's
// VolumeEcShardsInfo does (a tombstone counts as its raw uint32).
func (ev *ecVol) totalSize() uint64 {
	var total uint64
	ev.walkIndex(func(_ uint64, _ int64, size int32) error {
		total += uint64(uint32(size))
		return nil
	})
	return total
}

// scrubIndex checks ev's .ecx: rows sorted by key and pointing inside the
// volume. It returns the rows checked and the problems found.
func (ev *ecVol) scrubIndex() (int64, []error) {
	x, err := ec.OpenIndex(ev.idxBase+".ecx", ev.width)
	if err != nil {
		return 0, []error{fmt.Errorf("ec volume %d: %w", ev.id, err)}
	}
	defer x.Close()
	var errs []error
	if err := x.Check(); err != nil {
		errs = append(errs, fmt.Errorf("ec volume %d: %w", ev.id, err))
	}
	limit := ev.layout.DatSize
	if limit <= 0 {
		limit = ev.vol.ShardSize() * int64(ev.layout.DataShards)
	}
	var rows int64
	x.Walk(func(key uint64, off int64, size int32) error {
		rows++
		if size > 0 && off+needle.ActualSize(size, ev.version) > limit {
			errs = append(errs, fmt.Errorf("ec volume %d needle %x: %d bytes at %d run past the volume's %d", ev.id, key, size, off, limit))
		}
		return nil
	})
	return rows, errs
}

// localShardSize is the length of the file of mounted shard id (-1 when
// it cannot be read). Caller holds ev.mu.
func (s *Store) localShardSize(ev *ecVol, id int) int64 {
	st, err := os.Stat(s.shardPath(ev, id))
	if err != nil {
		return -1
	}
	return st.Size()
}
