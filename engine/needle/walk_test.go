package needle

import (
	"errors"
	"strings"
	"testing"
)

func TestWalkRecords(t *testing.T) {
	var dat []byte
	var offs []int64
	for i := 1; i <= 4; i++ {
		n := Needle{Cookie: 1, ID: uint64(i), Data: []byte(strings.Repeat("w", i*3))}
		n.Checksum = NewCRC(n.Data)
		offs = append(offs, int64(len(dat)))
		dat = n.Encode(dat, Version3)
	}
	read := func(p []byte, off int64) error {
		if off+int64(len(p)) > int64(len(dat)) {
			return errors.New("short read")
		}
		copy(p, dat[off:])
		return nil
	}
	var visited, loaded []int64
	visit := func(off int64, h Header) (bool, error) {
		visited = append(visited, off)
		return h.ID%2 == 0, nil
	}
	fn := func(off int64, rec []byte) error {
		var n Needle
		if err := n.DecodeAny(rec, Version3); err != nil || n.ID%2 != 0 {
			t.Fatalf("record at %d: id %d, %v", off, n.ID, err)
		}
		loaded = append(loaded, off)
		return nil
	}
	if _, err := WalkRecords(read, Version3, 0, int64(len(dat)), nil, visit, fn); err != nil {
		t.Fatal(err)
	}
	if len(visited) != 4 || len(loaded) != 2 || loaded[0] != offs[1] || loaded[1] != offs[3] {
		t.Fatalf("visited %v, loaded %v, records at %v", visited, loaded, offs)
	}

	all := func(int64, Header) (bool, error) { return true, nil }
	none := func(int64, []byte) error { return nil }
	stop := errors.New("stop")
	for _, tc := range []struct {
		name  string
		end   int64
		visit func(int64, Header) (bool, error)
		want  string
	}{
		{"cut last record", int64(len(dat)) - 8, all, "runs past the end"},
		{"visit stops", int64(len(dat)), func(int64, Header) (bool, error) { return false, stop }, "stop"},
	} {
		if _, err := WalkRecords(read, Version3, 0, tc.end, nil, tc.visit, none); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	bad := append([]byte(nil), dat...)
	bad[12] = 0xff // size field of the first record negative
	badRead := func(p []byte, off int64) error { copy(p, bad[off:]); return nil }
	if _, err := WalkRecords(badRead, Version3, 0, int64(len(bad)), nil, all, none); err == nil || !strings.Contains(err.Error(), "negative size") {
		t.Errorf("negative size: %v", err)
	}
}
