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
