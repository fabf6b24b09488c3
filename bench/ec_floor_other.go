//go:build !linux

package main

import "os"

// directWriteFlag: no direct I/O flag here; the floor's writes go through
// the page cache and its fsync.
const directWriteFlag = 0

// startWriteback is a no-op here: the fsync does all the writeback.
func startWriteback(*os.File, int64, int64) {}

// adviseSequentialRead is a no-op where posix_fadvise is not available.
func adviseSequentialRead(*os.File) {}
