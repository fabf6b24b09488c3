//go:build !linux

package ec

import "os"

// startWriteback is a no-op where sync_file_range is not available; the
// final fsync does all the work.
func startWriteback(*os.File, int64, int64) {}

// adviseSequential is a no-op where posix_fadvise is not available.
func adviseSequential(*os.File) {}

const directAlign = 4096

// setDirect reports direct I/O as unavailable: shards are written through
// the page cache and the final fsync makes them durable.
func setDirect(*os.File, bool) bool { return false }
