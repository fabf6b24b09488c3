//go:build linux

package ec

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// cachedReader fills buffers from shard files only when all of the range
// is in the page cache (preadv2 with RWF_NOWAIT never waits for the disk).
// The descriptor is used through the file's syscall.RawConn, so a
// concurrent Close cannot hand its number to another file mid-read.
//
// It allocates nothing per read: the callback rc.Read takes is bound
// once (bind), and the arguments travel in its fields. Ownership: a
// cachedReader lives in a recoverScratch and is used only by the recover
// call holding it; it keeps no reference to a caller's buffer after read
// returns.
type cachedReader struct {
	fn  func(fd uintptr) bool // r.do, bound once
	iov [1][]byte
	off int64
	ok  bool
}

// bind sets up r for read; call it once, where r will stay (r.fn keeps
// r's address).
func (r *cachedReader) bind() { r.fn = r.do }

func (r *cachedReader) do(fd uintptr) bool {
	n, err := unix.Preadv2(int(fd), r.iov[:], r.off, unix.RWF_NOWAIT)
	r.ok = err == nil && n == len(r.iov[0])
	return true
}

// read fills p from rc at off; false means p holds nothing to use: not
// cached, only partly cached, or the kernel or file system does not
// support the flag (read it the usual way then). rc nil is false.
func (r *cachedReader) read(rc syscall.RawConn, p []byte, off int64) bool {
	if rc == nil || len(p) == 0 {
		return false
	}
	r.iov[0], r.off, r.ok = p, off, false
	err := rc.Read(r.fn)
	r.iov[0] = nil
	return err == nil && r.ok
}
