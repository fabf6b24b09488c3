//go:build unix

package engine

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestStoreLocksItsDirectories(t *testing.T) {
	base := t.TempDir()
	a, b, idx := filepath.Join(base, "a"), filepath.Join(base, "b"), filepath.Join(base, "idx")
	cfg := func(locs ...LocationConfig) StoreConfig { return StoreConfig{Locations: locs} }
	for _, tc := range []struct {
		name         string
		first, again StoreConfig
	}{
		{"same data directory", cfg(LocationConfig{Dir: a}), cfg(LocationConfig{Dir: a})},
		{"data directory among others", cfg(LocationConfig{Dir: a}), cfg(LocationConfig{Dir: b}, LocationConfig{Dir: a})},
		{"shared index directory", cfg(LocationConfig{Dir: a, IdxDir: idx}, LocationConfig{Dir: b, IdxDir: idx}), cfg(LocationConfig{Dir: filepath.Join(base, "c"), IdxDir: idx})},
		{"index directory used as data directory", cfg(LocationConfig{Dir: a, IdxDir: idx}), cfg(LocationConfig{Dir: idx})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := OpenStore(tc.first)
			if err != nil {
				t.Fatal(err)
			}
			if s2, err := OpenStore(tc.again); !errors.Is(err, ErrDirLocked) {
				if s2 != nil {
					s2.Close()
				}
				s.Close()
				t.Fatalf("second store: %v, want ErrDirLocked", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2, err := OpenStore(tc.again)
			if err != nil {
				t.Fatalf("after Close: %v", err)
			}
			s2.Close()
		})
	}
}
