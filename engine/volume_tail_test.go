package engine

import (
	"testing"

	"github.com/weedvol/weedvol/engine/needle"
)

func TestFirstAppendAfter(t *testing.T) {
	dir := t.TempDir()
	v := newVolume(t, dir, engines(t)["sync"], needle.Version3, 4)
	defer v.Close()
	if _, ok, err := v.FirstAppendAfter(0); ok || err != nil {
		t.Fatalf("empty volume: ok %v, err %v", ok, err)
	}
	// records in append order: writes, a delete, an overwrite
	type rec struct {
		off int64
		ts  uint64
	}
	var recs []rec
	for key := uint64(1); key <= 9; key++ {
		n := needle.Needle{ID: key, Cookie: 7, Data: make([]byte, int(key)*100)}
		res, err := v.Write(&n, WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec{res.Offset, n.AppendAtNs})
		if key == 5 {
			if _, err := v.Delete(3, 7, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, r := range recs {
		got, ok, err := v.FirstAppendAfter(r.ts - 1)
		if err != nil || !ok || got != r.off {
			t.Fatalf("since just before record %d: offset %d ok %v err %v, want %d", i, got, ok, err, r.off)
		}
		if i+1 < len(recs) && i != 4 { // after record 4 comes the tombstone
			got, ok, err = v.FirstAppendAfter(r.ts)
			if err != nil || !ok || got != recs[i+1].off {
				t.Fatalf("since record %d: offset %d ok %v err %v, want %d", i, got, ok, err, recs[i+1].off)
			}
		}
	}
	// the tombstone sits between records 4 and 5
	got, ok, err := v.FirstAppendAfter(recs[4].ts)
	if err != nil || !ok || got <= recs[4].off || got >= recs[5].off {
		t.Fatalf("since record 4: offset %d ok %v err %v, want the tombstone between %d and %d", got, ok, err, recs[4].off, recs[5].off)
	}
	if _, ok, err := v.FirstAppendAfter(recs[len(recs)-1].ts); ok || err != nil {
		t.Fatalf("since the last record: ok %v err %v", ok, err)
	}
	if got, ok, _ := v.FirstAppendAfter(0); !ok || got != recs[0].off {
		t.Fatalf("since 0: %d %v", got, ok)
	}
}

func TestFirstAppendAfterWithoutTimestamps(t *testing.T) {
	v := newVolume(t, t.TempDir(), engines(t)["sync"], needle.Version2, 4)
	defer v.Close()
	mustWrite(t, v, 1, 1, []byte("x"))
	if _, ok, err := v.FirstAppendAfter(0); ok || err != nil {
		t.Fatalf("v2 volume: ok %v err %v", ok, err)
	}
}
