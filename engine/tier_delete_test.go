package engine

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/needle"
)

// lastIdxRow is the last row of v's .idx file.
func lastIdxRow(t *testing.T, v *Volume) (idx.Entry, int64) {
	t.Helper()
	b, err := os.ReadFile(v.FileName(".idx"))
	if err != nil {
		t.Fatal(err)
	}
	es := v.format.EntrySize()
	if len(b) < es {
		t.Fatalf(".idx holds %d bytes", len(b))
	}
	return v.format.Entry(b[len(b)-es:]), int64(len(b))
}

// TestTierDeletes: a volume served from a remote tier takes deletes as
// upstream's does, as .idx rows at offset 0 with no change to the remote
// object, and refuses writes. Deleted needles stay deleted across a
// reopen, the move back and a compaction. A single-copy volume takes
// deletes right after the upload; a replicated one keeps the operator's
// read-only mark until it is opened again.
func TestTierDeletes(t *testing.T) {
	for _, lay := range layouts {
		for _, repl := range []string{"000", "001"} {
			t.Run(fmt.Sprintf("%s/%s", lay.name, repl), func(t *testing.T) {
				data, index, _ := newDirs(t, lay.idxDir)
				tier := dirTier{t.TempDir()}
				s := tieredStore(t, data, index, tier)
				if err := s.AllocateVolume(crashVol, AllocateOptions{ReplicaPlacement: rp(t, repl)}); err != nil {
					t.Fatal(err)
				}
				v := mustVolume(t, s, crashVol)
				c := newContent()
				fill(t, v, c, 1, 40, 0)
				// volume.tier.upload marks the volume read-only first
				if err := v.SetReadOnly(true, true); err != nil {
					t.Fatal(err)
				}
				rf, err := toRemote(t, v, tier, false)
				if err != nil {
					t.Fatal(err)
				}
				object, err := os.ReadFile(tier.path(rf.Key))
				if err != nil {
					t.Fatal(err)
				}
				refusesWrite(t, v)
				const key = 3
				if repl == "001" {
					if got := reasonsOf(v); got != (reasons{true, true, true, false}) {
						t.Fatalf("replicated after the upload: reasons %+v", got)
					}
					if _, err := v.Delete(key, key, WriteOptions{}); !errors.Is(err, ErrReadOnly) {
						t.Fatalf("delete on a replicated volume before its reopen: %v", err)
					}
					s.Close()
					s = tieredStore(t, data, index, tier)
					v = mustVolume(t, s, crashVol)
				}
				if got := reasonsOf(v); got != (reasons{true, false, true, false}) {
					t.Fatalf("remote volume: reasons %+v", got)
				}
				_, rowsBefore := lastIdxRow(t, v)
				size, err := v.Delete(key, key, WriteOptions{Fsync: true})
				if err != nil || size <= int32(len(c.live[key])) {
					t.Fatalf("delete: size %d (stored %d), %v", size, len(c.live[key]), err)
				}
				delete(c.live, key)
				c.gone[key] = true
				row, rowsAfter := lastIdxRow(t, v)
				if rowsAfter != rowsBefore+int64(v.format.EntrySize()) || row != (idx.Entry{Key: key, Offset: 0, Size: needle.TombstoneSize}) {
					t.Fatalf(".idx %d -> %d bytes, last row %+v", rowsBefore, rowsAfter, row)
				}
				if size, err := v.Delete(key, key, WriteOptions{}); size != 0 || err != nil {
					t.Fatalf("second delete: %d, %v", size, err)
				}
				if st := v.Stats(); st.DeleteCount == 0 {
					t.Fatalf("stats after the delete: %+v", st)
				}
				c.check(t, v)
				if now, err := os.ReadFile(tier.path(rf.Key)); err != nil || !bytes.Equal(now, object) {
					t.Fatalf("the remote object changed (%v)", err)
				}

				s.Close()
				s = tieredStore(t, data, index, tier)
				v = mustVolume(t, s, crashVol)
				c.check(t, v)
				if err := fromRemote(v, tier, false); err != nil {
					t.Fatal(err)
				}
				c.check(t, v)
				// the .dat has no record of the delete: a full open must
				// accept the offset-0 row as the index's last
				s.Close()
				os.Remove(data + "/" + SummaryFile)
				s = openTestStore(t, data, index)
				v = mustVolume(t, s, crashVol)
				if v.IsDamaged() {
					t.Fatal("volume damaged after the move back")
				}
				c.check(t, v)
				if err := v.SetReadOnly(false, true); err != nil {
					t.Fatal(err)
				}
				takesWrite(t, v, c)
				if err := v.Compact(nil); err != nil {
					t.Fatal(err)
				}
				if v, err = v.CommitCompact(); err != nil {
					t.Fatal(err)
				}
				c.check(t, v)
			})
		}
	}
}

// TestTierRemoteSuper: a tiered volume that opens without its local .dat
// before its backend is known reports the .vif's super block (TTL and
// compaction revision zero); once the backend resolves,
// RefreshRemoteSupers reads the object's super block and the volume,
// reopened as its successor, reports the real one, serves the same
// needles and takes deletes; a volume opened with the backend known reads
// it at open and needs no refresh.
func TestTierRemoteSuper(t *testing.T) {
	data := t.TempDir()
	tier := dirTier{t.TempDir()}
	s := tieredStore(t, data, data, tier)
	ttl := needle.TTL{Count: 3, Unit: needle.TTLDay}
	if err := s.AllocateVolume(crashVol, AllocateOptions{ReplicaPlacement: rp(t, "010"), TTL: ttl}); err != nil {
		t.Fatal(err)
	}
	v := mustVolume(t, s, crashVol)
	c := newContent()
	fill(t, v, c, 1, 30, 0)
	if err := v.Compact(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitCompactVolume(crashVol); err != nil {
		t.Fatal(err)
	}
	v = mustVolume(t, s, crashVol)
	want := v.SuperBlock()
	if want.CompactionRevision != 1 || want.TTL != ttl {
		t.Fatalf("super block before the upload: %+v", want)
	}
	if _, err := toRemote(t, v, tier, false); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openTestStore(t, data, data) // no resolver yet
	old := mustVolume(t, s, crashVol)
	if sb := old.SuperBlock(); sb.TTL != (needle.TTL{}) || sb.CompactionRevision != 0 || sb.ReplicaPlacement != want.ReplicaPlacement {
		t.Fatalf("opened before the backend is known: %+v", sb)
	}
	if n := s.RefreshRemoteSupers(); n != 0 {
		t.Fatalf("refreshed %d volumes with no backend", n)
	}
	s.Tiers().Set(func(name string) (RemoteDat, bool) { return tier, name == testBackend })
	if n := s.RefreshRemoteSupers(); n != 1 {
		t.Fatalf("refreshed %d volumes, want 1", n)
	}
	if n := s.RefreshRemoteSupers(); n != 0 {
		t.Fatalf("second refresh: %d", n)
	}
	for _, v := range []*Volume{old, mustVolume(t, s, crashVol)} {
		if sb := v.SuperBlock(); !sameSuper(sb, want) {
			t.Fatalf("after the refresh: %+v, want %+v", sb, want)
		}
	}
	v = mustVolume(t, s, crashVol)
	if v == old || !v.IsRemote() || !v.ReadOnlyCanDelete() {
		t.Fatalf("successor %v remote %v can delete %v", v != old, v.IsRemote(), v.ReadOnlyCanDelete())
	}
	c.check(t, old)
	c.del(t, old, 2)
	c.check(t, v)
	s.Close()

	tiers := &RemoteTiers{}
	tiers.Set(func(name string) (RemoteDat, bool) { return tier, name == testBackend })
	s, err := OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: data, IdxDir: data, MaxVolumes: 8}}, Tiers: tiers, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if sb := mustVolume(t, s, crashVol).SuperBlock(); !sameSuper(sb, want) {
		t.Fatalf("opened with the backend known: %+v", sb)
	}
	if n := s.RefreshRemoteSupers(); n != 0 {
		t.Fatalf("refreshed %d volumes opened with their super block", n)
	}
	c.check(t, mustVolume(t, s, crashVol))
}

// TestTierRemoteSuperMoveBack: a tiered volume opened before its backend
// was known (the .vif's super block, guessed) and moved back to local disk
// before any refresh reports the downloaded .dat's super block, through a
// successor opened from the local files, while readers keep asking for it
// (under -race: no in-place change), serves every needle and takes writes
// once its mark is lifted.
func TestTierRemoteSuperMoveBack(t *testing.T) {
	data := t.TempDir()
	tier := dirTier{t.TempDir()}
	s := tieredStore(t, data, data, tier)
	ttl := needle.TTL{Count: 5, Unit: needle.TTLDay}
	if err := s.AllocateVolume(crashVol, AllocateOptions{ReplicaPlacement: rp(t, "001"), TTL: ttl}); err != nil {
		t.Fatal(err)
	}
	v := mustVolume(t, s, crashVol)
	c := newContent()
	fill(t, v, c, 1, 20, 0)
	want := v.SuperBlock()
	if _, err := toRemote(t, v, tier, false); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openTestStore(t, data, data) // no resolver: the super block is guessed
	defer s.Close()
	old := mustVolume(t, s, crashVol)
	if sb := old.SuperBlock(); sb.TTL == want.TTL {
		t.Fatalf("opened without the backend: TTL %v, want the .vif's guess", sb.TTL)
	}
	s.Tiers().Set(func(name string) (RemoteDat, bool) { return tier, name == testBackend })
	stop := make(chan struct{})
	readers := make(chan int, 4)
	for i := 0; i < 4; i++ {
		go func() {
			n := 0
			for {
				select {
				case <-stop:
					readers <- n
					return
				default:
					_ = old.SuperBlock().TTL
					_ = old.Version()
					n++
				}
			}
		}()
	}
	err := fromRemote(old, tier, false)
	close(stop)
	for i := 0; i < 4; i++ {
		<-readers
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []*Volume{old, mustVolume(t, s, crashVol)} {
		if sb := v.SuperBlock(); !sameSuper(sb, want) {
			t.Fatalf("after the move back: %+v, want %+v", sb, want)
		}
		if v.IsRemote() {
			t.Fatal("still remote after the move back")
		}
	}
	c.check(t, old)
	if err := old.SetReadOnly(false, true); err != nil {
		t.Fatal(err)
	}
	takesWrite(t, old, c)
}
