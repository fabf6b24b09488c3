package engine

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/weedvol/weedvol/diskstat"
	"github.com/weedvol/weedvol/engine/needle"
)

func TestParseMinFreeSpace(t *testing.T) {
	tests := []struct {
		in   string
		want MinFreeSpace
		err  bool
	}{
		{"1", MinFreeSpace{Percent: 1, Raw: "1"}, false},
		{" 0.5 ", MinFreeSpace{Percent: 0.5, Raw: "0.5"}, false},
		{"100", MinFreeSpace{Percent: 100, Raw: "100"}, false},
		{"10GiB", MinFreeSpace{Bytes: 10 << 30, Raw: "10GiB"}, false},
		{"10gb", MinFreeSpace{Bytes: 10e9, Raw: "10gb"}, false},
		{"2Ti", MinFreeSpace{Bytes: 2 << 40, Raw: "2Ti"}, false},
		{"101B", MinFreeSpace{Bytes: 101, Raw: "101B"}, false},
		{"100B", MinFreeSpace{}, true}, // sizes must exceed 100 bytes
		{"101", MinFreeSpace{}, true},  // a bare number is a percentage
		{"-1", MinFreeSpace{}, true},
		{"10XB", MinFreeSpace{}, true},
		{"GiB", MinFreeSpace{}, true},
		{"", MinFreeSpace{}, true},
	}
	for _, tc := range tests {
		got, err := ParseMinFreeSpace(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%q: %+v %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrMinFreeSpace) {
			t.Errorf("%q: error %v is not ErrMinFreeSpace", tc.in, err)
		}
	}
}

// TestLowDiskReadOnly uses the real file system of a temporary directory:
// a minimum above its free space makes the directory low at once.
func TestLowDiskReadOnly(t *testing.T) {
	dir := t.TempDir()
	ds := diskstat.Of(dir, "")
	if ds.All == 0 {
		t.Fatalf("no disk statistics for %s", dir)
	}
	tests := []struct {
		name string
		min  MinFreeSpace
		low  bool
	}{
		{"bytes above free", MinFreeSpace{Bytes: ds.Free + 1<<30, Raw: "x"}, true},
		{"percent above free", MinFreeSpace{Percent: 100, Raw: "100"}, ds.PercentFree < 100},
		{"small minimum", MinFreeSpace{Bytes: 101, Raw: "101B"}, false},
		{"none", MinFreeSpace{}, false},
	}
	for _, tc := range tests {
		d := filepath.Join(dir, tc.name)
		// the volume exists before the disk is judged
		pre, err := OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: d, MaxVolumes: 3}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := pre.AllocateVolume(1, AllocateOptions{}); err != nil {
			t.Fatal(err)
		}
		pv, _ := pre.Volume(1)
		if _, err := pv.Write(&needle.Needle{ID: 9, Cookie: 1, Data: []byte("kept")}, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		pre.Close()
		s, err := OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: d, MaxVolumes: 3, MinFreeSpace: tc.min}}})
		if err != nil {
			t.Fatal(err)
		}
		loc := s.Locations()[0]
		v, _ := s.Volume(1)
		_, werr := v.Write(&needle.Needle{ID: 7, Cookie: 1, Data: []byte("data")}, WriteOptions{})
		aerr := s.AllocateVolume(2, AllocateOptions{})
		// deletes go on, low or not, as upstream's
		if size, err := v.Delete(9, 1, WriteOptions{}); err != nil || size <= 0 {
			t.Errorf("%s: delete %d %v", tc.name, size, err)
		}
		if tc.low {
			if !loc.IsLowDisk() || !v.IsReadOnly() || !errors.Is(werr, ErrReadOnly) || !errors.Is(aerr, ErrNoFreeSlot) || loc.HeartbeatMax() != 1 {
				t.Errorf("%s: low %v read-only %v write %v allocate %v heartbeat max %d", tc.name, loc.IsLowDisk(), v.IsReadOnly(), werr, aerr, loc.HeartbeatMax())
			}
		} else if loc.IsLowDisk() || v.IsReadOnly() || werr != nil || aerr != nil || loc.HeartbeatMax() != 3 {
			t.Errorf("%s: low %v read-only %v write %v allocate %v heartbeat max %d", tc.name, loc.IsLowDisk(), v.IsReadOnly(), werr, aerr, loc.HeartbeatMax())
		}
		s.Close()
	}
}

// TestAdjustAutoMax sizes a -max=0 directory from its real free space.
func TestAdjustAutoMax(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: dir, MaxVolumes: 0, MinFreeSpace: MinFreeSpace{Bytes: 101, Raw: "101B"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	loc := s.Locations()[0]
	if loc.Max() != 0 || s.AdjustAutoMax(0) {
		t.Fatalf("sized before the master told a limit: %d", loc.Max())
	}
	if err := s.AllocateVolume(1, AllocateOptions{}); !errors.Is(err, ErrNoFreeSlot) {
		t.Fatalf("allocate before sizing: %v", err)
	}
	free := diskstat.Of(dir, "").Free
	limit := free / 5
	if !s.AdjustAutoMax(limit) {
		t.Fatal("first sizing reported no change")
	}
	// five volumes fit, or four if another process took space meanwhile
	if n := loc.Max(); n < 4 || n > 5 {
		t.Fatalf("max %d for free %d and limit %d", n, free, limit)
	}
	if err := s.AllocateVolume(1, AllocateOptions{}); err != nil {
		t.Fatal(err)
	}
	// the new volume claims a whole limit of the free space: still about five
	s.AdjustAutoMax(limit)
	if n := loc.Max(); n < 4 || n > 5 {
		t.Fatalf("max %d after one volume", n)
	}
	// a limit above the free space still leaves the volume held plus none
	s.AdjustAutoMax(free * 4)
	if n := loc.Max(); n != 1 {
		t.Fatalf("max %d with a limit beyond the disk", n)
	}
}

// TestAdjustAutoMaxCountsEcShards: a -max=0 directory holding EC shards
// gets a slot per ten of them (rounded up) on top of its volumes, as
// upstream's MaybeAdjustVolumeMax.
func TestAdjustAutoMaxCountsEcShards(t *testing.T) {
	f := newEcFixture(t, 1, 30)
	ctx := context.Background()
	if err := f.s.EcGenerate(ctx, 7, "c"); err != nil {
		t.Fatal(err)
	}
	f.s.Close()
	dir := f.dirs[0]
	free := diskstat.Of(dir, "").Free
	// the open mounts the 14 shards found; unmounting them one by one
	s, err := OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: dir, MaxVolumes: 0}}, Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for mounted := 14; mounted >= 0; mounted-- {
		if mounted < 14 {
			if err := s.EcUnmount(7, []uint32{uint32(mounted)}); err != nil {
				t.Fatal(err)
			}
		}
		s.AdjustAutoMax(free * 4)  // a limit beyond the disk: no slot for new volumes
		want := 1 + (mounted+9)/10 // the volume, and a slot per ten shards
		if n := s.Locations()[0].Max(); n != want {
			t.Errorf("%d shards mounted: max %d, want %d", mounted, n, want)
		}
	}
}
