package iouring

import (
	"os"
	"path/filepath"
	"testing"
)

// TestStatsCountOperationsByEngine runs each kind of operation on a real
// file through both engines and checks that Stats counts each under the
// engine that ran it, and that every io_uring submission completed.
func TestStatsCountOperationsByEngine(t *testing.T) {
	engines := []struct {
		id int
		e  Engine
	}{{EngineSync, NewSync()}, {EngineUring, uringOrSkip(t)}}
	for _, c := range engines {
		f, err := os.OpenFile(filepath.Join(t.TempDir(), "f"), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		file, err := c.e.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		before := ReadStats()
		buf := make([]byte, 4096)
		if _, err := file.WriteAt(buf, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := file.WriteVAt([][]byte{buf, buf}, 4096); err != nil {
			t.Fatal(err)
		}
		if _, err := file.ReadAt(buf, 0); err != nil {
			t.Fatal(err)
		}
		if err := file.Sync(); err != nil {
			t.Fatal(err)
		}
		file.Close()
		after := ReadStats()
		for k := 0; k < NumKinds; k++ {
			if got := after.Ops[c.id][k] - before.Ops[c.id][k]; got < 1 {
				t.Errorf("%s %s: counted %d operations, want at least 1", EngineNames[c.id], KindNames[k], got)
			}
		}
		if c.id == EngineUring {
			sub, done := after.Submitted-before.Submitted, after.Completed-before.Completed
			if sub < 4 || sub != done || after.Enters == before.Enters {
				t.Errorf("uring: %d submitted, %d completed, %d enters; want >= 4, equal, > 0", sub, done, after.Enters-before.Enters)
			}
		}
	}
}
