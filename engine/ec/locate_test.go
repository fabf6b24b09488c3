package ec

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	uec "github.com/seaweedfs/seaweedfs/weed/storage/erasure_coding"
	utypes "github.com/seaweedfs/seaweedfs/weed/storage/types"
)

// upstreamLocate is upstream's LocateData + ToShardIdAndOffset as its
// EcVolume calls them.
func upstreamLocate(large, small, shardDatSize, off, size int64) []Interval {
	var out []Interval
	for _, iv := range uec.LocateData(large, small, shardDatSize, off, utypes.Size(size)) {
		id, so := iv.ToShardIdAndOffset(large, small)
		out = append(out, Interval{Shard: int(id), Offset: so, Size: int64(iv.Size)})
	}
	return out
}

func TestLocateMatchesUpstream(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		var datSize int64
		switch i % 3 {
		case 0:
			datSize = r.Int64N(64<<20) + 8
		case 1:
			datSize = r.Int64N(40<<30) + 8
		default:
			datSize = int64(r.IntN(4)+1)*10*LargeBlockSize + r.Int64N(3)*SmallBlockSize*10 - r.Int64N(2)*8
		}
		off := r.Int64N(datSize)
		size := min(r.Int64N(8<<20)+1, datSize-off)
		if r.IntN(4) == 0 {
			size = min(r.Int64N(64)+1, datSize-off)
		}
		// Uniform.
		u := Layout{DataShards: 10, ParityShards: 4, BlockSize: UniformBlockSize(datSize, 10), DatSize: datSize}
		got := u.Locate(u.BlockSize, off, size)
		want := upstreamLocate(u.BlockSize, u.BlockSize, datSize/10, off, size)
		if !slices.Equal(got, want) {
			t.Fatalf("uniform dat %d [%d,+%d): ours %v upstream %v", datSize, off, size, got, want)
		}
		// Legacy, with and without the recorded dat size.
		lg := Layout{DataShards: 10, ParityShards: 4, DatSize: datSize}
		shardSize := lg.ShardSizeFor(datSize)
		got = lg.Locate(shardSize, off, size)
		want = upstreamLocate(LargeBlockSize, SmallBlockSize, datSize/10, off, size)
		if !slices.Equal(got, want) {
			t.Fatalf("legacy dat %d [%d,+%d): ours %v upstream %v", datSize, off, size, got, want)
		}
		lg.DatSize = 0
		got = lg.Locate(shardSize, off, size)
		want = upstreamLocate(LargeBlockSize, SmallBlockSize, shardSize-1, off, size)
		if !slices.Equal(got, want) {
			t.Fatalf("legacy (no dat size) dat %d shard %d [%d,+%d): ours %v upstream %v", datSize, shardSize, off, size, got, want)
		}
	}
}

func TestLocateTinyLegacyGeometry(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const large, small = 64 << 10, 4 << 10
	for i := 0; i < 2000; i++ {
		datSize := r.Int64N(3*10*large) + 8
		g := legacyGeometry(10, large, small, datSize)
		shardSize := g.shardSize(datSize)
		off := r.Int64N(datSize)
		size := min(r.Int64N(200<<10)+1, datSize-off)
		rg := legacyReadGeometry(10, large, small, datSize, shardSize)
		got := rg.locate(off, size, shardSize)
		want := upstreamLocate(large, small, datSize/10, off, size)
		if !slices.Equal(got, want) {
			t.Fatalf("dat %d [%d,+%d): ours %v upstream %v", datSize, off, size, got, want)
		}
	}
}

func TestLocateBadInput(t *testing.T) {
	l := Layout{DataShards: 10, ParityShards: 4, BlockSize: SmallBlockSize, DatSize: 100}
	for _, c := range []struct {
		l               Layout
		shard, off, len int64
	}{
		{l, SmallBlockSize, -1, 10},
		{l, SmallBlockSize, 0, 0},
		{l, SmallBlockSize, 0, -5},
		{l, SmallBlockSize, 10 * SmallBlockSize, 1},
		{l, SmallBlockSize, 1<<63 - 10, 100},
		{Layout{DataShards: 0, ParityShards: 4}, 100, 0, 1},
		{Layout{DataShards: 30, ParityShards: 4}, 100, 0, 1},
		{Layout{DataShards: 10, ParityShards: 4}, 0, 0, 1},
		{Layout{DataShards: 10, ParityShards: 4}, 100, 990, 20},
		{Layout{DataShards: 10, ParityShards: 4, BlockSize: 12345}, 100, 0, 1},
	} {
		if got := c.l.Locate(c.shard, c.off, c.len); got != nil {
			t.Errorf("%+v Locate(%d,%d,%d) = %v, want nil", c.l, c.shard, c.off, c.len, got)
		}
	}
}

// encodeLegacy writes the legacy-layout shards of v (as pre-uniform
// upstream encoders did) and returns the layout with DatSize recorded.
func encodeLegacy(t testing.TB, v *testVolume, g geometry, out string) Layout {
	t.Helper()
	l := Layout{DataShards: 10, ParityShards: 4, DatSize: v.datSize}
	dat, err := os.Open(v.base + ".dat")
	if err != nil {
		t.Fatal(err)
	}
	defer dat.Close()
	if _, err := encodeShards(context.Background(), dat, l, g, out, 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := WriteEcx(v.base+".idx", out+".ecx", v.width); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLegacyLayout(t *testing.T) {
	dir := t.TempDir()
	v := genVolume(t, dir, "v", 23<<20+4096, utypes.OffsetSize, 41)
	out := filepath.Join(dir, "L")
	l := encodeLegacy(t, v, Layout{DataShards: 10, ParityShards: 4}.encodeGeometry(v.datSize), out)
	var names []string
	for i := 0; i < 10; i++ {
		names = append(names, ShardFileName(out, i))
	}
	// Upstream decodes our legacy shards (no recorded dat size).
	if err := uec.WriteDatFile(out+"up", v.datSize, 0, names, LargeBlockSize, SmallBlockSize); err != nil {
		t.Fatal(err)
	}
	sameFile(t, out+"up.dat", v.base+".dat")
	for _, datSize := range []int64{0, v.datSize} {
		ll := l
		ll.DatSize = datSize
		for _, missing := range [][]int{nil, {1, 4}} {
			p := filepath.Join(t.TempDir(), "d.dat")
			if err := DecodeDatN(context.Background(), ll, presentExcept(out, 14, missing...), p, v.datSize); err != nil {
				t.Fatal(err)
			}
			sameFile(t, p, v.base+".dat")
		}
		vol, err := OpenVolume(VolumeConfig{ID: 2, IndexBase: out, Layout: ll, OffsetWidth: v.width, Version: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []int{0, 2, 3, 5, 7, 8, 9, 10, 11, 12} {
			if err := vol.AddShard(id, ShardFileName(out, id)); err != nil {
				t.Fatal(err)
			}
		}
		for k, rec := range v.live {
			got, err := vol.ReadNeedle(context.Background(), k, nil)
			if err != nil || string(got) != string(rec) {
				t.Fatalf("legacy dat size %d key %x: %v", datSize, k, err)
			}
		}
		vol.Close()
	}
	rb := filepath.Join(t.TempDir(), "r")
	if err := Rebuild(context.Background(), l, presentExcept(out, 14, 0, 13), []int{0, 13}, rb); err != nil {
		t.Fatal(err)
	}
	sameFile(t, ShardFileName(rb, 0), ShardFileName(out, 0))
	sameFile(t, ShardFileName(rb, 13), ShardFileName(out, 13))
}

func TestTinyLegacyDecodeByUpstream(t *testing.T) {
	dir := t.TempDir()
	v := genVolume(t, dir, "v", 2*10*(64<<10)+37*4096+8, utypes.OffsetSize, 43)
	out := filepath.Join(dir, "T")
	const large, small = 64 << 10, 4 << 10
	encodeLegacy(t, v, legacyGeometry(10, large, small, v.datSize), out)
	var names []string
	for i := 0; i < 10; i++ {
		names = append(names, ShardFileName(out, i))
	}
	if err := uec.WriteDatFile(out+"up", v.datSize, v.datSize, names, large, small); err != nil {
		t.Fatal(err)
	}
	sameFile(t, out+"up.dat", v.base+".dat")
}
