//go:build linux

package ec

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to begin writing [off, off+n) of f to
// disk now, without waiting, so the fsync at the end of an encode or
// rebuild finds little left to do and disk writes overlap the encoding.
// Errors are ignored: the final fsync is what guarantees durability.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
