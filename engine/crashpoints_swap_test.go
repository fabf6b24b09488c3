package engine

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
)

// TestCrashPointsCommit stops a compaction commit at each step, with
// writes and deletes made between Compact and CommitCompact (so the
// catch-up has work). Every state holds the same needles; the compaction
// revision tells the old files from the compacted ones. Writing the .cpc
// is the commit point; when the compacted files fail to open, the
// originals are swapped back, and that rollback is crashed at each of its
// steps too.
func TestCrashPointsCommit(t *testing.T) {
	commit := []string{stepCommitCaughtUp, stepCommitBackups, stepCommitMarker, stepCommitDat,
		stepCommitIdx, stepCommitDone, stepCommitOpened, stepCommitCleaned}
	rollback := []string{stepRollbackStaged, stepRollbackMarker, stepRollbackDat, stepRollbackIdx, stepRollbackDone}
	type run struct {
		name        string
		fail, crash string
		compacted   bool // the state to find: compacted (else the originals)
	}
	var runs []run
	for i, step := range commit {
		runs = append(runs, run{fmt.Sprintf("crash %d %s", i, step), "", step, i >= slices.Index(commit, stepCommitMarker)})
	}
	for i, step := range commit {
		past := step == stepCommitDat || step == stepCommitIdx || step == stepCommitDone || step == stepCommitCleaned
		runs = append(runs, run{fmt.Sprintf("fail %d %s", i, step), step, "", past})
	}
	for i, step := range rollback {
		runs = append(runs, run{fmt.Sprintf("rollback crash %d %s", i, step), stepCommitOpened, step, step == stepRollbackStaged})
	}
	for _, lay := range layouts {
		for _, r := range runs {
			t.Run(lay.name+"/"+r.name, func(t *testing.T) {
				data, index, dirs := newDirs(t, lay.idxDir)
				s := openTestStore(t, data, index)
				if err := s.AllocateVolume(crashVol, AllocateOptions{}); err != nil {
					t.Fatal(err)
				}
				v := mustVolume(t, s, crashVol)
				c := newContent()
				fill(t, v, c, 1, 60, 0)
				if err := v.Compact(nil); err != nil {
					t.Fatal(err)
				}
				for k := uint64(200); k < 210; k++ {
					c.put(t, v, k, payload(k, 5))
				}
				c.del(t, v, 3)
				c.put(t, v, 6, payload(6, 9))
				rev := v.SuperBlock().CompactionRevision
				want := rev
				if r.compacted {
					want++
				}
				// state checks the volume's revision, needles and health
				state := func(t *testing.T, v *Volume) {
					t.Helper()
					if got := v.SuperBlock().CompactionRevision; got != want {
						t.Fatalf("compaction revision %d, want %d", got, want)
					}
					c.check(t, v)
				}

				h := setHook(t, &hook{fail: r.fail, crash: r.crash, dirs: dirs})
				_, err := s.CommitCompactVolume(crashVol)
				h.done(t)
				if r.fail == "" && err != nil {
					t.Fatalf("commit: %v", err)
				}
				if r.fail != "" && !errors.Is(err, errInjected) {
					t.Fatalf("commit: %v, want the injected failure", err)
				}
				if r.crash != "" {
					data, index = dirsOf(h.snap)
					s.Close()
					s = openTestStore(t, data, index)
				}
				// the same process (fail) or the crashed copy (crash)
				state(t, mustVolume(t, s, crashVol))
				takesWrite(t, mustVolume(t, s, crashVol), c)
				if r.crash != "" {
					noLeftovers(t, data, index)
				}
				s.Close()
				s = openTestStore(t, data, index)
				state(t, mustVolume(t, s, crashVol))
				noLeftovers(t, data, index)
			})
		}
	}
}

// copyInto runs the swap of a volume copy as the gRPC service's
// VolumeCopy does: stage the source's files, unmount the replica, park
// it, install the copy and mount it; then keep the copy (DropParked) or,
// with reject (the mounted copy failed its checks), put the replica back
// (Restore) and remount it. It returns the first failure.
func copyInto(t *testing.T, s *Store, files map[string][]byte, reject bool) error {
	t.Helper()
	st, err := s.Locations()[0].BeginCopy("", crashVol)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for ext, b := range files {
		f, err := st.Create(ext)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	_, had := s.Volume(crashVol)
	if had {
		if err := s.UnmountVolume(crashVol); err != nil {
			t.Fatal(err)
		}
	}
	remount := func() {
		if had {
			if err := s.MountVolume(crashVol); err != nil {
				t.Logf("remount: %v", err)
			}
		}
	}
	if err := st.Park(); err != nil {
		remount()
		return err
	}
	back := func(cause error) error {
		if _, ok := s.Volume(crashVol); ok {
			if err := s.UnmountVolume(crashVol); err != nil {
				t.Fatal(err)
			}
		}
		err := st.Restore()
		remount()
		return errors.Join(cause, err)
	}
	if err := st.Install(); err != nil {
		return back(err)
	}
	if err := s.MountVolume(crashVol); err != nil {
		return back(err)
	}
	if reject {
		return back(errors.New("the copy failed its checks"))
	}
	return st.DropParked()
}

// copyFixture is a replica's content or a copy source's.
type copyFixture struct {
	c          *content
	offsetSize int
}

// TestCrashPointsCopy stops the swap of a volume copy at each step of
// Park, Install, DropParked and, for a copy that fails its checks once
// mounted, Restore. The replaced replica has 5-byte offsets in its .vif
// and the copy 4-byte ones, so a file of one left beside the other's
// (a .vif the copy does not bring, say) shows as unreadable needles. Every
// state is the replica (or no volume, when there was none) or the copy,
// whole.
func TestCrashPointsCopy(t *testing.T) {
	type want int
	const (
		replica want = iota // the replaced replica, or no volume
		copied              // the copy
	)
	type run struct {
		name        string
		fail, crash string
		reject      bool
		want        want
	}
	install := []string{stepCopyParked, stepCopyMarker, stepCopyCleared, stepCopyInstalled, stepCopyCommitted, stepCopyDropped}
	restore := []string{stepRestoreMarker, stepRestoreLinked, stepRestoreCommitted, stepRestoreDropped}
	var runs []run
	for i, step := range install {
		w := replica
		if i >= slices.Index(install, stepCopyCommitted) {
			w = copied
		}
		runs = append(runs, run{fmt.Sprintf("crash %d %s", i, step), "", step, false, w})
		if step == stepCopyCommitted {
			w = replica // a failure to remove the marker is a failed Install
		}
		runs = append(runs, run{fmt.Sprintf("fail %d %s", i, step), step, "", false, w})
	}
	for i, step := range restore {
		runs = append(runs, run{fmt.Sprintf("restore crash %d %s", i, step), "", step, true, replica})
		w := replica
		if step == stepRestoreMarker {
			w = copied // Restore did nothing
		}
		runs = append(runs, run{fmt.Sprintf("restore fail %d %s", i, step), step, "", true, w})
	}

	// the copy's source: a volume of 4-byte offsets
	srcDir := t.TempDir()
	src, err := OpenVolume(VolumeConfig{ID: crashVol, Dir: srcDir, Create: true, OffsetSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	source := copyFixture{newContent(), 4}
	fill(t, src, source.c, 20, 40, 3)
	src.Close()
	files := map[string][]byte{}
	for _, ext := range []string{".dat", ".idx", ".vif"} {
		if files[ext], err = os.ReadFile(src.FileName(ext)); err != nil {
			t.Fatal(err)
		}
	}
	noVif := map[string][]byte{".dat": files[".dat"], ".idx": files[".idx"]}

	for _, sc := range []struct {
		name    string
		replica bool
		files   map[string][]byte
		idxDir  bool
	}{
		{"replica", true, files, false},
		{"replica, copy without .vif", true, noVif, false},
		{"replica, idx dir", true, files, true},
		{"no replica", false, files, true},
	} {
		for _, r := range runs {
			t.Run(sc.name+"/"+r.name, func(t *testing.T) {
				data, index, dirs := newDirs(t, sc.idxDir)
				old, source := copyFixture{newContent(), 5}, copyFixture{source.c.clone(), 4}
				if sc.replica {
					v, err := OpenVolume(VolumeConfig{ID: crashVol, Dir: data, IdxDir: index, Create: true, OffsetSize: 5})
					if err != nil {
						t.Fatal(err)
					}
					fill(t, v, old.c, 1, 30, 0)
					v.Close()
				}
				s := openTestStore(t, data, index)
				// state checks that the store holds what r wants
				state := func(t *testing.T, s *Store, data, index string) {
					t.Helper()
					if _, ok := s.Volume(crashVol); !ok {
						if err := s.MountVolume(crashVol); err != nil && !errors.Is(err, ErrVolumeNotFound) {
							t.Fatalf("mount: %v", err)
						}
					}
					v, ok := s.Volume(crashVol)
					f := source
					if r.want == replica {
						if !sc.replica {
							if ok {
								t.Fatal("a copy that did not happen left a volume")
							}
							// a later copy clears what this one left
							st, err := s.Locations()[0].BeginCopy("", crashVol)
							if err != nil {
								t.Fatal(err)
							}
							st.Close()
							noCopyLeftovers(t, data, index)
							return
						}
						f = old
					}
					if !ok {
						t.Fatal("volume not mounted")
					}
					if v.OffsetSize() != f.offsetSize {
						t.Fatalf("offset size %d, want %d", v.OffsetSize(), f.offsetSize)
					}
					f.c.check(t, v)
					takesWrite(t, v, f.c)
					noCopyLeftovers(t, data, index)
				}

				h := setHook(t, &hook{fail: r.fail, crash: r.crash, dirs: dirs})
				err := copyInto(t, s, sc.files, r.reject)
				h.done(t)
				switch {
				case r.fail != "" && !errors.Is(err, errInjected):
					t.Fatalf("copy: %v, want the injected failure", err)
				case r.fail == "" && !r.reject && err != nil:
					t.Fatalf("copy: %v", err)
				}
				if r.crash != "" {
					s.Close()
					data, index = dirsOf(h.snap)
					s = openTestStore(t, data, index)
				}
				state(t, s, data, index)
				s.Close()
				state(t, openTestStore(t, data, index), data, index)
			})
		}
	}
}
