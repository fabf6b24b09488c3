//go:build !unix

package ec

import (
	"io"
	"os"
)

// mapFile reads the first size bytes of f into memory, the stand-in for a
// mapping where mmap is not used. mapped is false: writes through f are not
// seen by data, so Index patches its copy itself.
func mapFile(f *os.File, size int) (data []byte, mapped bool, err error) {
	data = make([]byte, size)
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, int64(size)), data); err != nil {
		return nil, false, err
	}
	return data, false, nil
}

func unmapFile([]byte) error { return nil }
