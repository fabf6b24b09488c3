package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/weedvol/weedvol/engine/needle"
)

func coldCount(s *Store) (cold int) {
	for _, v := range s.Volumes() {
		v.life.RLock()
		if v.index == nil {
			cold++
		}
		v.life.RUnlock()
	}
	return cold
}

// TestSummaryColdStart: after a clean Close, the next OpenStore registers
// the volumes cold (no index loaded, no descriptor) with the counters
// they had, serves and takes writes on them; volumes whose files changed
// behind the summary's back open in full; a summary serves one start.
func TestSummaryColdStart(t *testing.T) {
	const n = 20
	dir := t.TempDir()
	parkFixture(t, dir, n)
	open := func() *Store {
		t.Helper()
		s, err := OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: dir, MaxVolumes: n}}, Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	if c := coldCount(s); c != 0 {
		t.Fatalf("%d volumes cold without a summary", c)
	}
	v3, _ := s.Volume(3)
	if _, err := v3.Delete(4, 3, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	v9, _ := s.Volume(9)
	if err := v9.SetReadOnly(true, true); err != nil {
		t.Fatal(err)
	}
	want := map[uint32]Stats{}
	for _, v := range s.Volumes() {
		want[v.ID] = v.Stats()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, SummaryFile)); err != nil {
		t.Fatalf("no summary after Close: %v", err)
	}

	// volume 5 changes behind the summary's back: a row appended to its .idx
	// by another writer (a restored backup, an operator's tool)
	idx5 := filepath.Join(dir, "5.idx")
	b, _ := os.ReadFile(idx5)
	if err := os.WriteFile(idx5, append(b, b[:16]...), 0o644); err != nil {
		t.Fatal(err)
	}
	s = open()
	if _, err := os.Stat(filepath.Join(dir, SummaryFile)); !os.IsNotExist(err) {
		t.Fatalf("summary not consumed by the start: %v", err)
	}
	if c := coldCount(s); c != n-1 {
		t.Fatalf("%d cold volumes, want %d (all but the changed one)", c, n-1)
	}
	for _, v := range s.Volumes() {
		if v.ID != 5 && v.Stats() != want[v.ID] {
			t.Fatalf("volume %d: cold stats %+v, want %+v", v.ID, v.Stats(), want[v.ID])
		}
		if v.ID != 5 && !v.IsParked() {
			t.Fatalf("volume %d: cold but not parked", v.ID)
		}
	}
	v9, _ = s.Volume(9)
	if !v9.IsReadOnly() || !v9.Info().GetReadOnly() || v9.Info().GetVersion() != 3 {
		t.Fatalf("cold volume 9: read-only %v, .vif %v", v9.IsReadOnly(), v9.Info())
	}
	if err := v9.SetReadOnly(false, true); err != nil || v9.IsReadOnly() {
		t.Fatalf("mark cold volume 9 writable: %v", err)
	}
	v3, _ = s.Volume(3)
	var nd = mustRead(t, v3, 5, 3)
	if !bytes.Equal(nd, parkData(3, 5)) {
		t.Fatalf("cold read %q", nd)
	}
	if v3.IsParked() || coldCount(s) != n-2 {
		t.Fatal("a read did not load the volume")
	}
	if _, err := v3.Read(new(needle.Needle), 4, 3, nil, ReadOptions{}); err == nil {
		t.Fatal("a needle deleted before the stop is back")
	}
	if st := v3.Stats(); st != want[3] {
		t.Fatalf("loaded stats %+v, want %+v", st, want[3])
	}
	v7, _ := s.Volume(7)
	mustWrite(t, v7, 99, 7, []byte("written to a cold volume"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open()
	defer s.Close()
	v7, _ = s.Volume(7)
	if got := mustRead(t, v7, 99, 7); string(got) != "written to a cold volume" {
		t.Fatalf("after restart: %q", got)
	}
	if got := v7.Stats().FileCount; got != 11 {
		t.Fatalf("volume 7 file count %d, want 11", got)
	}
	if v9, _ := s.Volume(9); v9.IsReadOnly() {
		t.Fatal("volume 9 read-only again after a restart")
	}
}
