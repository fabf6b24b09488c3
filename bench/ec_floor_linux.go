package main

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// directWriteFlag opens the disk floor's output files for direct I/O.
const directWriteFlag = syscall.O_DIRECT

// startWriteback starts the writeback of [off, off+n) of f without
// waiting (the fsync at the end waits).
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// adviseSequentialRead advises the kernel of one sequential pass over f.
func adviseSequentialRead(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_SEQUENTIAL)
}
