//go:build linux

package ec

import (
	"bytes"
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

// TestReadCached: a range in the page cache is read without waiting, its
// bytes are the file's, the reader keeps no reference to the buffer, and a
// closed file is a plain false.
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
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var r cachedReader
	r.bind()
	p := make([]byte, 4096)
	for _, off := range []int64{8192, 0, 1<<20 - 4096} {
		if !r.read(rc, p, off) || !bytes.Equal(p, data[off:off+4096]) {
			t.Fatalf("the just-written range at %d was not read from the cache", off)
		}
		if r.iov[0] != nil {
			t.Fatal("the reader kept the caller's buffer")
		}
	}
	if r.read(rc, p, 1<<20-100) {
		t.Fatal("a range past the end of the file was read in full")
	}
	if r.read(nil, p, 0) || r.read(rc, nil, 0) {
		t.Fatal("no file or an empty buffer read as cached")
	}
	f.Close()
	if r.read(rc, p, 0) {
		t.Fatal("a closed file read as cached")
	}
}
