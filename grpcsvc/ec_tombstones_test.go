package grpcsvc

import (
	"encoding/binary"
	"slices"
	"testing"
)

// ecxFile builds .ecx rows of width 16 or 17 for keys, with sizes.
func ecxFile(width int, keys []uint64, sizes []int32) []byte {
	var out []byte
	for i, k := range keys {
		row := make([]byte, width)
		binary.BigEndian.PutUint64(row, k)
		row[8] = byte(i + 1) // an offset
		binary.BigEndian.PutUint32(row[width-4:], uint32(sizes[i]))
		out = append(out, row...)
	}
	return out
}

func TestEcxTombstones(t *testing.T) {
	keys := []uint64{2, 5, 9, 1 << 33, 1<<40 + 7}
	sizes := []int32{100, -1, 30, -100, 0}
	tests := []struct {
		name string
		file []byte
		want []uint64
	}{
		{"4-byte offsets", ecxFile(16, keys, sizes), []uint64{5, 1 << 33}},
		{"5-byte offsets", ecxFile(17, keys, sizes), []uint64{5, 1 << 33}},
		{"no tombstones", ecxFile(16, keys[:3], []int32{1, 2, 3}), nil},
		{"empty", nil, nil},
		{"torn", ecxFile(16, keys, sizes)[:70], nil},
	}
	for _, tt := range tests {
		for piece := 1; piece <= max(len(tt.file), 1); piece += 3 {
			tb := newEcxTombstones()
			for off := 0; off < len(tt.file); off += piece {
				if err := tb.write(tt.file[off:min(off+piece, len(tt.file))]); err != nil {
					t.Fatal(err)
				}
			}
			if got := tb.ids(); !slices.Equal(got, tt.want) {
				t.Fatalf("%s in pieces of %d: %v, want %v", tt.name, piece, got, tt.want)
			}
		}
	}
}

// FuzzEcxTombstones: any bytes, cut anywhere, give the same answer as in
// one piece, and the keys found are ascending.
func FuzzEcxTombstones(f *testing.F) {
	f.Add(ecxFile(16, []uint64{1, 2, 3}, []int32{-1, 5, -1}), 5)
	f.Add(ecxFile(17, []uint64{1, 9}, []int32{4, -1}), 16)
	f.Add([]byte{1, 2, 3}, 1)
	f.Fuzz(func(t *testing.T, b []byte, cut int) {
		whole := newEcxTombstones()
		if err := whole.write(b); err != nil {
			return
		}
		parts := newEcxTombstones()
		cut = max(cut%max(len(b), 1), 0)
		if parts.write(b[:cut]) != nil || parts.write(b[cut:]) != nil {
			t.Fatal("a piecewise write failed where the whole one did not")
		}
		got := parts.ids()
		if !slices.Equal(got, whole.ids()) {
			t.Fatalf("cut at %d: %v, whole: %v", cut, got, whole.ids())
		}
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Fatalf("keys not ascending: %v", got)
			}
		}
	})
}

// FuzzEcjDecoder: any journal, cut anywhere, decodes to the same distinct
// ids as in one piece.
func FuzzEcjDecoder(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 7, 1}, 3)
	f.Fuzz(func(t *testing.T, b []byte, cut int) {
		var whole, parts ecjDecoder
		if whole.write(b) != nil {
			return
		}
		cut = max(cut%max(len(b), 1), 0)
		if parts.write(b[:cut]) != nil || parts.write(b[cut:]) != nil {
			t.Fatal("a piecewise write failed")
		}
		if !slices.Equal(whole.ids(), parts.ids()) {
			t.Fatalf("cut at %d: %v vs %v", cut, parts.ids(), whole.ids())
		}
		if len(whole.ids()) > len(b)/8 {
			t.Fatalf("%d ids from %d bytes", len(whole.ids()), len(b))
		}
	})
}
