package engine

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/engine/vif"
)

// reasons is ReadOnlyReasons as one comparable value.
type reasons struct{ ro, noWD, noWCD, low bool }

func reasonsOf(v *Volume) reasons {
	ro, a, b, c := v.ReadOnlyReasons()
	return reasons{ro, a, b, c}
}

// refusesWrite checks that a write to v fails with ErrReadOnly.
func refusesWrite(t *testing.T, v *Volume) {
	t.Helper()
	n := needle.Needle{ID: 1 << 41, Cookie: 1, Data: []byte("refused")}
	if _, err := v.Write(&n, WriteOptions{}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write: %v, want %v", err, ErrReadOnly)
	}
}

// TestReadOnlyModes walks a volume through upstream's marks (read-only
// refusing deletes, read-only taking deletes, writable), persisted, and
// checks what each refuses, the reasons reported, the .vif, and that the
// mark survives a full open and a cold open from the volume summary.
func TestReadOnlyModes(t *testing.T) {
	steps := []struct {
		name              string
		readOnly, canDel  bool
		want              reasons
		vifRO, vifCanDel  bool
		writes, deletions bool
	}{
		{"read-only", true, false, reasons{true, true, false, false}, true, false, false, false},
		{"read-only can delete", true, true, reasons{true, false, true, false}, true, true, false, true},
		{"writable", false, false, reasons{}, false, false, true, true},
		{"writable ignores can delete", false, true, reasons{}, false, false, true, true},
	}
	for _, st := range steps {
		for _, reopen := range []string{"full", "cold"} {
			t.Run(st.name+"/"+reopen, func(t *testing.T) {
				data := t.TempDir()
				s := openTestStore(t, data, data)
				if err := s.AllocateVolume(crashVol, AllocateOptions{}); err != nil {
					t.Fatal(err)
				}
				v := mustVolume(t, s, crashVol)
				c := newContent()
				fill(t, v, c, 1, 20, 0)
				if err := v.SetReadOnlyMode(st.readOnly, st.canDel, true); err != nil {
					t.Fatal(err)
				}
				for pass := 0; pass < 2; pass++ {
					if got := reasonsOf(v); got != st.want {
						t.Fatalf("pass %d: reasons %+v, want %+v", pass, got, st.want)
					}
					if v.ReadOnlyCanDelete() != st.want.noWCD || v.IsReadOnly() != st.want.ro {
						t.Fatalf("pass %d: can delete %v read-only %v", pass, v.ReadOnlyCanDelete(), v.IsReadOnly())
					}
					info, _, err := vif.Load(v.FileName(".vif"))
					if err != nil || info.ReadOnly != st.vifRO || info.ReadOnlyCanDelete != st.vifCanDel {
						t.Fatalf("pass %d: .vif %v: %v", pass, info, err)
					}
					if st.writes {
						c.put(t, v, uint64(100+pass), []byte("write"))
					} else {
						refusesWrite(t, v)
					}
					key := uint64(2 + pass*4)
					_, err = v.Delete(key, uint32(key), WriteOptions{})
					if st.deletions {
						if err != nil {
							t.Fatalf("pass %d: delete: %v", pass, err)
						}
						delete(c.live, key)
						c.gone[key] = true
					} else if !errors.Is(err, ErrReadOnly) {
						t.Fatalf("pass %d: delete: %v, want %v", pass, err, ErrReadOnly)
					}
					c.check(t, v)
					s.Close()
					if reopen == "full" {
						if err := os.Remove(filepath.Join(data, SummaryFile)); err != nil {
							t.Fatal(err)
						}
					}
					s = openTestStore(t, data, data)
					v = mustVolume(t, s, crashVol)
				}
			})
		}
	}
}

// TestReadOnlyNotPersisted: a mark set without persist is lost at the
// next open, as upstream's.
func TestReadOnlyNotPersisted(t *testing.T) {
	data := t.TempDir()
	s := openTestStore(t, data, data)
	if err := s.AllocateVolume(crashVol, AllocateOptions{}); err != nil {
		t.Fatal(err)
	}
	v := mustVolume(t, s, crashVol)
	if err := v.SetReadOnlyMode(true, true, false); err != nil {
		t.Fatal(err)
	}
	if got := reasonsOf(v); got != (reasons{true, false, true, false}) {
		t.Fatalf("reasons %+v", got)
	}
	s.Close()
	s = openTestStore(t, data, data)
	if v = mustVolume(t, s, crashVol); v.IsReadOnly() || v.ReadOnlyCanDelete() {
		t.Fatalf("reopened: read-only %v can delete %v", v.IsReadOnly(), v.ReadOnlyCanDelete())
	}
}
