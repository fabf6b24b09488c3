//go:build !linux

package ec

import "syscall"

// cachedReader is unsupported here: read always answers false, and every
// read takes the usual way.
type cachedReader struct{}

func (*cachedReader) bind() {}

func (*cachedReader) read(syscall.RawConn, []byte, int64) bool { return false }
