//go:build unix

package engine

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// oNoFollow makes an open fail when the last element of the path is a
// symbolic link.
const oNoFollow = syscall.O_NOFOLLOW

// openRaw opens path as os.OpenFile does, minus what regular files do not
// need: os.OpenFile tries to register every file with the network poller
// (a failing epoll_ctl and two fcntl calls each, and more when Fd is
// called), which is most of the cost of opening thousands of volumes.
// A file from os.NewFile is a plain blocking descriptor.
func openRaw(path string, flag int, perm os.FileMode) (*os.File, error) {
	for {
		fd, err := unix.Open(path, flag|unix.O_CLOEXEC, uint32(perm.Perm()))
		if err == nil {
			return os.NewFile(uintptr(fd), path), nil
		}
		if !errors.Is(err, unix.EINTR) {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
	}
}
