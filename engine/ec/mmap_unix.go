//go:build unix

package ec

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps the first size bytes of f read-only and shared, so writes
// made through f (tombstones) are visible in the mapping. mapped reports
// whether data must be released with unmapFile.
func mapFile(f *os.File, size int) (data []byte, mapped bool, err error) {
	data, err = unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, false, os.NewSyscallError("mmap", err)
	}
	_ = unix.Madvise(data, unix.MADV_RANDOM)
	mappedBytes.Add(int64(len(data)))
	return data, true, nil
}

func unmapFile(data []byte) error {
	if err := unix.Munmap(data); err != nil {
		return os.NewSyscallError("munmap", err)
	}
	mappedBytes.Add(-int64(len(data)))
	return nil
}
