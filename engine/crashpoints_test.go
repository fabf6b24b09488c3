package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/engine/superblock"
	"github.com/weedvol/weedvol/engine/vif"
)

// Crash-point tests: every multi-file operation is stopped at each step of
// its crash story (doc.go), through the crashPoint hook, in two ways:
//
//   - crash: the hook copies the directories as they are right after the
//     step (what a process crash there leaves) and lets the operation go
//     on; a store opened on the copy must repair to exactly the old state
//     or exactly the new one;
//   - fail: the hook fails the step once; the operation must report an
//     error and leave the volume usable, in the old state (or the new one
//     past the commit point), in the same process and after a reopen.
//
// The hook is a package variable: these tests never run in parallel.

var errInjected = errors.New("injected failure")

// hook is one test's use of crashPoint: fail the first time step fail is
// reached, and copy dirs the first time step crash is.
type hook struct {
	fail, crash  string
	failed, took bool
	dirs, snap   []string
	seen         []string
}

// setHook installs h as crashPoint until the test ends.
func setHook(t *testing.T, h *hook) *hook {
	t.Helper()
	crashPoint = func(step string) error {
		h.seen = append(h.seen, step)
		if step == h.crash && !h.took {
			h.took = true
			h.snap = snapshotDirs(t, h.dirs...)
		}
		if step == h.fail && !h.failed {
			h.failed = true
			return fmt.Errorf("%s: %w", step, errInjected)
		}
		return nil
	}
	t.Cleanup(func() { crashPoint = nil })
	return h
}

// crashAt copies dirs when step is reached.
func crashAt(t *testing.T, step string, dirs ...string) *hook {
	return setHook(t, &hook{crash: step, dirs: dirs})
}

// failAt fails step once.
func failAt(t *testing.T, step string) *hook { return setHook(t, &hook{fail: step}) }

// done ends the hook and checks that its steps were reached.
func (h *hook) done(t *testing.T) {
	t.Helper()
	crashPoint = nil
	if h.crash != "" && !h.took {
		t.Fatalf("step %q never reached (steps: %q)", h.crash, h.seen)
	}
	if h.fail != "" && !h.failed {
		t.Fatalf("step %q never reached (steps: %q)", h.fail, h.seen)
	}
}

// snapshotDirs copies each directory tree to a fresh one, file contents as
// they are now, and returns the copies in order.
func snapshotDirs(t *testing.T, dirs ...string) []string {
	t.Helper()
	out := make([]string, len(dirs))
	for i, dir := range dirs {
		to := t.TempDir()
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			dst := filepath.Join(to, rel)
			switch {
			case d.IsDir():
				return os.MkdirAll(dst, 0o755)
			case d.Type().IsRegular():
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				return os.WriteFile(dst, b, 0o644)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("snapshot %s: %v", dir, err)
		}
		out[i] = to
	}
	return out
}

// content is what a volume must hold: live needles and deleted ones.
type content struct {
	live map[uint64][]byte
	gone map[uint64]bool
}

func newContent() *content { return &content{live: map[uint64][]byte{}, gone: map[uint64]bool{}} }

func (c *content) put(t *testing.T, v *Volume, key uint64, data []byte) {
	t.Helper()
	mustWrite(t, v, key, uint32(key), data)
	c.live[key] = data
	delete(c.gone, key)
}

func (c *content) del(t *testing.T, v *Volume, key uint64) {
	t.Helper()
	if _, err := v.Delete(key, uint32(key), WriteOptions{}); err != nil {
		t.Fatalf("delete %d: %v", key, err)
	}
	delete(c.live, key)
	c.gone[key] = true
}

// clone copies c, for a state to compare with while c goes on changing.
func (c *content) clone() *content {
	d := newContent()
	for k, b := range c.live {
		d.live[k] = b
	}
	for k := range c.gone {
		d.gone[k] = true
	}
	return d
}

// check asserts that v holds exactly c: every live needle byte for byte,
// every deleted one gone, and no other live needle in the index.
func (c *content) check(t *testing.T, v *Volume) {
	t.Helper()
	for k, want := range c.live {
		if got := mustRead(t, v, k, uint32(k)); !bytes.Equal(got, want) {
			t.Fatalf("needle %d: %d bytes %q..., want %d bytes", k, len(got), got[:min(len(got), 16)], len(want))
		}
	}
	for k := range c.gone {
		var n needle.Needle
		if _, err := v.Read(&n, k, uint32(k), nil, ReadOptions{}); !errors.Is(err, ErrDeleted) && !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted needle %d reads: %v", k, err)
		}
	}
	var extra []uint64
	if err := v.Ascend(func(key uint64, _ int64, size int32) bool {
		if _, ok := c.live[key]; !ok && size >= 0 {
			extra = append(extra, key)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(extra) > 0 {
		t.Fatalf("needles %v live, not expected", extra)
	}
}

// fill writes a mix of needles, overwrites and deletes, keys from..from+n.
func fill(t *testing.T, v *Volume, c *content, from uint64, n int, round int) {
	t.Helper()
	for k := from; k < from+uint64(n); k++ {
		c.put(t, v, k, payload(k, round))
	}
	for k := from; k < from+uint64(n); k += 4 {
		c.del(t, v, k)
	}
	for k := from + 1; k < from+uint64(n); k += 5 {
		c.put(t, v, k, payload(k, round+1))
	}
}

const crashVol = 3 // the volume id the crash tests use

// layouts are the two directory layouts: the index beside the data, and
// in a directory of its own (-dir.idx).
var layouts = []struct {
	name   string
	idxDir bool
}{{"one dir", false}, {"idx dir", true}}

// newDirs makes a data directory and, when separate, an index directory;
// dirs lists the ones that exist.
func newDirs(t *testing.T, separate bool) (data, index string, dirs []string) {
	data = t.TempDir()
	if !separate {
		return data, data, []string{data}
	}
	index = t.TempDir()
	return data, index, []string{data, index}
}

// dirsOf maps a snapshot back to data and index directories.
func dirsOf(snap []string) (data, index string) {
	if len(snap) == 1 {
		return snap[0], snap[0]
	}
	return snap[0], snap[1]
}

// openTestStore opens a store of one location; it is closed when the
// test ends if not before.
func openTestStore(t *testing.T, data, index string) *Store {
	t.Helper()
	s, err := OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: data, IdxDir: index, MaxVolumes: 8}}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rp parses a replica placement.
func rp(t *testing.T, s string) superblock.ReplicaPlacement {
	t.Helper()
	p, err := superblock.ParsePlacement(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// mustVolume is the store's volume id, which must be mounted.
func mustVolume(t *testing.T, s *Store, id uint32) *Volume {
	t.Helper()
	v, ok := s.Volume(id)
	if !ok {
		t.Fatalf("volume %d not mounted", id)
	}
	return v
}

// takesWrite checks that v is writable and healthy: a new needle goes in
// and reads back; it returns the needle for checks after a reopen.
func takesWrite(t *testing.T, v *Volume, c *content) {
	t.Helper()
	if v.IsReadOnly() || v.IsDamaged() {
		t.Fatalf("volume read-only %v, damaged %v", v.IsReadOnly(), v.IsDamaged())
	}
	c.put(t, v, 1<<40, []byte("written after the repair"))
	c.check(t, v)
}

// noLeftovers checks that no compaction, creation or replacement
// leftovers remain in dirs (copying/ excluded).
func noLeftovers(t *testing.T, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			for _, bad := range []string{".cpd", ".cpx", ".cpc", ".precompact", ".tmp"} {
				if strings.HasSuffix(e.Name(), bad) {
					t.Errorf("%s left in %s", e.Name(), dir)
				}
			}
		}
	}
}

// noCopyLeftovers checks that the copying/ directories are empty.
func noCopyLeftovers(t *testing.T, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		entries, _ := os.ReadDir(filepath.Join(dir, CopyStagingDir))
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		if len(names) > 0 {
			t.Errorf("%s/%s holds %v", dir, CopyStagingDir, names)
		}
	}
}

// TestCrashPointsCreate stops AllocateVolume at each step. The directory
// holds what a crashed Destroy of an earlier volume of the same id left
// (its .idx and a .vif marked read-only): the new volume must inherit
// none of it. Before the .dat is in place there is no volume (and it can
// be allocated again); after, an empty writable one.
func TestCrashPointsCreate(t *testing.T) {
	steps := []string{stepCreateIdx, stepCreateVif, stepCreateDat, stepCreated}
	for _, lay := range layouts {
		for i, step := range steps {
			exists := step == stepCreated
			prepare := func(t *testing.T) (*Store, []string) {
				data, index, dirs := newDirs(t, lay.idxDir)
				s := openTestStore(t, data, index)
				if err := s.AllocateVolume(crashVol, AllocateOptions{}); err != nil {
					t.Fatal(err)
				}
				fill(t, mustVolume(t, s, crashVol), newContent(), 1, 20, 0)
				if err := mustVolume(t, s, crashVol).SetReadOnly(true, true); err != nil {
					t.Fatal(err)
				}
				s.Close()
				// a Destroy that crashed after removing the .dat
				v, _ := mustOpenQuiet(t, data, index)
				os.Remove(v.FileName(".dat"))
				return openTestStore(t, data, index), dirs
			}
			// fresh checks the volume the allocation made: empty, of the
			// store's width, writable, durable.
			fresh := func(t *testing.T, data, index string, s *Store) {
				v := mustVolume(t, s, crashVol)
				if v.OffsetSize() != 4 || v.SuperBlock().ReplicaPlacement != rp(t, "001") {
					t.Fatalf("offset size %d, placement %s", v.OffsetSize(), v.SuperBlock().ReplicaPlacement)
				}
				c := newContent()
				for k := uint64(1); k <= 20; k++ {
					c.gone[k] = true // the earlier volume's needles
				}
				takesWrite(t, v, c)
				s.Close()
				s = openTestStore(t, data, index)
				c.check(t, mustVolume(t, s, crashVol))
				noLeftovers(t, data, index)
			}
			t.Run(fmt.Sprintf("%s/crash %d %s", lay.name, i, step), func(t *testing.T) {
				s, dirs := prepare(t)
				h := crashAt(t, step, dirs...)
				if err := s.AllocateVolume(crashVol, AllocateOptions{ReplicaPlacement: rp(t, "001")}); err != nil {
					t.Fatal(err)
				}
				h.done(t)
				s.Close()
				data, index := dirsOf(h.snap)
				cs := openTestStore(t, data, index)
				if _, ok := cs.Volume(crashVol); ok != exists {
					t.Fatalf("volume mounted %v after the crash, want %v", ok, exists)
				}
				if !exists {
					if err := cs.AllocateVolume(crashVol, AllocateOptions{ReplicaPlacement: rp(t, "001")}); err != nil {
						t.Fatal(err)
					}
				}
				fresh(t, data, index, cs)
			})
			t.Run(fmt.Sprintf("%s/fail %d %s", lay.name, i, step), func(t *testing.T) {
				s, dirs := prepare(t)
				h := failAt(t, step)
				if err := s.AllocateVolume(crashVol, AllocateOptions{ReplicaPlacement: rp(t, "001")}); !errors.Is(err, errInjected) {
					t.Fatalf("allocate: %v, want the injected failure", err)
				}
				h.done(t)
				if _, ok := s.Volume(crashVol); ok {
					t.Fatal("a failed allocation mounted the volume")
				}
				s.Close()
				data, index := dirsOf(dirs)
				s = openTestStore(t, data, index)
				if _, ok := s.Volume(crashVol); ok {
					t.Fatal("a failed allocation left a volume on disk")
				}
				if err := s.AllocateVolume(crashVol, AllocateOptions{ReplicaPlacement: rp(t, "001")}); err != nil {
					t.Fatal(err)
				}
				fresh(t, data, index, s)
			})
		}
	}
}

// mustOpenQuiet opens volume crashVol from data/index and closes it again,
// returning it for its file names.
func mustOpenQuiet(t *testing.T, data, index string) (*Volume, error) {
	t.Helper()
	v, err := OpenVolume(VolumeConfig{ID: crashVol, Dir: data, IdxDir: index})
	if err != nil {
		t.Fatal(err)
	}
	return v, v.Close()
}

// TestCrashPointsDestroy stops DeleteVolume at each step: the volume is
// gone (removing the .dat is the commit), and allocating its id again
// gives an empty writable volume, not the read-only mark or the needles
// of the deleted one.
func TestCrashPointsDestroy(t *testing.T) {
	steps := []string{stepDestroyDat, stepDestroyRest}
	for _, lay := range layouts {
		for i, step := range steps {
			prepare := func(t *testing.T) (*Store, []string) {
				data, index, dirs := newDirs(t, lay.idxDir)
				s := openTestStore(t, data, index)
				if err := s.AllocateVolume(crashVol, AllocateOptions{}); err != nil {
					t.Fatal(err)
				}
				v := mustVolume(t, s, crashVol)
				fill(t, v, newContent(), 1, 300, 0) // enough for a .wvx
				if err := v.SetReadOnly(true, true); err != nil {
					t.Fatal(err)
				}
				return s, dirs
			}
			gone := func(t *testing.T, data, index string) {
				s := openTestStore(t, data, index)
				if _, ok := s.Volume(crashVol); ok {
					t.Fatal("deleted volume mounted")
				}
				if err := s.AllocateVolume(crashVol, AllocateOptions{}); err != nil {
					t.Fatal(err)
				}
				c := newContent()
				for k := uint64(1); k <= 300; k += 7 {
					c.gone[k] = true
				}
				takesWrite(t, mustVolume(t, s, crashVol), c)
				if st := mustVolume(t, s, crashVol).Stats(); st.FileCount != 1 {
					t.Fatalf("file count %d, want 1", st.FileCount)
				}
				noLeftovers(t, data, index)
			}
			t.Run(fmt.Sprintf("%s/crash %d %s", lay.name, i, step), func(t *testing.T) {
				s, dirs := prepare(t)
				h := crashAt(t, step, dirs...)
				if err := s.DeleteVolume(crashVol); err != nil {
					t.Fatal(err)
				}
				h.done(t)
				d, x := dirsOf(h.snap)
				gone(t, d, x)
			})
			t.Run(fmt.Sprintf("%s/fail %d %s", lay.name, i, step), func(t *testing.T) {
				s, dirs := prepare(t)
				h := failAt(t, step)
				if err := s.DeleteVolume(crashVol); !errors.Is(err, errInjected) {
					t.Fatalf("delete: %v, want the injected failure", err)
				}
				h.done(t)
				if _, ok := s.Volume(crashVol); ok {
					t.Fatal("deleted volume still mounted")
				}
				s.Close()
				d, x := dirsOf(dirs)
				gone(t, d, x)
			})
		}
	}
}

// TestCrashPointsConfigure stops ConfigureUnmounted at each step. The
// super block is the truth: once it is rewritten the volume mounts with
// the new replication and a .vif brought in line; a failure puts the old
// byte back, and a .vif that was replaced all the same is brought back in
// line at mount.
func TestCrashPointsConfigure(t *testing.T) {
	steps := []string{stepConfigureDat, stepConfigureVif}
	for i, step := range steps {
		prepare := func(t *testing.T) (*Store, string, *content) {
			data := t.TempDir()
			s := openTestStore(t, data, data)
			if err := s.AllocateVolume(crashVol, AllocateOptions{ReplicaPlacement: rp(t, "000")}); err != nil {
				t.Fatal(err)
			}
			c := newContent()
			fill(t, mustVolume(t, s, crashVol), c, 1, 30, 0)
			if err := s.UnmountVolume(crashVol); err != nil {
				t.Fatal(err)
			}
			return s, data, c
		}
		placed := func(t *testing.T, s *Store, c *content, want string) {
			t.Helper()
			if err := s.MountVolume(crashVol); err != nil {
				t.Fatal(err)
			}
			v := mustVolume(t, s, crashVol)
			if got := v.SuperBlock().ReplicaPlacement.String(); got != want {
				t.Fatalf("super block placement %s, want %s", got, want)
			}
			if got := v.Info().Replication; got != want {
				t.Fatalf(".vif replication %q, want %q", got, want)
			}
			info, _, err := vif.Load(v.FileName(".vif"))
			if err != nil || info.Replication != want {
				t.Fatalf(".vif on disk: %q (%v), want %q", info.GetReplication(), err, want)
			}
			c.check(t, v)
		}
		t.Run(fmt.Sprintf("crash %d %s", i, step), func(t *testing.T) {
			s, data, c := prepare(t)
			h := crashAt(t, step, data)
			if err := s.ConfigureUnmounted(crashVol, "001", rp(t, "001")); err != nil {
				t.Fatal(err)
			}
			h.done(t)
			s.Close()
			cs := openTestStore(t, h.snap[0], h.snap[0])
			if err := cs.UnmountVolume(crashVol); err != nil {
				t.Fatal(err)
			}
			placed(t, cs, c, "001")
			takesWrite(t, mustVolume(t, cs, crashVol), c)
		})
		t.Run(fmt.Sprintf("fail %d %s", i, step), func(t *testing.T) {
			s, data, c := prepare(t)
			h := failAt(t, step)
			if err := s.ConfigureUnmounted(crashVol, "001", rp(t, "001")); !errors.Is(err, errInjected) {
				t.Fatalf("configure: %v, want the injected failure", err)
			}
			h.done(t)
			placed(t, s, c, "000")
			takesWrite(t, mustVolume(t, s, crashVol), c)
			s.Close()
			s = openTestStore(t, data, data)
			if err := s.UnmountVolume(crashVol); err != nil {
				t.Fatal(err)
			}
			placed(t, s, c, "000")
		})
	}
}
