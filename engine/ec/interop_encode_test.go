package ec

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	uec "github.com/seaweedfs/seaweedfs/weed/storage/erasure_coding"
	utypes "github.com/seaweedfs/seaweedfs/weed/storage/types"
	"google.golang.org/protobuf/proto"
)

// upstreamEncode runs upstream's encode of base (.dat/.idx) into its own
// files next to it (base + "up"): shards, .ecx and .ecsum.
func upstreamEncode(t testing.TB, base string, d, p int) (string, *uec.ECContext) {
	t.Helper()
	up := base + "up"
	linkOrCopy(t, base+".dat", up+".dat")
	linkOrCopy(t, base+".idx", up+".idx")
	if err := uec.WriteSortedFileFromIdx(up, ".ecx"); err != nil {
		t.Fatal(err)
	}
	ctx := &uec.ECContext{DataShards: d, ParityShards: p}
	prot, err := uec.WriteEcFiles(up, ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := uec.SaveBitrotSidecar(uec.BitrotSidecarPath(up, 0), prot); err != nil {
		t.Fatal(err)
	}
	return up, ctx
}

func TestEncodeMatchesUpstream(t *testing.T) {
	type tc struct {
		name     string
		size     int64 // 0 = upstream's 1.dat
		d, p     int
		upstream bool
	}
	cases := []tc{
		{name: "upstream-1dat", d: 10, p: 4, upstream: true},
		{name: "superblock-only", size: 8, d: 10, p: 4},
		{name: "tiny", size: 4096, d: 10, p: 4},
		{name: "block-minus", size: 10<<20 - 8, d: 10, p: 4},
		{name: "block-exact", size: 10 << 20, d: 10, p: 4},
		{name: "block-plus", size: 10<<20 + 8, d: 10, p: 4},
		{name: "multi-mib", size: 37<<20 + 4096, d: 10, p: 4},
		{name: "ratio-6+3", size: 13<<20 + 808, d: 6, p: 3},
		{name: "ratio-12+4", size: 5<<20 + 16, d: 12, p: 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var base string
			if c.upstream {
				base = copyUpstreamVolume(t, dir, "v")
			} else {
				base = genVolume(t, dir, "v", c.size, utypes.OffsetSize, uint64(c.size)).base
			}
			up, uctx := upstreamEncode(t, base, c.d, c.p)
			res, err := Encode(context.Background(), base+".dat", base+".idx", base, base, utypes.OffsetSize,
				EncodeOptions{Layout: Layout{DataShards: c.d, ParityShards: c.p}, BufferSize: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			if res.Layout.BlockSize != uctx.BlockSize || res.Layout.DatSize != uctx.DatFileSize {
				t.Fatalf("layout %+v, upstream block %d dat %d", res.Layout, uctx.BlockSize, uctx.DatFileSize)
			}
			for i := 0; i < c.d+c.p; i++ {
				sameFile(t, ShardFileName(base, i), ShardFileName(up, i))
			}
			sameFile(t, base+".ecx", up+".ecx")
			ours, err := LoadSums(SumsPath(base, 0))
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := uec.LoadBitrotSidecar(uec.BitrotSidecarPath(up, 0))
			if err != nil {
				t.Fatal(err)
			}
			ours.EncodeUuid, theirs.EncodeUuid = nil, nil
			if !proto.Equal(ours, theirs) {
				t.Fatalf("sidecars differ:\nours   %v\ntheirs %v", ours, theirs)
			}
			// Upstream loads our sidecar.
			if _, err := uec.LoadBitrotSidecar(SumsPath(base, 0)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestEncodeBufferSizes(t *testing.T) {
	dir := t.TempDir()
	v := genVolume(t, dir, "v", 23<<20+64, 4, 7)
	var ref [][]byte
	for _, bs := range []int{4096, 1 << 20, 3<<20 + 4096, 0} {
		out := filepath.Join(dir, fmt.Sprintf("o%d", bs))
		if _, err := Encode(context.Background(), v.base+".dat", v.base+".idx", out, out, 4, EncodeOptions{BufferSize: bs}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 14; i++ {
			b := mustRead(t, ShardFileName(out, i))
			if ref == nil || len(ref) <= i {
				ref = append(ref, b)
				continue
			}
			if string(b) != string(ref[i]) {
				t.Fatalf("buffer %d: shard %d differs", bs, i)
			}
		}
	}
}
