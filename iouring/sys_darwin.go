package iouring

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// iovMax is the most iovecs one pwritev takes (IOV_MAX).
const iovMax = 1024

// fdatasync is os.File.Sync, which on darwin is F_FULLFSYNC: fsync alone
// does not reach stable storage there.
func fdatasync(f *os.File, _ int) error {
	err := f.Sync()
	if pe := (*os.PathError)(nil); errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func pwritev(fd int, bufs [][]byte, off int64) (int, error) {
	for {
		n, err := unix.Pwritev(fd, bufs, off)
		if err != unix.EINTR {
			return n, err
		}
	}
}
