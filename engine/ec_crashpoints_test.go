package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/weedvol/weedvol/engine/needle"
)

// reopenEc opens a store on dirs (a snapshot of f's directories) as f's,
// closed at the end of the test.
func (f *ecFixture) reopenOn(t *testing.T, dirs []string) *ecFixture {
	t.Helper()
	g := &ecFixture{dirs: dirs, live: f.live, deleted: f.deleted}
	var err error
	if g.s, err = OpenStore(g.config()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.s.Close() })
	return g
}

// volumeReadsAll checks the normal volume 7 of f's store serves every
// needle as written.
func (f *ecFixture) volumeReadsAll(t *testing.T, what string) {
	t.Helper()
	v, ok := f.s.Volume(7)
	if !ok {
		t.Fatalf("%s: volume 7 not mounted", what)
	}
	for k, want := range f.live {
		var n needle.Needle
		if _, err := v.Read(&n, k, ecCookie, nil, ReadOptions{}); err != nil || !bytes.Equal(n.Data, want) {
			t.Fatalf("%s: needle %d: %v", what, k, err)
		}
	}
	for k := range f.deleted {
		var n needle.Needle
		if _, err := v.Read(&n, k, ecCookie, nil, ReadOptions{}); !errors.Is(err, ErrDeleted) && !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: deleted needle %d: %v", what, k, err)
		}
	}
}

// TestCrashPointsEcGenerate stops EcGenerate at each step. Before the
// .ecx is renamed into place no EC volume exists after a restart (and a
// new encode succeeds); after it, start-up mounts the shards and every
// needle reads back. The original volume serves throughout.
func TestCrashPointsEcGenerate(t *testing.T) {
	ctx := context.Background()
	steps := []string{stepEcWiped, stepEcEncoded, stepEcVif, stepEcGenerated}
	for i, step := range steps {
		committed := step == stepEcGenerated
		check := func(t *testing.T, g *ecFixture, what string) {
			g.volumeReadsAll(t, what)
			if _, ok := g.s.EcVolume(7); ok != committed {
				t.Fatalf("%s: EC volume mounted at start: %v", what, ok)
			}
			if !committed {
				if _, err := os.Stat(filepath.Join(g.dirs[0], "c_7.ecx")); !os.IsNotExist(err) {
					t.Fatalf("%s: .ecx before the commit point: %v", what, err)
				}
				if err := g.s.EcGenerate(ctx, 7, "c"); err != nil {
					t.Fatalf("%s: encode again: %v", what, err)
				}
				if err := g.s.EcMount(7, "c", allShards(14)); err != nil {
					t.Fatal(err)
				}
			}
			g.readAll(t, what)
		}
		t.Run(fmt.Sprintf("crash %d %s", i, step), func(t *testing.T) {
			f := newEcFixture(t, 1, 40)
			h := crashAt(t, step, f.dirs...)
			if err := f.s.EcGenerate(ctx, 7, "c"); err != nil {
				t.Fatal(err)
			}
			h.done(t)
			check(t, f.reopenOn(t, h.snap), "after a crash")
		})
		t.Run(fmt.Sprintf("fail %d %s", i, step), func(t *testing.T) {
			f := newEcFixture(t, 1, 40)
			h := failAt(t, step)
			if err := f.s.EcGenerate(ctx, 7, "c"); !errors.Is(err, errInjected) {
				t.Fatalf("generate: %v, want the injected failure", err)
			}
			h.done(t)
			f.volumeReadsAll(t, "after the failure")
			if err := f.s.Close(); err != nil {
				t.Fatal(err)
			}
			check(t, f.reopenOn(t, f.dirs), "reopened after the failure")
		})
	}
}

// TestCrashPointsEcDecode stops EcToVolume at each step, with the
// original volume deleted and a delete recorded only in the .ecj. Before
// the .dat is renamed into place no volume exists after a restart and the
// decode runs again; after it, the volume serves every needle and the
// deletes (before the encode and in the .ecj) stay deleted.
func TestCrashPointsEcDecode(t *testing.T) {
	ctx := context.Background()
	steps := []string{stepDecodeWritten, stepDecodeIdx, stepDecodeDat}
	for i, step := range steps {
		committed := step == stepDecodeDat
		prepare := func(t *testing.T) *ecFixture {
			f := newEcFixture(t, 1, 40)
			if err := f.s.EcGenerate(ctx, 7, "c"); err != nil {
				t.Fatal(err)
			}
			if err := f.s.EcMount(7, "c", allShards(14)); err != nil {
				t.Fatal(err)
			}
			if err := f.s.DeleteVolume(7); err != nil {
				t.Fatal(err)
			}
			if _, err := f.s.EcDelete(ctx, 7, 2, ecCookie); err != nil {
				t.Fatal(err)
			}
			delete(f.live, 2)
			f.deleted[2] = true
			return f
		}
		check := func(t *testing.T, g *ecFixture, what string) {
			_, ok := g.s.Volume(7)
			if ok != committed {
				t.Fatalf("%s: volume mounted at start: %v", what, ok)
			}
			g.readAll(t, what+" (EC)")
			if !committed {
				if err := g.s.EcToVolume(ctx, 7, "c"); err != nil {
					t.Fatalf("%s: decode again: %v", what, err)
				}
				if err := g.s.MountVolume(7); err != nil {
					t.Fatal(err)
				}
			}
			g.volumeReadsAll(t, what)
			if err := g.s.Close(); err != nil {
				t.Fatal(err)
			}
			h := g.reopenOn(t, g.dirs)
			h.volumeReadsAll(t, what+", reopened")
		}
		t.Run(fmt.Sprintf("crash %d %s", i, step), func(t *testing.T) {
			f := prepare(t)
			h := crashAt(t, step, f.dirs...)
			if err := f.s.EcToVolume(ctx, 7, "c"); err != nil {
				t.Fatal(err)
			}
			h.done(t)
			check(t, f.reopenOn(t, h.snap), "after a crash")
		})
		t.Run(fmt.Sprintf("fail %d %s", i, step), func(t *testing.T) {
			f := prepare(t)
			h := failAt(t, step)
			if err := f.s.EcToVolume(ctx, 7, "c"); !errors.Is(err, errInjected) {
				t.Fatalf("decode: %v, want the injected failure", err)
			}
			h.done(t)
			if err := f.s.Close(); err != nil {
				t.Fatal(err)
			}
			check(t, f.reopenOn(t, f.dirs), "reopened after the failure")
		})
	}
}
