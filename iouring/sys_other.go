//go:build !linux && !darwin

package iouring

import (
	"errors"
	"os"
)

// iovMax bounds the buffers handed to one pwritev call.
const iovMax = 1024

func fdatasync(f *os.File, _ int) error {
	err := f.Sync()
	if pe := (*os.PathError)(nil); errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// pwritev is not used here: WriteVAt writes buffer by buffer.
func pwritev(int, [][]byte, int64) (int, error) { return 0, errors.ErrUnsupported }
