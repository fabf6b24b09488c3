package engine

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/weedvol/weedvol/engine/needle"
)

// parkFixture writes volumes 1..n of 10 needles each into dir.
func parkFixture(t *testing.T, dir string, n int) {
	t.Helper()
	for id := uint32(1); id <= uint32(n); id++ {
		v, err := OpenVolume(VolumeConfig{ID: id, Dir: dir, Create: true})
		if err != nil {
			t.Fatal(err)
		}
		for key := uint64(1); key <= 10; key++ {
			mustWrite(t, v, key, id, parkData(id, key))
		}
		if err := v.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func parkData(id uint32, key uint64) []byte {
	return []byte(fmt.Sprintf("volume %d needle %d", id, key))
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1 // no procfs (macOS): descriptors are not counted
	}
	return len(ents)
}

func openCount(s *Store) int64 { return s.cfg.fds.open.Load() }

// TestParkingKeepsDescriptorsUnderLimit: a store of 60 volumes with room
// for 8 opens them with at most 8 holding descriptors, serves every
// needle (unparking on use), keeps the counters without unparking, and
// takes writes on parked volumes that survive a reopen.
func TestParkingKeepsDescriptorsUnderLimit(t *testing.T) {
	const n, limit = 60, 8
	dir := t.TempDir()
	parkFixture(t, dir, n)
	before := openFDs(t)
	s, err := OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: dir, MaxVolumes: n}}, MaxOpenVolumes: limit, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := openCount(s); got > limit {
		t.Fatalf("%d volumes hold files after open, limit %d", got, limit)
	}
	// two descriptors a volume, the directory lock, the ring's
	if fds := openFDs(t) - before; before >= 0 && fds > 2*limit+4 {
		t.Fatalf("%d descriptors after opening %d volumes with a limit of %d", fds, n, limit)
	}
	parked := 0
	for _, v := range s.Volumes() {
		if v.IsParked() {
			parked++
			if st := v.Stats(); st.FileCount != 10 {
				t.Fatalf("volume %d: parked file count %d", v.ID, st.FileCount)
			}
			if !v.IsParked() {
				t.Fatalf("volume %d: Stats unparked it", v.ID)
			}
		}
	}
	if parked < n-limit {
		t.Fatalf("%d parked, want at least %d", parked, n-limit)
	}
	for _, v := range s.Volumes() {
		for key := uint64(1); key <= 10; key++ {
			if got := mustRead(t, v, key, v.ID); !bytes.Equal(got, parkData(v.ID, key)) {
				t.Fatalf("volume %d needle %d: %q", v.ID, key, got)
			}
		}
		mustWrite(t, v, 11, v.ID, parkData(v.ID, 11))
	}
	// reading everything went past the limit; the parker brings it back
	deadline := time.Now().Add(10 * time.Second)
	for openCount(s) > limit {
		if time.Now().After(deadline) {
			t.Fatalf("%d volumes still hold files, limit %d", openCount(s), limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := openCount(s); got != 0 {
		t.Fatalf("%d volumes counted open after Close", got)
	}
	s2, err := OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: dir, MaxVolumes: n}}, MaxOpenVolumes: limit, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for _, v := range s2.Volumes() {
		if got := mustRead(t, v, 11, v.ID); !bytes.Equal(got, parkData(v.ID, 11)) {
			t.Fatalf("after reopen volume %d needle 11: %q", v.ID, got)
		}
	}
}

// TestIdleVolumesParked: with IdleClose set, a volume nobody uses gives
// its descriptors back; using it opens them again.
func TestIdleVolumesParked(t *testing.T) {
	old := parkTick
	parkTick = 10 * time.Millisecond
	t.Cleanup(func() { parkTick = old })
	dir := t.TempDir()
	parkFixture(t, dir, 3)
	s, err := OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: dir, MaxVolumes: 3}}, IdleClose: 50 * time.Millisecond, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, _ := s.Volume(2)
	deadline := time.Now().Add(5 * time.Second)
	for openCount(s) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle volumes still hold files", openCount(s))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !v.IsParked() {
		t.Fatal("volume 2 not parked")
	}
	if coldCount(s) != 3 {
		t.Fatalf("%d of 3 parked volumes dropped their index", coldCount(s))
	}
	if st := v.Stats(); st.FileCount != 10 {
		t.Fatalf("parked volume's file count %d, want 10", st.FileCount)
	}
	if got := mustRead(t, v, 3, 2); !bytes.Equal(got, parkData(2, 3)) {
		t.Fatalf("read %q", got)
	}
	if v.IsParked() || openCount(s) != 1 {
		t.Fatalf("after a read: parked %v, %d open", v.IsParked(), openCount(s))
	}
}

// TestParkingUnderLoad: many goroutines read, write and delete on volumes
// a parker with room for two parks all the time (run with -race).
func TestParkingUnderLoad(t *testing.T) {
	old := parkTick
	parkTick = time.Millisecond
	t.Cleanup(func() { parkTick = old })
	const n = 12
	dir := t.TempDir()
	parkFixture(t, dir, n)
	s, err := OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: dir, MaxVolumes: n}}, MaxOpenVolumes: 2, IdleClose: time.Millisecond, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				id := uint32(1 + (g*7+i)%n)
				v, _ := s.Volume(id)
				key := uint64(100 + g*1000 + i)
				nd := needle.Needle{ID: key, Cookie: 5, Data: parkData(id, key)}
				if _, err := v.Write(&nd, WriteOptions{}); err != nil {
					errs <- fmt.Errorf("write %d/%d: %w", id, key, err)
					return
				}
				var got needle.Needle
				if _, err := v.Read(&got, key, 5, nil, ReadOptions{}); err != nil || !bytes.Equal(got.Data, parkData(id, key)) {
					errs <- fmt.Errorf("read %d/%d: %q %v", id, key, got.Data, err)
					return
				}
				if _, err := v.Read(&got, 1+uint64(i%10), id, nil, ReadOptions{}); err != nil {
					errs <- fmt.Errorf("read fixture %d: %v", id, err)
					return
				}
				if i%3 == 0 {
					if _, err := v.Delete(key, 5, WriteOptions{}); err != nil {
						errs <- fmt.Errorf("delete %d/%d: %w", id, key, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
