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
