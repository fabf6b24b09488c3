package mmapidx

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// fuzzSeeds returns (.idx, .wvx, wide) triples: valid pairs, a missing
// .wvx, and damaged ones.
type fuzzSeed struct {
	idx, wvx []byte
	wide     bool
}

func fuzzSeeds(tb testing.TB) []fuzzSeed {
	var seeds []fuzzSeed
	dir := tb.TempDir()
	for _, c := range replayCases {
		for _, w := range widths {
			idx := encodeRows(w, c.rows)
			path := filepath.Join(dir, fmt.Sprintf("%d.idx", len(seeds)))
			if err := os.WriteFile(path, idx, 0o644); err != nil {
				tb.Fatal(err)
			}
			ix, err := Open(path, w)
			if err != nil {
				tb.Fatal(err)
			}
			ix.Close()
			wvx, err := os.ReadFile(wvxPath(path))
			if err != nil {
				tb.Fatal(err)
			}
			wide := w == Offset5
			seeds = append(seeds, fuzzSeed{idx, wvx, wide}, fuzzSeed{idx, nil, wide})
			if len(wvx) > headerSize {
				cut := wvx[:len(wvx)-1]
				seeds = append(seeds, fuzzSeed{idx, cut, wide}, fuzzSeed{idx, wvx, !wide})
			}
		}
	}
	return seeds
}

// FuzzOpen feeds arbitrary .idx and .wvx contents to Open: it must return
// a usable index (or an error), never panic or read out of range; when the
// .wvx was rebuilt, or verifies and the .idx fits in its two windows, the
// index must equal the reference replay.
func FuzzOpen(f *testing.F) {
	defer func(s bool) { syncFiles = s }(syncFiles)
	syncFiles = false
	for _, s := range fuzzSeeds(f) {
		f.Add(s.idx, s.wvx, s.wide)
	}
	f.Fuzz(func(t *testing.T, idx, wvx []byte, wide bool) {
		w := Offset4
		if wide {
			w = Offset5
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "1.idx")
		if err := os.WriteFile(path, idx, 0o644); err != nil {
			t.Fatal(err)
		}
		if len(wvx) > 0 {
			if err := os.WriteFile(wvxPath(path), wvx, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ix, err := Open(path, w)
		if err != nil {
			t.Fatalf("Open: %v", err) // any .idx can be replayed
		}
		defer ix.Close()
		es := entrySize(w)
		var rows []row
		for i := 0; i+es <= len(idx); i += es {
			k, off, size := decodeIdxEntry(idx[i:], w)
			rows = append(rows, row{k, off, size})
		}
		if ix.IdxSize() != int64(len(rows)*es) {
			t.Fatalf("IdxSize = %d for %d rows", ix.IdxSize(), len(rows))
		}
		ref := refOf(rows, w)
		if ix.OpenInfo().Rebuilt || (ix.Verify() == nil && len(idx) <= 2*idxWindow) {
			check(t, ix, ref)
			return
		}
		// A .wvx with a sound header and damaged records: lookups may be
		// wrong but must stay in range.
		for k := range ref.m {
			ix.Get(k)
			ix.Get(k + 1)
		}
		ix.Ascend(func(uint64, uint64, int32) bool { return true })
		ix.Put(1, 1, 1)
		ix.Delete(2)
	})
}

// FuzzDecodeHeader checks that any header decodeHeader accepts encodes back
// to the same bytes.
func FuzzDecodeHeader(f *testing.F) {
	var b [headerSize]byte
	(&header{width: Offset5, count: 1, covered: 17}).encode(b[:])
	f.Add(b[:])
	(&header{width: Offset4}).encode(b[:])
	f.Add(b[:])
	f.Add([]byte("WVXIDX\x00\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHeader(b)
		if err != nil {
			return
		}
		var out [headerSize]byte
		h.encode(out[:])
		if string(out[:]) != string(b[:headerSize]) {
			t.Fatalf("re-encoded header differs:\n%x\n%x", out, b[:headerSize])
		}
		if h.fileSize() < headerSize {
			t.Fatalf("fileSize %d overflowed", h.fileSize())
		}
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzOpen from a sample of
// fuzzSeeds when MMAPIDX_WRITE_CORPUS is set.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("MMAPIDX_WRITE_CORPUS") == "" {
		t.Skip("set MMAPIDX_WRITE_CORPUS=1 to regenerate testdata/fuzz/FuzzOpen")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzOpen")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range fuzzSeeds(t) {
		if i%6 != 0 {
			continue // f.Add has them all; keep a sample on disk
		}
		data := "go test fuzz v1\n" +
			"[]byte(" + strconv.Quote(string(s.idx)) + ")\n" +
			"[]byte(" + strconv.Quote(string(s.wvx)) + ")\n" +
			"bool(" + strconv.FormatBool(s.wide) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%03d", i)), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
