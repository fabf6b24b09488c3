package ec

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/needle"
)

// upstreamTestDir holds upstream's erasure_coding test volume 1.dat/1.idx.
const upstreamTestDir = "/root/go/pkg/mod/github.com/seaweedfs/seaweedfs@v0.0.0-20261109003541-7506e5f91cd6/weed/storage/erasure_coding"

// testVolume is a generated volume: base.dat and base.idx, and the record
// bytes of every live needle.
type testVolume struct {
	base    string
	datSize int64
	live    map[uint64][]byte
	width   int
}

// genVolume writes a version-3 volume of exactly datSize bytes (a multiple
// of 8, at least 8) with random needles, some overwritten and some
// deleted, and its .idx with the given offset width.
func genVolume(t testing.TB, dir, name string, datSize int64, width int, seed uint64) *testVolume {
	t.Helper()
	if datSize%8 != 0 || datSize < 8 {
		t.Fatalf("bad dat size %d", datSize)
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	f, _ := idx.FormatFor(width)
	v := &testVolume{base: filepath.Join(dir, name), datSize: datSize, live: map[uint64][]byte{}, width: width}
	dat, err := os.Create(v.base + ".dat")
	if err != nil {
		t.Fatal(err)
	}
	defer dat.Close()
	sb := make([]byte, 8)
	sb[0] = 3
	if _, err := dat.Write(sb); err != nil {
		t.Fatal(err)
	}
	var idxRows []byte
	pos := int64(8)
	nextKey := uint64(1)
	var keys []uint64
	buf := make([]byte, 0, 1<<20)
	for pos < datSize {
		room := datSize - pos
		// A v3 record with data of length n takes 16+4+1+n+4+8 rounded up to 8.
		const overhead = 16 + 4 + 1 + 4 + 8
		maxData := int64(200 << 10)
		if r.IntN(8) == 0 {
			maxData = 3 << 20
		}
		var n int64
		if room < overhead+8+8 {
			n = -1 // filler: an unindexed zero gap
		} else {
			n = min(r.Int64N(maxData)+1, room-overhead-8)
		}
		if n < 0 {
			if _, err := dat.Write(make([]byte, room)); err != nil {
				t.Fatal(err)
			}
			pos += room
			break
		}
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		key := nextKey
		if len(keys) > 0 && r.IntN(10) == 0 {
			key = keys[r.IntN(len(keys))] // overwrite
		} else {
			nextKey += uint64(r.IntN(3) + 1)
			keys = append(keys, key)
		}
		nd := needle.Needle{ID: key, Cookie: r.Uint32(), Data: data, AppendAtNs: r.Uint64()}
		nd.Checksum = needle.NewCRC(data)
		buf = nd.Encode(buf[:0], needle.Version3)
		if int64(len(buf)) > room {
			if _, err := dat.Write(make([]byte, room)); err != nil {
				t.Fatal(err)
			}
			pos += room
			break
		}
		if _, err := dat.Write(buf); err != nil {
			t.Fatal(err)
		}
		idxRows = f.AppendEntry(idxRows, idx.Entry{Key: key, Offset: pos, Size: nd.Size})
		v.live[key] = append([]byte(nil), buf...)
		pos += int64(len(buf))
		if r.IntN(12) == 0 && len(keys) > 1 {
			del := keys[r.IntN(len(keys))]
			idxRows = f.AppendEntry(idxRows, idx.Entry{Key: del, Offset: 0, Size: -1})
			delete(v.live, del)
		}
	}
	if pos != datSize {
		t.Fatalf("generated %d bytes, want %d", pos, datSize)
	}
	if err := os.WriteFile(v.base+".idx", idxRows, 0o644); err != nil {
		t.Fatal(err)
	}
	return v
}

// copyUpstreamVolume copies upstream's 1.dat/1.idx into dir as name.
func copyUpstreamVolume(t testing.TB, dir, name string) string {
	t.Helper()
	base := filepath.Join(dir, name)
	for _, ext := range []string{".dat", ".idx"} {
		b, err := os.ReadFile(filepath.Join(upstreamTestDir, "1"+ext))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(base+ext, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return base
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameFile(t testing.TB, a, b string) {
	t.Helper()
	x, y := mustRead(t, a), mustRead(t, b)
	if !bytes.Equal(x, y) {
		t.Fatalf("%s (%d bytes) differs from %s (%d bytes)", a, len(x), b, len(y))
	}
}

func linkOrCopy(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.Link(src, dst); err == nil {
		return
	}
	if err := os.WriteFile(dst, mustRead(t, src), 0o644); err != nil {
		t.Fatal(err)
	}
}
