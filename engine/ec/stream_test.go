package ec

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestStreamReaders: the fill stage's readers each get their own file of
// the .dat's inode, and all fall back to the caller's file when the name
// now holds another file; either way they read the caller's bytes.
func TestStreamReaders(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "1.dat")
	orig := bytes.Repeat([]byte("original"), 2048)
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	dat, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer dat.Close()
	for _, tc := range []struct {
		name     string
		replace  bool
		ownFiles bool
	}{{"same file", false, true}, {"name replaced", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.replace {
				other := filepath.Join(dir, "other")
				if err := os.WriteFile(other, bytes.Repeat([]byte("replaced"), 1024), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(other, path); err != nil {
					t.Fatal(err)
				}
			}
			rds, closeAll := streamReaders(dat, 3, int64(len(orig)))
			defer closeAll()
			want, _ := dat.Stat()
			for k, r := range rds {
				if own := r.f != dat; own != tc.ownFiles {
					t.Fatalf("reader %d: own file %v, want %v", k, own, tc.ownFiles)
				}
				fi, err := r.f.Stat()
				if err != nil || !os.SameFile(fi, want) {
					t.Fatalf("reader %d reads another file (%v)", k, err)
				}
				p := make([]byte, 4096)
				if err := r.read(p, int64(k)*4096); err != nil || !bytes.Equal(p, orig[k*4096:(k+1)*4096]) {
					t.Fatalf("reader %d: %v", k, err)
				}
			}
		})
	}
}
