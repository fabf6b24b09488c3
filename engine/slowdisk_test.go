package engine

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// TestSlowDiskDoesNotHoldOthersBack: with SlowDiskWait set, a directory
// that is still opening does not keep the store from serving the other
// one; new volumes go elsewhere meanwhile, and its volumes join once it is
// open. Closing waits for it.
func TestSlowDiskDoesNotHoldOthersBack(t *testing.T) {
	fast, slow := t.TempDir(), t.TempDir()
	parkFixture(t, fast, 3) // volumes 1-3
	for id := uint32(4); id <= 5; id++ {
		v, err := OpenVolume(VolumeConfig{ID: id, Dir: slow, Create: true})
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, v, 1, id, parkData(id, 1))
		v.Close()
	}
	release := make(chan struct{})
	openLocationHook = func(dir string) {
		if dir == slow {
			<-release
		}
	}
	t.Cleanup(func() { openLocationHook = nil })
	s, err := OpenStore(StoreConfig{
		Locations:    []LocationConfig{{Dir: slow, MaxVolumes: 10}, {Dir: fast, MaxVolumes: 10}},
		SlowDiskWait: 20 * time.Millisecond, Logf: t.Logf,
	})
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	if n := len(s.Volumes()); n != 3 {
		close(release)
		t.Fatalf("%d volumes served while the slow dir opens, want the fast dir's 3", n)
	}
	v2, _ := s.Volume(2)
	if got := mustRead(t, v2, 3, 2); !bytes.Equal(got, parkData(2, 3)) {
		t.Fatalf("read %q", got)
	}
	if !s.Locations()[0].Loading() {
		t.Fatal("the slow dir is not marked as loading")
	}
	// the slow dir may hold any id: nothing is created until it is open
	if err := s.AllocateVolume(5, AllocateOptions{}); !errors.Is(err, ErrDirOpening) {
		close(release)
		t.Fatalf("allocate while a dir opens: %v, want ErrDirOpening", err)
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for len(s.Volumes()) != 5 {
		if time.Now().After(deadline) {
			t.Fatalf("%d volumes after the slow dir opened, want 5", len(s.Volumes()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	v5, _ := s.Volume(5)
	if got := mustRead(t, v5, 1, 5); !bytes.Equal(got, parkData(5, 1)) {
		t.Fatalf("late volume read %q", got)
	}
	if s.Locations()[0].Loading() || s.Locations()[0].VolumeCount() != 2 {
		t.Fatalf("slow dir after opening: loading %v, %d volumes", s.Locations()[0].Loading(), s.Locations()[0].VolumeCount())
	}
	if err := s.AllocateVolume(9, AllocateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestStoreClosedWhileDiskOpens: Close waits for a directory still opening
// and closes its volumes and lock (a new store can take the directory).
func TestStoreClosedWhileDiskOpens(t *testing.T) {
	fast, slow := t.TempDir(), t.TempDir()
	parkFixture(t, fast, 1)
	release := make(chan struct{})
	openLocationHook = func(dir string) {
		if dir == slow {
			<-release
		}
	}
	t.Cleanup(func() { openLocationHook = nil })
	s, err := OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: fast}, {Dir: slow}}, SlowDiskWait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(20 * time.Millisecond); close(release) }()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	openLocationHook = nil
	s2, err := OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: slow}}})
	if err != nil {
		t.Fatalf("the slow dir is still locked: %v", err)
	}
	s2.Close()
}
