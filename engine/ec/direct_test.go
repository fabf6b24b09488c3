package ec

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"google.golang.org/protobuf/proto"
)

// TestTempShardsDirectThenBuffered: a shard written with aligned chunks
// and then an unaligned one holds exactly the bytes written, whether the
// file system took O_DIRECT or not, and the unaligned write leaves the
// shard buffered (direct writes of it would fail with EINVAL).
func TestTempShardsDirectThenBuffered(t *testing.T) {
	base := filepath.Join(t.TempDir(), "v")
	out, err := createTemps(base, []int{0}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer out.abort()
	aligned := getBacking(2 * directAlign)
	for i := range aligned {
		aligned[i] = byte(i * 7)
	}
	odd := []byte("an unaligned tail")
	steps := []struct {
		p         []byte
		wantStill bool // direct still on after the write, if it was on
	}{
		{aligned, true},
		{aligned[:directAlign], true},
		{odd, false},
		{aligned, false},
	}
	var want []byte
	var off int64
	wasDirect := out.direct[0]
	for i, st := range steps {
		if err := out.write(0, st.p, off); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		want = append(want, st.p...)
		off += int64(len(st.p))
		if got := out.direct[0]; got != (wasDirect && st.wantStill) {
			t.Fatalf("step %d: direct %v (started %v)", i, got, wasDirect)
		}
	}
	if err := out.commit(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(ShardFileName(base, 0))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("shard holds %d bytes (%v), want the %d written", len(got), err, len(want))
	}
	t.Logf("file system took O_DIRECT: %v", wasDirect)
}

// TestGetBackingAligned: pass buffers start on a directAlign boundary.
func TestGetBackingAligned(t *testing.T) {
	for _, n := range []int64{1, directAlign, 3<<20 + 5} {
		b := getBacking(n)
		if int64(len(b)) != n {
			t.Fatalf("getBacking(%d): len %d", n, len(b))
		}
		if p := uintptr(unsafe.Pointer(unsafe.SliceData(b))) % directAlign; p != 0 {
			t.Fatalf("getBacking(%d) starts %d bytes past a boundary", n, p)
		}
	}
}

// TestEncodeDirectModesAgree: the shards and sidecar of one volume are
// byte-identical whichever of direct shard writes and direct .dat reads is
// on, with an odd chunk size (direct writes fall back mid-file) and the
// default one, on a .dat whose length is not a multiple of the alignment.
func TestEncodeDirectModesAgree(t *testing.T) {
	defer func(w, r bool) { directShards, directReads = w, r }(directShards, directReads)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	data := bytes.Repeat([]byte("0123456789abcdefghij"), (3<<20)/20+77)
	if err := os.WriteFile(src+".dat", data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src+".idx", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var ref [][]byte
	for _, bufSize := range []int{0, 3*directAlign + 100} {
		for mode := 0; mode < 4; mode++ {
			directShards, directReads = mode&1 != 0, mode&2 != 0
			base := filepath.Join(dir, "out")
			res, err := Encode(context.Background(), src+".dat", src+".idx", base, base, 4, EncodeOptions{BufferSize: bufSize})
			if err != nil {
				t.Fatalf("buffer %d mode %d: %v", bufSize, mode, err)
			}
			var got [][]byte
			for i := 0; i < 14; i++ {
				b, err := os.ReadFile(ShardFileName(base, i))
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, b)
			}
			// the sidecar's checksums (its encode id is random)
			for _, sh := range res.Sums.Shards {
				b, err := proto.Marshal(sh)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, b)
			}
			if ref == nil {
				ref = got
				continue
			}
			for i := range got {
				if !bytes.Equal(got[i], ref[i]) {
					t.Fatalf("buffer %d mode %d: file %d differs", bufSize, mode, i)
				}
			}
		}
	}
}
