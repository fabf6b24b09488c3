package engine

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestStoreOpenUsesListing: OpenStore skips looking for files its
// directory listing did not show, and still acts on every file it did
// show: compaction leftovers are cleared, a missing .vif is written, a
// .wvx is used, an .idx beside the .dat wins over -dir.idx.
func TestStoreOpenUsesListing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		idxDir bool
		prep   func(t *testing.T, dir, idxDir string)
		check  func(t *testing.T, v *Volume, dir, idxDir string)
	}{
		{"precompact leftovers removed", false,
			func(t *testing.T, dir, _ string) {
				for _, ext := range []string{".dat.precompact", ".idx.precompact"} {
					if err := os.WriteFile(filepath.Join(dir, "1"+ext), []byte("old"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			},
			func(t *testing.T, v *Volume, dir, _ string) {
				for _, ext := range []string{".dat.precompact", ".idx.precompact"} {
					if _, err := os.Stat(filepath.Join(dir, "1"+ext)); !os.IsNotExist(err) {
						t.Errorf("1%s still there: %v", ext, err)
					}
				}
			}},
		{"missing vif written", false,
			func(t *testing.T, dir, _ string) { os.Remove(filepath.Join(dir, "1.vif")) },
			func(t *testing.T, v *Volume, dir, _ string) {
				if b, err := os.ReadFile(filepath.Join(dir, "1.vif")); err != nil || !bytes.Contains(b, []byte("version")) {
					t.Errorf(".vif not written: %q %v", b, err)
				}
			}},
		{"read-only vif honoured", false,
			func(t *testing.T, dir, _ string) {
				v, err := OpenVolume(VolumeConfig{ID: 1, Dir: dir})
				if err != nil {
					t.Fatal(err)
				}
				if err := v.SetReadOnly(true, true); err != nil {
					t.Fatal(err)
				}
				v.Close()
			},
			func(t *testing.T, v *Volume, _, _ string) {
				if !v.IsReadOnly() {
					t.Error("read-only mark in .vif ignored")
				}
			}},
		{"idx beside dat wins over idx dir", true,
			func(t *testing.T, dir, idxDir string) {
				// the volume was written with its .idx beside the .dat;
				// an empty one in -dir.idx must not be used
				if err := os.WriteFile(filepath.Join(idxDir, "1.idx"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			func(t *testing.T, v *Volume, _, _ string) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, idxDir := t.TempDir(), t.TempDir()
			v, err := OpenVolume(VolumeConfig{ID: 1, Dir: dir, Create: true})
			if err != nil {
				t.Fatal(err)
			}
			const n = 300 // more than an in-memory index holds: a .wvx is written
			for k := uint64(1); k <= n; k++ {
				mustWrite(t, v, k, uint32(k), []byte(fmt.Sprint("needle ", k)))
			}
			if err := v.Close(); err != nil {
				t.Fatal(err)
			}
			tc.prep(t, dir, idxDir)
			loc := LocationConfig{Dir: dir, MaxVolumes: 4}
			if tc.idxDir {
				loc.IdxDir = idxDir
			}
			s, err := OpenStore(StoreConfig{Locations: []LocationConfig{loc}, Logf: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			v, ok := s.Volume(1)
			if !ok {
				t.Fatal("volume 1 not opened")
			}
			for _, k := range []uint64{1, n / 2, n} {
				if got, want := mustRead(t, v, k, uint32(k)), fmt.Sprint("needle ", k); string(got) != want {
					t.Fatalf("needle %d: %q, want %q", k, got, want)
				}
			}
			if c := v.Stats().FileCount; c != n {
				t.Fatalf("file count %d, want %d", c, n)
			}
			tc.check(t, v, dir, idxDir)
		})
	}
}
