package ec

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	uec "github.com/seaweedfs/seaweedfs/weed/storage/erasure_coding"
	utypes "github.com/seaweedfs/seaweedfs/weed/storage/types"

	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/needle"
)

// TestOursReadsUpstream mounts upstream's encode of its own test volume
// (1.dat/1.idx) and reads every live needle, intact and degraded, and
// decodes the .dat from upstream's shards.
func TestOursReadsUpstream(t *testing.T) {
	dir := t.TempDir()
	base := copyUpstreamVolume(t, dir, "v")
	up, uctx := upstreamEncode(t, base, 10, 4)
	l := Layout{DataShards: 10, ParityShards: 4, BlockSize: uctx.BlockSize, DatSize: uctx.DatFileSize}
	dat := mustRead(t, base+".dat")
	f, _ := idx.FormatFor(utypes.OffsetSize)
	want := map[uint64][]byte{}
	if err := walkEcxFile(up+".ecx", f, func(e idx.Entry) error {
		want[e.Key] = dat[e.Offset : e.Offset+needle.ActualSize(e.Size, needle.Version3)]
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("no needles")
	}
	vol, err := OpenVolume(VolumeConfig{ID: 1, IndexBase: up, Layout: l, OffsetWidth: utypes.OffsetSize, Version: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer vol.Close()
	for _, id := range []int{1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13} { // 0 and 2 lost
		if err := vol.AddShard(id, ShardFileName(up, id)); err != nil {
			t.Fatal(err)
		}
	}
	for k, rec := range want {
		got, err := vol.ReadNeedle(context.Background(), k, nil)
		if err != nil || string(got) != string(rec) {
			t.Fatalf("needle %x: %v", k, err)
		}
	}
	out := filepath.Join(dir, "d.dat")
	if err := DecodeDat(context.Background(), l, presentExcept(up, 14, 0, 2), out); err != nil {
		t.Fatal(err)
	}
	sameFile(t, out, base+".dat")
	ours, err := FindDatFileSize(up+".ecx", utypes.OffsetSize, needle.Version3)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := uec.FindDatFileSize(ShardFileName(up, 0), up)
	if err != nil || ours != theirs {
		t.Fatalf("dat size ours %d upstream %d (%v)", ours, theirs, err)
	}
	live, err := HasLiveEntries(up+".ecx", up+".ecj", utypes.OffsetSize)
	ulive, uerr := uec.HasLiveNeedles(up)
	if err != nil || uerr != nil || live != ulive {
		t.Fatalf("live ours %v upstream %v (%v %v)", live, ulive, err, uerr)
	}
	s, err := LoadSums(uec.BitrotSidecarPath(up, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateSums(s, l); err != nil {
		t.Fatal(err)
	}
	if _, broken, errs := vol.ScrubChecksums(s); len(broken) != 0 || len(errs) != 0 {
		t.Fatalf("%v %v", broken, errs)
	}
}

// TestFiveByteOffsets encodes a volume whose .idx has 5-byte offsets and
// reads it back; with upstream built with -tags 5BytesOffset the .ecx is
// also compared with upstream's in TestEncodeMatchesUpstream.
func TestFiveByteOffsets(t *testing.T) {
	dir := t.TempDir()
	v := genVolume(t, dir, "v", 5<<20+64, 5, 81)
	res := encodeTest(t, v, 10, 4)
	if st, _ := os.Stat(v.base + ".ecx"); st.Size()%17 != 0 || st.Size() != int64(17*len(v.live)) {
		t.Fatalf(".ecx is %d bytes for %d needles", st.Size(), len(v.live))
	}
	vol := openTestVolume(t, v, res, 0, 1, 2, 3, 4, 5, 6, 7, 8, 13)
	for k, rec := range v.live {
		got, err := vol.ReadNeedle(context.Background(), k, nil)
		if err != nil || string(got) != string(rec) {
			t.Fatalf("needle %x: %v", k, err)
		}
	}
	k := sortedLive(v)[0]
	if _, err := vol.Delete(k); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "back.idx")
	if err := WriteIdxFromEcx(v.base+".ecx", v.base+".ecj", p, 5); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.Size() != int64(17*(len(v.live)+1)) {
		t.Fatalf(".idx is %d bytes", st.Size())
	}
	size, err := FindDatFileSize(v.base+".ecx", 5, needle.Version3)
	if err != nil || size <= 8 || size > v.datSize {
		t.Fatalf("dat size %d %v", size, err)
	}
}
