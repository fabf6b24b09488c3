package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weedvol/weedvol/engine/ec"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/engine/vif"
)

// ecFixture is a store with one volume of needles with random content,
// some of them deleted.
type ecFixture struct {
	dirs    []string
	s       *Store
	live    map[uint64][]byte
	deleted map[uint64]bool
}

const ecCookie = 0x1234abcd

func (f *ecFixture) config() StoreConfig {
	var locs []LocationConfig
	for _, d := range f.dirs {
		locs = append(locs, LocationConfig{Dir: d, MaxVolumes: 4})
	}
	return StoreConfig{Locations: locs, Logf: func(string, ...any) {}}
}

func newEcFixture(t *testing.T, disks, needles int) *ecFixture {
	t.Helper()
	f := &ecFixture{live: map[uint64][]byte{}, deleted: map[uint64]bool{}}
	for i := 0; i < disks; i++ {
		f.dirs = append(f.dirs, t.TempDir())
	}
	var err error
	if f.s, err = OpenStore(f.config()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.s.Close() })
	if err := f.s.AllocateVolume(7, AllocateOptions{Collection: "c"}); err != nil {
		t.Fatal(err)
	}
	v, _ := f.s.Volume(7)
	r := rand.New(rand.NewPCG(7, 7))
	for k := uint64(1); k <= uint64(needles); k++ {
		size := 1 + r.IntN(40000)
		if k%17 == 0 {
			size = 300000 + r.IntN(900000) // spans shard blocks
		}
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		mustWrite(t, v, k, ecCookie, b)
		f.live[k] = b
	}
	for k := uint64(3); k <= uint64(needles); k += 7 {
		if _, err := v.Delete(k, ecCookie, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		delete(f.live, k)
		f.deleted[k] = true
	}
	return f
}

func (f *ecFixture) readAll(t *testing.T, what string) {
	t.Helper()
	ctx := context.Background()
	for k, want := range f.live {
		var n needle.Needle
		if _, err := f.s.EcRead(ctx, 7, &n, k, ecCookie, ReadOptions{}); err != nil {
			t.Fatalf("%s: read %d: %v", what, k, err)
		}
		if !bytes.Equal(n.Data, want) {
			t.Fatalf("%s: needle %d differs", what, k)
		}
	}
	for k := range f.deleted {
		var n needle.Needle
		_, err := f.s.EcRead(ctx, 7, &n, k, ecCookie, ReadOptions{})
		if !errors.Is(err, ErrDeleted) && !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: deleted needle %d: %v", what, k, err)
		}
	}
}

func allShards(n int) []uint32 {
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = uint32(i)
	}
	return ids
}

func TestEcStoreLifecycle(t *testing.T) {
	f := newEcFixture(t, 1, 120)
	s, dir := f.s, f.dirs[0]
	ctx := context.Background()
	base := filepath.Join(dir, "c_7")

	if err := s.EcGenerate(ctx, 7, "other"); err == nil || !strings.Contains(err.Error(), "existing collection") {
		t.Fatalf("wrong collection: %v", err)
	}
	if err := s.EcGenerate(ctx, 8, "c"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing volume: %v", err)
	}
	if err := s.EcGenerate(ctx, 7, "c"); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".ec00", ".ec13", ".ecx", ".ecsum", ".vif"} {
		if _, err := os.Stat(base + ext); err != nil {
			t.Fatalf("after generate: %v", err)
		}
	}
	if _, err := os.Stat(base + ".ecgen.ecx"); !os.IsNotExist(err) {
		t.Fatalf("temporary .ecx left: %v", err)
	}
	info, _, err := vif.Load(base + ".vif")
	if err != nil || info.GetEcShardConfig().GetDataShards() != 10 || info.GetEcShardConfig().GetBlockSize() == 0 || info.GetDatFileSize() == 0 {
		t.Fatalf(".vif after generate: %v %v", info, err)
	}
	orig := map[int][]byte{}
	for i := 0; i < 14; i++ {
		b, err := os.ReadFile(ec.ShardFileName(base, i))
		if err != nil {
			t.Fatal(err)
		}
		orig[i] = b
	}

	if err := s.EcMount(7, "c", allShards(14)); err != nil {
		t.Fatal(err)
	}
	got, ok := s.EcVolume(7)
	if !ok || len(got.Shards) != 14 || got.DataShards != 10 || got.Parity != 4 || got.Files == 0 {
		t.Fatalf("EcVolume: %+v", got)
	}
	if err := s.UnmountVolume(7); err != nil {
		t.Fatal(err)
	}
	f.readAll(t, "healthy")

	// Degraded: four data shards gone, read back from parity.
	lost := []uint32{0, 1, 2, 5}
	if err := s.EcDeleteShards(7, "c", lost); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(base + ".ecx"); err != nil {
		t.Fatalf(".ecx removed with shards left: %v", err)
	}
	f.readAll(t, "degraded")

	rebuilt, err := s.EcRebuild(ctx, 7, "c")
	if err != nil || fmt.Sprint(rebuilt) != fmt.Sprint(lost) {
		t.Fatalf("rebuild: %v %v", rebuilt, err)
	}
	for _, id := range lost {
		b, err := os.ReadFile(ec.ShardFileName(base, int(id)))
		if err != nil || !bytes.Equal(b, orig[int(id)]) {
			t.Fatalf("rebuilt shard %d differs (%v)", id, err)
		}
	}
	if err := s.EcMount(7, "c", lost); err != nil {
		t.Fatal(err)
	}

	// Deletes after encoding land in the .ecj and survive a restart.
	var victim uint64
	for k := range f.live {
		victim = k
		break
	}
	if size, err := s.EcDelete(ctx, 7, victim, ecCookie+1); !errors.Is(err, ErrCookieMismatch) {
		t.Fatalf("delete with a wrong cookie: %d %v", size, err)
	}
	if _, err := s.EcDelete(ctx, 7, victim, ecCookie); err != nil {
		t.Fatal(err)
	}
	delete(f.live, victim)
	f.deleted[victim] = true
	if ids, err := ec.ReadJournal(base + ".ecj"); err != nil || len(ids) != 1 || ids[0] != victim {
		t.Fatalf(".ecj: %v %v", ids, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if f.s, err = OpenStore(f.config()); err != nil {
		t.Fatal(err)
	}
	s = f.s
	if got, ok := s.EcVolume(7); !ok || len(got.Shards) != 14 {
		t.Fatalf("after restart: %+v %v", got, ok)
	}
	f.readAll(t, "after restart")

	// Back to a normal volume; the deletes stay deleted.
	if err := s.EcToVolume(ctx, 7, "c"); err != nil {
		t.Fatal(err)
	}
	if err := s.MountVolume(7); err != nil {
		t.Fatal(err)
	}
	v, _ := s.Volume(7)
	for k, want := range f.live {
		if got := mustRead(t, v, k, ecCookie); !bytes.Equal(got, want) {
			t.Fatalf("decoded needle %d differs", k)
		}
	}
	for k := range f.deleted {
		var n needle.Needle
		if _, err := v.Read(&n, k, ecCookie, nil, ReadOptions{}); !errors.Is(err, ErrDeleted) && !errors.Is(err, ErrNotFound) {
			t.Fatalf("decoded deleted needle %d: %v", k, err)
		}
	}

	// The last shard removes the volume-wide files, not the volume's .vif.
	if err := s.EcDeleteShards(7, "c", allShards(14)); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.EcVolume(7); ok {
		t.Fatal("EC volume still mounted after its shards were deleted")
	}
	for _, ext := range []string{".ecx", ".ecj", ".ecsum", ".ec03"} {
		if _, err := os.Stat(base + ext); !os.IsNotExist(err) {
			t.Fatalf("%s after the last shard: %v", ext, err)
		}
	}
	if _, err := os.Stat(base + ".vif"); err != nil {
		t.Fatalf(".vif of the volume removed: %v", err)
	}
}

// Shards spread over two disks mount as one volume; a rebuild finds its
// inputs on both.
func TestEcStoreShardsOnTwoDisks(t *testing.T) {
	f := newEcFixture(t, 2, 40)
	s := f.s
	ctx := context.Background()
	if err := s.EcGenerate(ctx, 7, "c"); err != nil {
		t.Fatal(err)
	}
	from, to := filepath.Join(f.dirs[0], "c_7"), filepath.Join(f.dirs[1], "c_7")
	for i := 7; i < 14; i++ {
		if err := os.Rename(ec.ShardFileName(from, i), ec.ShardFileName(to, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.UnmountVolume(7); err != nil {
		t.Fatal(err)
	}
	if err := s.EcMount(7, "c", allShards(14)); err != nil {
		t.Fatal(err)
	}
	info, _ := s.EcVolume(7)
	disks := map[int]int{}
	for _, sh := range info.Shards {
		disks[sh.DiskID]++
	}
	if disks[0] != 7 || disks[1] != 7 {
		t.Fatalf("shards per disk: %v", disks)
	}
	f.readAll(t, "two disks")
	if err := s.EcDeleteShards(7, "c", []uint32{8, 12}); err != nil {
		t.Fatal(err)
	}
	if ids, err := s.EcRebuild(ctx, 7, "c"); err != nil || len(ids) != 2 {
		t.Fatalf("rebuild across disks: %v %v", ids, err)
	}
	if d, err := s.EcTarget(7, "c", 5, nil); err == nil || !strings.Contains(err.Error(), "invalid disk_id") {
		t.Fatalf("EcTarget disk 5: %d %v", d, err)
	}
}

func TestEcStoreRefusesHostileNames(t *testing.T) {
	f := newEcFixture(t, 1, 5)
	s := f.s
	if err := s.EcGenerate(context.Background(), 7, "c"); err != nil {
		t.Fatal(err)
	}
	if err := s.EcMount(7, "c", []uint32{0, 40}); err == nil {
		t.Fatal("shard 40 mounted")
	}
	if err := s.EcMount(7, "c", []uint32{0}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ coll, ext string }{
		{"c", "/../../x"}, {"c", ".dat"}, {"c", ".idx"}, {"c", ".ec00"}, {"../c", ".ec01"}, {"c", ".ec32"},
	} {
		in, err := s.EcCreateFile(0, 7, c.coll, c.ext)
		if err == nil {
			in.Abort()
			t.Errorf("EcCreateFile(%q, %q) accepted", c.coll, c.ext)
		}
	}
	if _, err := s.EcCreateFile(0, 7, "c", ".ec00"); err == nil || !strings.Contains(err.Error(), "mounted") {
		t.Errorf("overwrite of a mounted shard: %v", err)
	}
	if _, err := s.EcOpenFile(7, "c", "/../../etc/passwd"); err == nil {
		t.Error("EcOpenFile with a path ext")
	}
	in, err := s.EcCreateFile(0, 7, "c", ".ec03")
	if err != nil {
		t.Fatal(err)
	}
	in.Write([]byte("x"))
	in.Abort()
	if b, err := os.ReadFile(filepath.Join(f.dirs[0], "c_7.ec03")); err != nil || len(b) < 2 {
		t.Fatalf("an aborted receive touched the shard: %d %v", len(b), err)
	}
}

func TestEcMissingIndex(t *testing.T) {
	f := newEcFixture(t, 2, 10)
	if err := f.s.EcGenerate(context.Background(), 7, "c"); err != nil {
		t.Fatal(err)
	}
	if got := f.s.EcMissingIndex(); len(got) != 0 {
		t.Fatalf("with the .ecx: %+v", got)
	}
	from, to := filepath.Join(f.dirs[0], "c_7"), filepath.Join(f.dirs[1], "c_7")
	for _, i := range []int{3, 9} {
		if err := os.Rename(ec.ShardFileName(from, i), ec.ShardFileName(to, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(from + ".ecx"); err != nil {
		t.Fatal(err)
	}
	got := f.s.EcMissingIndex()
	if len(got) != 2 || got[0].Disk != 0 || len(got[0].Shards) != 12 || got[1].Disk != 1 || fmt.Sprint(got[1].Shards) != "[3 9]" || got[1].Collection != "c" || got[1].ID != 7 {
		t.Fatalf("orphans: %+v", got)
	}
}
