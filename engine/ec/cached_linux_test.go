//go:build linux

package ec

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// dropFileCache evicts path's clean pages from the page cache.
func dropFileCache(t testing.TB, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
}

// TestReadCached: a range in the page cache is read without waiting, and
// its bytes are the file's.
func TestReadCached(t *testing.T) {
	path := t.TempDir() + "/f"
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := make([]byte, 4096)
	if !readCached(f, p, 8192) || p[1] != data[8193] {
		t.Fatal("a just-written range was not read from the cache")
	}
}
