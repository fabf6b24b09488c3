//go:build linux

package ec

import (
	"os"

	"golang.org/x/sys/unix"
)

// readCached fills p from f at off only when all of it is in the page
// cache (preadv2 with RWF_NOWAIT never waits for the disk). false means p
// holds nothing to use: not cached, only partly cached, or the kernel or
// file system does not support the flag; read it the usual way then.
// The descriptor is used through SyscallConn, so a concurrent Close cannot
// hand its number to another file mid-read.
func readCached(f *os.File, p []byte, off int64) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	iov := [][]byte{p}
	_ = rc.Read(func(fd uintptr) bool {
		n, err := unix.Preadv2(int(fd), iov, off, unix.RWF_NOWAIT)
		ok = err == nil && n == len(p)
		return true
	})
	return ok
}
