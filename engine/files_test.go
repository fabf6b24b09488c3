package engine

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/engine/superblock"
)

// victim is a file outside dir whose content must never change.
func victim(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(p, []byte("victim"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkVictim(t *testing.T, p string) {
	t.Helper()
	if b, err := os.ReadFile(p); err != nil || string(b) != "victim" {
		t.Fatalf("victim %s: %q, %v", p, b, err)
	}
}

func TestOpenVolumeRefusesLinkedFiles(t *testing.T) {
	for _, ext := range []string{".dat", ".idx"} {
		dir, out := t.TempDir(), victim(t)
		v, err := OpenVolume(VolumeConfig{ID: 1, Dir: dir, Create: true})
		if err != nil {
			t.Fatal(err)
		}
		v.Close()
		os.Remove(filepath.Join(dir, "1.wvx"))
		os.Remove(filepath.Join(dir, "1"+ext))
		if err := os.Symlink(out, filepath.Join(dir, "1"+ext)); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenVolume(VolumeConfig{ID: 1, Dir: dir, Create: true}); !errors.Is(err, ErrSymlink) {
			t.Errorf("%s linked: %v, want ErrSymlink", ext, err)
		}
		checkVictim(t, out)
	}
}

func TestVolumeFileAccess(t *testing.T) {
	dir, out := t.TempDir(), victim(t)
	v, err := OpenVolume(VolumeConfig{ID: 2, Collection: "pics", Dir: dir, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.CreateFile(".dat"); !errors.Is(err, ErrVolumeFile) {
		t.Errorf("CreateFile .dat: %v", err)
	}
	if _, err := v.CreateFile("/../x"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("CreateFile /../x: %v", err)
	}
	link := filepath.Join(dir, "pics_2.ec00")
	if err := os.Symlink(out, link); err != nil {
		t.Fatal(err)
	}
	if _, err := v.OpenFile(".ec00"); !errors.Is(err, ErrSymlink) {
		t.Errorf("OpenFile through a link: %v", err)
	}
	f, err := v.CreateFile(".ec00")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("shard"))
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	checkVictim(t, out)
	if st, err := os.Lstat(link); err != nil || !st.Mode().IsRegular() {
		t.Fatalf("the link was not replaced: %v", err)
	}
	if f, err := v.OpenFile(".ec00"); err != nil {
		t.Fatal(err)
	} else {
		f.Close()
	}
}

func TestReadRegularFile(t *testing.T) {
	dir, out := t.TempDir(), victim(t)
	if err := os.Symlink(out, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRegularFile(filepath.Join(dir, "link")); !errors.Is(err, ErrSymlink) {
		t.Errorf("link: %v", err)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	if _, err := ReadRegularFile(filepath.Join(dir, "sub")); !errors.Is(err, ErrNotRegular) {
		t.Errorf("directory: %v", err)
	}
	if _, err := ReadRegularFile(filepath.Join(dir, "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	if b, err := ReadRegularFile(filepath.Join(dir, "f")); err != nil || string(b) != "x" {
		t.Errorf("regular: %q, %v", b, err)
	}
}

func TestConfigureUnmounted(t *testing.T) {
	dir, out := t.TempDir(), victim(t)
	s, err := OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: dir, MaxVolumes: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AllocateVolume(4, AllocateOptions{}); err != nil {
		t.Fatal(err)
	}
	rp, _ := superblock.ParsePlacement("001")
	if err := s.ConfigureUnmounted(4, "001", rp); err == nil {
		t.Fatal("configured a mounted volume")
	}
	if err := s.UnmountVolume(4); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfigureUnmounted(4, "001", rp); err != nil {
		t.Fatal(err)
	}
	if err := s.MountVolume(4); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Volume(4); v.SuperBlock().ReplicaPlacement.String() != "001" {
		t.Fatalf("placement %s", v.SuperBlock().ReplicaPlacement)
	}
	s.UnmountVolume(4)
	dat := filepath.Join(dir, "4.dat")
	os.Remove(dat)
	os.Symlink(out, dat)
	if err := s.ConfigureUnmounted(4, "010", rp); err == nil {
		t.Fatal("configured through a link")
	}
	checkVictim(t, out)
}

// TestCopyStage walks a copy through the stage: leftovers removed, a
// replica parked and put back, a copy installed, and a linked copying/
// refused.
func TestCopyStage(t *testing.T) {
	dir := t.TempDir()
	idxDir := filepath.Join(t.TempDir(), "idx")
	os.MkdirAll(idxDir, 0o755)
	loc := &Location{LocationConfig: LocationConfig{Dir: dir, IdxDir: idxDir}}
	put := func(p, content string) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	put(filepath.Join(dir, CopyStagingDir, "c_7.dat"), "leftover")
	put(filepath.Join(dir, "c_7.dat"), "old dat")
	put(filepath.Join(idxDir, "c_7.idx"), "old idx")

	st, err := loc.BeginCopy("c", 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, CopyStagingDir, "c_7.dat")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("leftover kept")
	}
	for _, ext := range []string{".dat", ".idx"} {
		f, err := st.Create(ext)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("new" + ext)
		f.Close()
	}
	if n, err := st.StagedSize(".idx"); err != nil || n != 7 {
		t.Fatalf("staged .idx: %d, %v", n, err)
	}
	if _, err := st.Create(".wvx"); err == nil {
		t.Fatal("staged a derived file")
	}
	if err := st.Park(); err != nil {
		t.Fatal(err)
	}
	if err := st.Install(); err != nil {
		t.Fatal(err)
	}
	if read(filepath.Join(dir, "c_7.dat")) != "new.dat" || read(filepath.Join(idxDir, "c_7.idx")) != "new.idx" {
		t.Fatal("copy not installed")
	}
	if err := st.Restore(); err != nil {
		t.Fatal(err)
	}
	if read(filepath.Join(dir, "c_7.dat")) != "old dat" || read(filepath.Join(idxDir, "c_7.idx")) != "old idx" {
		t.Fatal("replica not restored")
	}
	st.DropParked()
	st.Close()

	// copying/ as a link to elsewhere is refused
	elsewhere := t.TempDir()
	os.RemoveAll(filepath.Join(idxDir, CopyStagingDir))
	os.Symlink(elsewhere, filepath.Join(idxDir, CopyStagingDir))
	if _, err := loc.BeginCopy("c", 7); err == nil {
		t.Fatal("began a copy through a linked copying/")
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Fatalf("wrote elsewhere: %v", entries)
	}
}

// TestCompactOverLinks: a compaction whose .cpd and .cpx names hold links
// creates its own files and leaves the targets alone.
func TestCompactOverLinks(t *testing.T) {
	dir, out := t.TempDir(), victim(t)
	v, err := OpenVolume(VolumeConfig{ID: 5, Dir: dir, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	n := needle.Needle{ID: 1, Cookie: 1, Data: []byte("keep")}
	if _, err := v.Write(&n, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".cpd", ".cpx"} {
		os.Symlink(out, filepath.Join(dir, "5"+ext))
	}
	if err := v.Compact(nil); err != nil {
		t.Fatal(err)
	}
	nv, err := v.CommitCompact()
	if err != nil {
		t.Fatal(err)
	}
	defer nv.Close()
	checkVictim(t, out)
}
