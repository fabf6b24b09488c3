package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFloorIO: the disk-alone step reads the whole file, writes and
// removes its outputs (direct or not), and fails on a missing input.
func TestFloorIO(t *testing.T) {
	dir := t.TempDir()
	dat := filepath.Join(dir, "floor.dat")
	const size = 10<<20 + 12345
	if err := os.WriteFile(dat, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	shard := int64((size + ecDataShards - 1) / ecDataShards)
	for _, outs := range []int{ecTotalShards, 1, 4} {
		d, err := floorIO(dat, size, shard, outs, dir)
		if err != nil || d <= 0 {
			t.Fatalf("%d outputs: %v, %v", outs, d, err)
		}
		left, _ := filepath.Glob(filepath.Join(dir, "out*"))
		if len(left) != 0 {
			t.Fatalf("%d outputs: left %v", outs, left)
		}
	}
	if _, err := floorIO(filepath.Join(dir, "missing"), size, shard, 1, dir); err == nil {
		t.Fatal("no error for a missing .dat")
	}
}
