//go:build !unix

package mmapidx

import (
	"io"
	"os"
)

// mapFile reads the first size bytes of f into memory: the portable stand-in
// for a mapping on platforms without mmap support here.
func mapFile(f *os.File, size int) (data []byte, mapped bool, err error) {
	data = make([]byte, size)
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, int64(size)), data); err != nil {
		return nil, false, err
	}
	return data, false, nil
}

func unmapFile([]byte) error { return nil }

func adviseRandom([]byte) {}

func adviseSequential([]byte) {}
