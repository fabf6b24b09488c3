//go:build unix

package engine

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lockDir takes an exclusive advisory lock (flock) on directory dir itself,
// so no file is added beside upstream's. It fails at once when another
// process, or another open store of this one, holds it. The lock lasts
// until the returned file is closed, or the process ends (a crash
// included: the kernel drops it).
func lockDir(dir string) (*os.File, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	for {
		err = unix.Flock(int(d.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		d.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("data directory %s is in use by another volume server: %w", dir, ErrDirLocked)
		}
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	return d, nil
}
