package ec

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	uec "github.com/seaweedfs/seaweedfs/weed/storage/erasure_coding"
	utypes "github.com/seaweedfs/seaweedfs/weed/storage/types"
)

func encodeTest(t testing.TB, v *testVolume, d, p int) EncodeResult {
	t.Helper()
	res, err := Encode(context.Background(), v.base+".dat", v.base+".idx", v.base, v.base, v.width,
		EncodeOptions{Layout: Layout{DataShards: d, ParityShards: p}, BufferSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func presentExcept(base string, total int, missing ...int) map[int]string {
	m := map[int]string{}
	for i := 0; i < total; i++ {
		m[i] = ShardFileName(base, i)
	}
	for _, id := range missing {
		delete(m, id)
	}
	return m
}

func TestRebuild(t *testing.T) {
	dir := t.TempDir()
	v := genVolume(t, dir, "v", 21<<20+1024, utypes.OffsetSize, 11)
	res := encodeTest(t, v, 10, 4)
	cases := [][]int{{3}, {13}, {0, 5, 11, 13}, {10, 11, 12, 13}, {0, 1, 2, 3}, {6, 7}}
	for _, missing := range cases {
		for _, withSums := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v-sums=%v", missing, withSums), func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "r")
				o := RebuildOptions{BufferSize: 3 << 19}
				if withSums {
					o.Sums = res.Sums
				}
				if err := RebuildWith(context.Background(), res.Layout, presentExcept(v.base, 14, missing...), missing, out, o); err != nil {
					t.Fatal(err)
				}
				for _, id := range missing {
					sameFile(t, ShardFileName(out, id), ShardFileName(v.base, id))
				}
				if _, err := os.Stat(ShardFileName(out, 99)); err == nil {
					t.Fatal("unexpected file")
				}
			})
		}
	}
	// Upstream rebuilds the same shards from ours, and agrees.
	t.Run("upstream", func(t *testing.T) {
		udir := t.TempDir()
		ub := filepath.Join(udir, "u")
		for i := 0; i < 14; i++ {
			if i == 2 || i == 12 {
				continue
			}
			linkOrCopy(t, ShardFileName(v.base, i), ShardFileName(ub, i))
		}
		linkOrCopy(t, SumsPath(v.base, 0), SumsPath(ub, 0))
		got, err := uec.RebuildEcFiles(ub, &uec.ECContext{DataShards: 10, ParityShards: 4, BlockSize: res.Layout.BlockSize}, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("upstream rebuilt %v", got)
		}
		for _, id := range []int{2, 12} {
			sameFile(t, ShardFileName(ub, id), ShardFileName(v.base, id))
		}
	})
}

func TestRebuildErrors(t *testing.T) {
	dir := t.TempDir()
	v := genVolume(t, dir, "v", 3<<20, 4, 12)
	res := encodeTest(t, v, 10, 4)
	l := res.Layout
	out := filepath.Join(t.TempDir(), "r")
	short := filepath.Join(dir, "short.ec01")
	if err := os.WriteFile(short, make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	withShort := presentExcept(v.base, 14, 0)
	withShort[1] = short
	corrupt := filepath.Join(dir, "corrupt.ec02")
	b := mustRead(t, ShardFileName(v.base, 2))
	b[12345] ^= 1
	if err := os.WriteFile(corrupt, b, 0o644); err != nil {
		t.Fatal(err)
	}
	withCorrupt := presentExcept(v.base, 14, 0)
	withCorrupt[2] = corrupt
	cases := []struct {
		name    string
		l       Layout
		present map[int]string
		missing []int
		sums    *Sums
	}{
		{"too-few", l, presentExcept(v.base, 14, 0, 1, 2, 3, 4), []int{0, 1, 2, 3, 4}, nil},
		{"bad-layout", Layout{DataShards: 0, ParityShards: 4}, presentExcept(v.base, 14, 0), []int{0}, nil},
		{"too-many-shards", Layout{DataShards: 30, ParityShards: 4}, presentExcept(v.base, 14, 0), []int{0}, nil},
		{"out-of-range", l, presentExcept(v.base, 14, 0), []int{14}, nil},
		{"both", l, presentExcept(v.base, 14), []int{3}, nil},
		{"dup", l, presentExcept(v.base, 14, 3), []int{3, 3}, nil},
		{"short-input", l, withShort, []int{0}, nil},
		{"corrupt-input-sums", l, withCorrupt, []int{0}, res.Sums},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := RebuildWith(context.Background(), c.l, c.present, c.missing, out, RebuildOptions{Sums: c.sums})
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			left, _ := filepath.Glob(out + "*")
			if len(left) != 0 {
				t.Fatalf("left files %v", left)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	dir := t.TempDir()
	v := genVolume(t, dir, "v", 17<<20+4096, utypes.OffsetSize, 13)
	res := encodeTest(t, v, 10, 4)
	for _, missing := range [][]int{nil, {0}, {9}, {2, 4, 6, 8}, {10, 0}} {
		t.Run(fmt.Sprint(missing), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "d.dat")
			if err := DecodeDat(context.Background(), res.Layout, presentExcept(v.base, 14, missing...), out); err != nil {
				t.Fatal(err)
			}
			sameFile(t, out, v.base+".dat")
		})
	}
	t.Run("upstream-reads-ours", func(t *testing.T) {
		ub := filepath.Join(t.TempDir(), "u")
		var names []string
		for i := 0; i < 10; i++ {
			names = append(names, ShardFileName(v.base, i))
		}
		if err := uec.WriteDatFile(ub, v.datSize, res.Layout.DatSize, names, res.Layout.BlockSize, res.Layout.BlockSize); err != nil {
			t.Fatal(err)
		}
		sameFile(t, ub+".dat", v.base+".dat")
	})
	t.Run("short", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "d.dat")
		if err := DecodeDatN(context.Background(), res.Layout, presentExcept(v.base, 14, 3), out, 5<<20); err != nil {
			t.Fatal(err)
		}
		if got, want := mustRead(t, out), mustRead(t, v.base+".dat")[:5<<20]; string(got) != string(want) {
			t.Fatal("prefix differs")
		}
	})
}
