package ec

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
)

func TestLayoutValidation(t *testing.T) {
	bad := []Layout{
		{DataShards: 0, ParityShards: 4},
		{DataShards: 10, ParityShards: 0},
		{DataShards: 30, ParityShards: 3},
		{DataShards: -1, ParityShards: 4},
		{DataShards: 10, ParityShards: 4, BlockSize: 1000},
		{DataShards: 10, ParityShards: 4, BlockSize: -SmallBlockSize},
		{DataShards: 10, ParityShards: 4, DatSize: -8},
	}
	for _, l := range bad {
		if err := l.Validate(); !errors.Is(err, ErrLayout) {
			t.Errorf("%+v: %v", l, err)
		}
		if _, err := Encode(context.Background(), "/nonexistent.dat", "/nonexistent.idx", "/tmp/x", "/tmp/x", 4,
			EncodeOptions{Layout: l}); err == nil {
			t.Errorf("%+v: Encode accepted it", l)
		}
		if _, err := OpenVolume(VolumeConfig{Layout: l, OffsetWidth: 4, Version: 3}); err == nil {
			t.Errorf("%+v: OpenVolume accepted it", l)
		}
	}
	for _, cfg := range []*volume_server_pb.EcShardConfig{
		{DataShards: 0, ParityShards: 4},
		{DataShards: 31, ParityShards: 4},
		{DataShards: 0xffffffff, ParityShards: 0xffffffff},
		{DataShards: 10, ParityShards: 4, BlockSize: 12345},
	} {
		if _, err := LayoutFromInfo(&volume_server_pb.VolumeInfo{EcShardConfig: cfg}); err == nil {
			t.Errorf("%v accepted", cfg)
		}
	}
	l, err := LayoutFromInfo(&volume_server_pb.VolumeInfo{DatFileSize: 1234})
	if err != nil || l.DataShards != 10 || l.ParityShards != 4 || l.BlockSize != 0 || l.DatSize != 1234 {
		t.Fatalf("absent config: %+v %v", l, err)
	}
	in := Layout{DataShards: 6, ParityShards: 3, BlockSize: 5 << 20, DatSize: 29 << 20, EncodeTsNs: 77}
	info := &volume_server_pb.VolumeInfo{}
	in.Apply(info)
	out, err := LayoutFromInfo(info)
	if err != nil || out != in {
		t.Fatalf("round trip %+v %v", out, err)
	}
}

func TestHostileIndexAndJournal(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.ecx")
	// Truncated: 1.5 rows.
	if err := os.WriteFile(p, make([]byte, 24), 0o644); err != nil {
		t.Fatal(err)
	}
	// it opens with its whole row, as upstream mounts it, and Check
	// reports the partial one
	x, err := OpenIndex(p, 4)
	if err != nil || x.Len() != 1 {
		t.Fatalf("truncated: %v", err)
	}
	if err := x.Check(); !errors.Is(err, ErrCorruptIndex) {
		t.Fatalf("truncated Check: %v", err)
	}
	x.Close()
	if _, err := HasLiveEntries(p, filepath.Join(dir, "none.ecj"), 4); !errors.Is(err, ErrCorruptIndex) {
		t.Fatalf("truncated live: %v", err)
	}
	if _, err := OpenIndex(p, 7); err == nil {
		t.Fatal("width 7 accepted")
	}
	// Unsorted.
	rows := make([]byte, 48)
	for i, k := range []uint64{5, 3, 9} {
		binary.BigEndian.PutUint64(rows[i*16:], k)
		binary.BigEndian.PutUint32(rows[i*16+8:], uint32(i+1))
		binary.BigEndian.PutUint32(rows[i*16+12:], 10)
	}
	if err := os.WriteFile(p, rows, 0o644); err != nil {
		t.Fatal(err)
	}
	x, err = OpenIndex(p, 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Check(); !errors.Is(err, ErrCorruptIndex) {
		t.Fatalf("unsorted check: %v", err)
	}
	for _, k := range []uint64{0, 3, 5, 9, 1 << 63} {
		x.Lookup(k) // must not panic; results unspecified
	}
	x.Close()
	if _, _, ok := x.Lookup(5); ok {
		t.Fatal("lookup after close")
	}
	// Empty .ecx.
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	x, err = OpenIndex(p, 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := x.Lookup(1); ok || x.Len() != 0 {
		t.Fatal("empty index")
	}
	x.Close()
	// Odd-length .ecj.
	j := filepath.Join(dir, "x.ecj")
	b := binary.BigEndian.AppendUint64(nil, 42)
	b = append(b, 1, 2, 3)
	if err := os.WriteFile(j, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ids, err := ReadJournal(j)
	if !errors.Is(err, ErrCorruptIndex) || !slices.Equal(ids, []uint64{42}) {
		t.Fatalf("torn journal: %v %v", ids, err)
	}
	jj, err := OpenJournal(j)
	if err != nil {
		t.Fatal(err)
	}
	if err := jj.Append(43); err != nil {
		t.Fatal(err)
	}
	jj.Close()
	if err := jj.Append(44); err == nil {
		t.Fatal("append after close")
	}
	ids, err = ReadJournal(j)
	if err != nil || !slices.Equal(ids, []uint64{42, 43}) {
		t.Fatalf("repaired journal: %v %v", ids, err)
	}
	if ids, err := ReadJournal(filepath.Join(dir, "missing.ecj")); ids != nil || err != nil {
		t.Fatalf("missing journal: %v %v", ids, err)
	}
}

func TestHostileSumsAndShards(t *testing.T) {
	dir := t.TempDir()
	v := genVolume(t, dir, "v", 3<<20+64, 4, 61)
	res := encodeTest(t, v, 10, 4)
	good := mustRead(t, SumsPath(v.base, 0))
	mut := map[string][]byte{
		"empty":     {},
		"short":     good[:10],
		"magic":     append([]byte{0}, good[1:]...),
		"version":   append(append(append([]byte{}, good[:4]...), 0, 9), good[6:]...),
		"truncated": good[:len(good)-3],
		"payload":   append(append([]byte{}, good[:len(good)-1]...), good[len(good)-1]^0xff),
	}
	for name, b := range mut {
		p := filepath.Join(dir, name+".ecsum")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadSums(p); !errors.Is(err, ErrSums) {
			t.Errorf("%s: %v", name, err)
		}
	}
	s, err := LoadSums(SumsPath(v.base, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateSums(s, res.Layout); err != nil {
		t.Fatal(err)
	}
	if err := ValidateSums(s, Layout{DataShards: 6, ParityShards: 3, BlockSize: res.Layout.BlockSize}); err == nil {
		t.Fatal("layout mismatch accepted")
	}
	// A flipped byte in a shard is found; a wrong length is ErrShardSize.
	b := mustRead(t, ShardFileName(v.base, 12))
	b[len(b)-1] ^= 1
	flipped := filepath.Join(dir, "flipped")
	os.WriteFile(flipped, b, 0o644)
	if bad, err := VerifyShard(s, 12, flipped); err != nil || !slices.Equal(bad, []int{0}) {
		t.Fatalf("flipped: %v %v", bad, err)
	}
	os.WriteFile(flipped, b[:100], 0o644)
	if bad, err := VerifyShard(s, 12, flipped); !errors.Is(err, ErrShardSize) || len(bad) == 0 {
		t.Fatalf("short: %v %v", bad, err)
	}
	if bad, err := VerifyShard(s, 3, ShardFileName(v.base, 3)); err != nil || bad != nil {
		t.Fatalf("clean: %v %v", bad, err)
	}
	if _, err := VerifyShard(s, 20, ShardFileName(v.base, 3)); !errors.Is(err, ErrSums) {
		t.Fatalf("no entry: %v", err)
	}
	// Shard files of the wrong length.
	vol := openTestVolume(t, v, res)
	if err := vol.AddShard(12, flipped); !errors.Is(err, ErrShardSize) {
		t.Fatalf("add short shard: %v", err)
	}
	if err := vol.AddShard(14, ShardFileName(v.base, 0)); err == nil {
		t.Fatal("shard 14 accepted")
	}
	bad := presentExcept(v.base, 14)
	bad[12] = flipped
	if err := DecodeDat(context.Background(), res.Layout, bad, filepath.Join(dir, "o.dat")); !errors.Is(err, ErrShardSize) {
		t.Fatalf("decode with short shard: %v", err)
	}
}

func TestScrub(t *testing.T) {
	dir := t.TempDir()
	v := genVolume(t, dir, "v", 7<<20+64, 4, 71)
	res := encodeTest(t, v, 10, 4)
	vol := openTestVolume(t, v, res, seqIDs(14)...)
	if n, errs := vol.ScrubIndex(); n != int64(vol.Index().Len()) || len(errs) != 0 {
		t.Fatalf("index scrub %d %v", n, errs)
	}
	if _, broken, errs := vol.ScrubLocal(); len(broken) != 0 || len(errs) != 0 {
		t.Fatalf("local scrub %v %v", broken, errs)
	}
	if _, broken, errs := vol.ScrubChecksums(res.Sums); len(broken) != 0 || len(errs) != 0 {
		t.Fatalf("checksum scrub %v %v", broken, errs)
	}
	if bad, err := VerifyParity(context.Background(), res.Layout, presentExcept(v.base, 14)); err != nil || bad != nil {
		t.Fatalf("parity %v %v", bad, err)
	}
	// Corrupt shard 4 in place (a copy, to keep the originals).
	b := mustRead(t, ShardFileName(v.base, 4))
	b[1000] ^= 0x55
	c := filepath.Join(dir, "c.ec04")
	os.WriteFile(c, b, 0o644)
	if err := vol.AddShard(4, c); err != nil {
		t.Fatal(err)
	}
	if _, broken, _ := vol.ScrubChecksums(res.Sums); !slices.Equal(broken, []int{4}) {
		t.Fatalf("checksum scrub found %v", broken)
	}
	paths := presentExcept(v.base, 14)
	paths[4] = c
	if bad, err := VerifyParity(context.Background(), res.Layout, paths); err != nil || len(bad) != 1 {
		t.Fatalf("parity %v %v", bad, err)
	}
	if _, _, errs := vol.ScrubLocal(); len(errs) == 0 {
		t.Fatal("local scrub missed the corrupt needle")
	}
}
