//go:build unix

package mmapidx

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps the first size bytes of f read-only and shared. The mapping
// outlives f. mapped reports whether data must be released with unmapFile.
func mapFile(f *os.File, size int) (data []byte, mapped bool, err error) {
	data, err = unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, false, os.NewSyscallError("mmap", err)
	}
	mappedBytes.Add(int64(len(data)))
	return data, true, nil
}

// unmapFile releases a mapping made by mapFile.
func unmapFile(data []byte) error {
	if err := unix.Munmap(data); err != nil {
		return os.NewSyscallError("munmap", err)
	}
	mappedBytes.Add(-int64(len(data)))
	return nil
}

// adviseRandom tells the kernel that lookups touch pages at random, so it
// does not read ahead around every fault.
func adviseRandom(data []byte) { _ = unix.Madvise(data, unix.MADV_RANDOM) }

// adviseSequential tells the kernel a full scan follows.
func adviseSequential(data []byte) { _ = unix.Madvise(data, unix.MADV_SEQUENTIAL) }
