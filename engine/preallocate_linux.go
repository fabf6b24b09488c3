package engine

import (
	"os"

	"golang.org/x/sys/unix"
)

// preallocate reserves size bytes for f without changing its length.
// Failure is harmless (the space is then allocated as the file grows).
func preallocate(f *os.File, size int64) {
	_ = unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, size)
}
