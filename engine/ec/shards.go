package ec

import (
	"fmt"
	"os"
	"slices"
)

// openShards opens the shard files of present (id -> path) read-only after
// checking the ids against l, and returns them with their common length.
// Shards of different lengths, or of length 0, are an ErrShardSize error
// naming them. The files are advised for one sequential pass (the callers
// are passes: rebuild, decode, scrub). The caller closes the files
// (closeAll).
func openShards(l Layout, present map[int]string) (map[int]*os.File, int64, error) {
	files := make(map[int]*os.File, len(present))
	size := int64(-1)
	var sizeOf = map[int]int64{}
	for _, id := range sortedKeys(present) {
		if id < 0 || id >= l.Total() {
			closeAll(files)
			return nil, 0, fmt.Errorf("ec: shard id %d out of range for %d+%d", id, l.DataShards, l.ParityShards)
		}
		f, err := os.Open(present[id])
		if err != nil {
			closeAll(files)
			return nil, 0, fmt.Errorf("ec: open shard %d: %w", id, err)
		}
		files[id] = f
		adviseSequential(f)
		fi, err := f.Stat()
		if err != nil {
			closeAll(files)
			return nil, 0, fmt.Errorf("ec: stat shard %d: %w", id, err)
		}
		sizeOf[id] = fi.Size()
		if size < 0 {
			size = fi.Size()
		}
	}
	for _, id := range sortedKeys(present) {
		if sizeOf[id] != size || size == 0 {
			closeAll(files)
			return nil, 0, fmt.Errorf("%w: shard sizes differ or are empty: %v", ErrShardSize, sizeOf)
		}
	}
	return files, size, nil
}

func closeAll(files map[int]*os.File) {
	for _, f := range files {
		f.Close()
	}
}

func sortedKeys[V any](m map[int]V) []int {
	ids := make([]int, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// readFull reads exactly len(p) bytes of f at off; a short read is an
// error naming the shard.
func readFull(f *os.File, shard int, p []byte, off int64) error {
	n, err := f.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil {
		err = fmt.Errorf("short read")
	}
	return fmt.Errorf("ec: read shard %d at %d (%d of %d bytes): %w", shard, off, n, len(p), err)
}

// pickInputs chooses the d shards a reconstruction reads: the lowest ids
// among present (data shards first, since they sort first).
func pickInputs(present []int, d int) []int {
	if len(present) < d {
		return nil
	}
	return present[:d]
}
