package engine

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDirUUID(t *testing.T) {
	a, b := NewUUID(), NewUUID()
	if len(a) != 36 || a == b || a[14] != '4' || a[8] != '-' {
		t.Fatalf("uuids %q %q", a, b)
	}
	dir := t.TempDir()
	first, err := DirUUID(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := DirUUID(dir); again != first {
		t.Fatalf("uuid changed: %q then %q", first, again)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, DirUUIDFile)); string(b) != first {
		t.Fatalf("%s holds %q, want %q", DirUUIDFile, b, first)
	}
}

func TestDirStateNames(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"1.dat", "../x", "", "vol_dir.uuid/..", ".vid_stamp.tmp"} {
		if err := WriteDirState(dir, name, []byte("x")); !errors.Is(err, ErrNotStateFile) {
			t.Errorf("WriteDirState(%q) = %v, want ErrNotStateFile", name, err)
		}
		if _, err := ReadDirState(dir, name); !errors.Is(err, ErrNotStateFile) {
			t.Errorf("ReadDirState(%q) = %v, want ErrNotStateFile", name, err)
		}
	}
	for _, name := range []string{DirUUIDFile, VidStampFile, ServerStateFile} {
		if err := WriteDirState(dir, name, []byte(name)); err != nil {
			t.Fatal(err)
		}
		if b, err := ReadDirState(dir, name); err != nil || string(b) != name {
			t.Errorf("ReadDirState(%q) = %q, %v", name, b, err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Errorf("directory holds %d entries, want the 3 state files", len(ents))
	}
}
