//go:build unix

package mmapidx

import "testing"

// TestMappedBytesFollowsMappings opens a persisted index (mapped) and
// closes it: MappedBytes rises by the mapping's size and falls back.
func TestMappedBytesFollowsMappings(t *testing.T) {
	v := newVol(t, Offset4)
	var rows []row
	for k := range uint64(5000) {
		rows = append(rows, row{k + 1, k + 1, int32(k + 1)})
	}
	v.writeIdx(rows)
	v.open().Close() // builds and persists the index
	before := MappedBytes()
	ix := v.open()
	if ix.OpenInfo().Rebuilt {
		t.Fatalf("second open rebuilt the index: %+v", ix.OpenInfo())
	}
	if got := MappedBytes() - before; got <= 0 {
		t.Errorf("a mapped index adds %d mapped bytes", got)
	}
	ix.Close()
	if got := MappedBytes(); got != before {
		t.Errorf("after Close %d mapped bytes, want %d", got, before)
	}
}
