package httpfast

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"reflect"
	"testing"
)

func TestParseManifest(t *testing.T) {
	tests := []struct {
		name       string
		data       string
		compressed bool
		want       chunkManifest
		total      int64
		bad        bool
	}{
		{name: "upstream's marshalling", data: `{"name":"a.bin","mime":"application/octet-stream","size":7,"chunks":[{"fid":"3,01","offset":0,"size":7}]}`,
			want: chunkManifest{Name: "a.bin", Mime: "application/octet-stream", Size: 7, Chunks: []chunkInfo{{"3,01", 0, 7}}}, total: 7},
		{name: "sorted by offset, ties keep their order", data: `{"chunks":[{"fid":"b","offset":5,"size":5},{"fid":"a","offset":0,"size":5},{"fid":"c","offset":5,"size":1}]}`,
			want: chunkManifest{Chunks: []chunkInfo{{"a", 0, 5}, {"b", 5, 5}, {"c", 5, 1}}}, total: 11},
		{name: "field names in any case, as encoding/json", data: `{"Name":"x","CHUNKS":[{"Fid":"1,2","Size":3}]}`,
			want: chunkManifest{Name: "x", Chunks: []chunkInfo{{"1,2", 0, 3}}}, total: 3},
		{name: "empty", data: `{}`, want: chunkManifest{}},
		{name: "not JSON", data: `chunks`, bad: true},
		{name: "wrong types", data: `{"chunks":{"fid":1}}`, bad: true},
		{name: "flagged compressed but plain", data: `{"size":1}`, compressed: true, want: chunkManifest{Size: 1}},
		{name: "negative size", data: `{"chunks":[{"fid":"1,2","size":-1}]}`, want: chunkManifest{Chunks: []chunkInfo{{"1,2", 0, -1}}}, total: -1},
		{name: "overflowing sizes", data: `{"chunks":[{"fid":"a","size":9223372036854775807},{"fid":"b","offset":1,"size":1}]}`,
			want: chunkManifest{Chunks: []chunkInfo{{"a", 0, 1<<63 - 1}, {"b", 1, 1}}}, total: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := parseManifest([]byte(tc.data), tc.compressed)
			if (err != nil) != tc.bad {
				t.Fatalf("err %v, want failure %v", err, tc.bad)
			}
			if tc.bad {
				return
			}
			if !reflect.DeepEqual(m, tc.want) {
				t.Fatalf("got %+v, want %+v", m, tc.want)
			}
			total, err := m.total()
			if tc.total < 0 {
				if err == nil {
					t.Fatalf("total %d, want an error", total)
				}
			} else if err != nil || total != tc.total {
				t.Fatalf("total %d %v, want %d", total, err, tc.total)
			}
		})
	}
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// FuzzParseManifest checks that any input either fails or yields chunks
// sorted by offset that survive a round trip, and that gzip (when the
// needle is flagged compressed) changes nothing.
func FuzzParseManifest(f *testing.F) {
	for _, seed := range []string{
		`{"name":"a.bin","mime":"application/octet-stream","size":7,"chunks":[{"fid":"3,01637037d6","offset":0,"size":7}]}`,
		`{"chunks":[{"fid":"b","offset":5,"size":5},{"fid":"a","offset":0,"size":5}]}`,
		`{"chunks":[null,{"fid":"a","offset":-1,"size":-5}]}`,
		`{"size":1e3}`,
		`{"name":"\u00e9\ud800","chunks":[]}`,
		`[]`,
		`null`,
		"\x1f\x8b",
		``,
	} {
		f.Add([]byte(seed), false)
		f.Add(gzipped([]byte(seed)), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, compressed bool) {
		m, err := parseManifest(data, compressed)
		if err != nil {
			return
		}
		for i := 1; i < len(m.Chunks); i++ {
			if m.Chunks[i-1].Offset > m.Chunks[i].Offset {
				t.Fatalf("chunks not sorted: %+v", m.Chunks)
			}
		}
		if total, err := m.total(); err == nil && total < 0 {
			t.Fatalf("negative total %d", total)
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := parseManifest(again, false)
		if err != nil || !reflect.DeepEqual(normalize(m), normalize(m2)) {
			t.Fatalf("round trip: %+v != %+v (%v)", m, m2, err)
		}
		m3, err := parseManifest(gzipped(again), true)
		if err != nil || !reflect.DeepEqual(normalize(m2), normalize(m3)) {
			t.Fatalf("gzip changed the manifest: %+v != %+v (%v)", m2, m3, err)
		}
	})
}

// normalize maps an empty chunk list to nil (omitempty drops it).
func normalize(m chunkManifest) chunkManifest {
	if len(m.Chunks) == 0 {
		m.Chunks = nil
	}
	return m
}
