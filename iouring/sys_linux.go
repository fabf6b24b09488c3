package iouring

import (
	"os"

	"golang.org/x/sys/unix"
)

// iovMax is the most iovecs one pwritev or IORING_OP_WRITEV takes
// (UIO_MAXIOV).
const iovMax = 1024

func fdatasync(_ *os.File, fd int) error {
	for {
		err := unix.Fdatasync(fd)
		if err != unix.EINTR {
			return err
		}
	}
}

func pwritev(fd int, bufs [][]byte, off int64) (int, error) {
	for {
		n, err := unix.Pwritev(fd, bufs, off)
		if err != unix.EINTR {
			return n, err
		}
	}
}
