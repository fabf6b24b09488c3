package mmapidx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

var widths = []int{Offset4, Offset5}

func TestIdxEntryRoundTrip(t *testing.T) {
	cases := []row{
		{0, 0, 0},
		{1, 1, 1},
		{1<<64 - 1, 1<<32 - 1, -1},
		{42, 1<<40 - 1, 1<<31 - 1},
		{7, 0x12_3456_789a, -5},
	}
	for _, w := range widths {
		for _, c := range cases {
			b := appendIdxEntry(nil, w, c.key, c.offset, c.size)
			if len(b) != entrySize(w) {
				t.Fatalf("width %d: encoded %d bytes", w, len(b))
			}
			k, off, size := decodeIdxEntry(b, w)
			if k != c.key || off != c.offset&offsetMask(w) || size != c.size {
				t.Fatalf("width %d: %+v round-tripped to %d %d %d", w, c, k, off, size)
			}
		}
	}
	// Upstream's 5-byte layout: low 32 bits big-endian, then the high byte.
	got := appendIdxEntry(nil, Offset5, 1, 0xAB_0102_0304, 9)
	want := []byte{0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 0xAB, 0, 0, 0, 9}
	if !bytes.Equal(got, want) {
		t.Fatalf("5-byte entry = %x, want %x", got, want)
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	h := header{
		width: Offset5, count: 3,
		metrics: Metrics{FileCount: 1, FileBytes: 2, DeletionCount: 3, DeletionBytes: 4, MaxFileKey: 5},
		covered: 17 * 4, idxHeadCRC: 6, idxTailCRC: 7, keysCRC: 8, valsCRC: 9, hiCRC: 10,
	}
	var b [headerSize]byte
	h.encode(b[:])
	got, err := decodeHeader(b[:])
	if err != nil || got != h {
		t.Fatalf("decode = %+v, %v; want %+v", got, err, h)
	}
	bad := []struct {
		name string
		mut  func(b []byte)
	}{
		{"short", nil},
		{"magic", func(b []byte) { b[0] ^= 1 }},
		{"crc", func(b []byte) { b[hdrCRC] ^= 1 }},
		{"any byte", func(b []byte) { b[hdrMaxKey+3] ^= 0x80 }},
		{"reserved", func(b []byte) { b[hdrReserved+3] = 1; reseal(b) }},
		{"width", func(b []byte) { b[hdrWidth] = 6; reseal(b) }},
		{"version", func(b []byte) { b[hdrVersion] = 2; reseal(b) }},
		{"covered not entries", func(b []byte) { b[hdrCovered] = 18; reseal(b) }},
		{"count above covered", func(b []byte) { b[hdrCount] = 5; reseal(b) }},
		{"huge count", func(b []byte) {
			binary.LittleEndian.PutUint64(b[hdrCount:], 1<<63)
			binary.LittleEndian.PutUint64(b[hdrCovered:], 1<<63)
			reseal(b)
		}},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			b := slices.Clone(b[:])
			if c.mut == nil {
				b = b[:headerSize-1]
			} else {
				c.mut(b)
			}
			if _, err := decodeHeader(b); !errors.Is(err, errCorrupt) {
				t.Fatalf("decodeHeader = %v, want errCorrupt", err)
			}
		})
	}
}

// reseal recomputes a header's CRC after a test changed a field.
func reseal(b []byte) {
	binary.LittleEndian.PutUint32(b[hdrCRC:], crc32.Checksum(b[:hdrCRC], castagnoli))
}

// replayCases are .idx contents exercising every branch of the replay.
var replayCases = []struct {
	name string
	rows []row
}{
	{"empty", nil},
	{"one", []row{{1, 8, 100}}},
	{"ascending", []row{{1, 1, 10}, {2, 2, 20}, {3, 3, 30}}},
	{"descending", []row{{3, 3, 30}, {2, 2, 20}, {1, 1, 10}}},
	{"overwrite", []row{{5, 1, 10}, {5, 2, 20}, {5, 3, 30}}},
	{"delete", []row{{5, 1, 10}, {5, 9, -1}}},
	{"delete with offset 0", []row{{5, 1, 10}, {5, 0, 10}}},
	{"delete with other negative size", []row{{5, 1, 10}, {5, 4, -77}}},
	{"delete absent", []row{{9, 0, -1}, {1, 1, 1}}},
	{"delete twice", []row{{5, 1, 10}, {5, 2, -1}, {5, 3, -1}}},
	{"re-put after delete", []row{{5, 1, 10}, {5, 2, -1}, {5, 3, 40}}},
	{"overwrite deleted", []row{{5, 1, 10}, {5, 2, -1}, {5, 3, 40}, {5, 4, 50}}},
	{"zero size", []row{{5, 1, 0}, {5, 2, 0}, {5, 3, -1}, {6, 1, 0}, {6, 1, 0}}},
	{"zero size then put", []row{{5, 1, 0}, {5, 9, 4}}},
	{"put with offset 0", []row{{5, 0, 10}}},
	{"key 0 and max", []row{{0, 1, 1}, {1<<64 - 1, 2, 2}, {0, 0, -1}}},
	{"big offsets", []row{{1, 1<<32 - 1, 5}, {2, 1<<40 - 1, 6}, {3, 1 << 32, 7}}},
	{"big sizes", []row{{1, 1, 1<<31 - 1}, {1, 2, 1<<31 - 1}, {1, 3, -1}}},
	{"interleaved", []row{
		{10, 1, 1}, {3, 2, 2}, {10, 3, 3}, {7, 4, 4}, {3, 5, -1}, {8, 0, -1},
		{7, 6, -1}, {3, 7, 7}, {1 << 50, 8, 8}, {10, 9, -1}, {7, 10, 0},
	}},
}

func TestOpenReplay(t *testing.T) {
	for _, w := range widths {
		for _, c := range replayCases {
			t.Run(fmt.Sprintf("w%d/%s", w, c.name), func(t *testing.T) {
				v := newVol(t, w)
				v.writeIdx(c.rows)
				ref := refOf(c.rows, w)

				ix := v.open()
				if !ix.OpenInfo().Rebuilt {
					t.Fatal("first open did not build the .wvx")
				}
				if got, want := ix.IdxSize(), int64(len(c.rows)*entrySize(w)); got != want {
					t.Fatalf("IdxSize = %d, want %d", got, want)
				}
				check(t, ix, ref)
				if err := ix.Verify(); err != nil {
					t.Fatal(err)
				}
				if err := ix.Close(); err != nil {
					t.Fatal(err)
				}

				ix = v.open()
				defer ix.Close()
				if info := ix.OpenInfo(); info.Rebuilt || info.TailEntries != 0 {
					t.Fatalf("reopen: %+v, want warm open", info)
				}
				check(t, ix, ref)
			})
		}
	}
}

func TestReopenReplaysTail(t *testing.T) {
	for _, w := range widths {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			v := newVol(t, w)
			var rows []row
			for k := range uint64(1000) {
				rows = append(rows, row{k + 1, k + 1, int32(k)})
			}
			v.writeIdx(rows)
			ix := v.open()
			ix.Close()

			// Rows appended without the index seeing them, as after a crash.
			tail := []row{{5, 2000, 50}, {6, 0, -1}, {5000, 2001, 1}, {7, 3, -1}, {7, 2002, 70}}
			v.appendIdx(tail...)
			rows = append(rows, tail...)
			ix = v.open()
			info := ix.OpenInfo()
			if info.Rebuilt || info.TailEntries != int64(len(tail)) {
				t.Fatalf("info = %+v, want warm open replaying %d entries", info, len(tail))
			}
			if ix.DeltaLen() != 4 {
				t.Fatalf("DeltaLen = %d, want 4", ix.DeltaLen())
			}
			check(t, ix, refOf(rows, w))
			ix.Close() // small delta: not persisted

			ix = v.open()
			defer ix.Close()
			if info := ix.OpenInfo(); info.Rebuilt || info.TailEntries != int64(len(tail)) {
				t.Fatalf("info = %+v, want the same tail replayed again", info)
			}
			check(t, ix, refOf(rows, w))
		})
	}
}

func TestLargeTailPersistedOnOpen(t *testing.T) {
	v := newVol(t, Offset4)
	rows := []row{{1, 1, 1}, {2, 2, 2}}
	v.writeIdx(rows)
	v.open().Close()
	tail := []row{{3, 3, 3}, {4, 4, 4}, {1, 5, -1}}
	v.appendIdx(tail...)
	rows = append(rows, tail...)
	ix := v.open()
	if ix.OpenInfo().TailEntries != 3 || ix.DeltaLen() != 0 {
		t.Fatalf("info %+v, DeltaLen %d: want a tail of 3 persisted", ix.OpenInfo(), ix.DeltaLen())
	}
	ix.Close()
	ix = v.open()
	defer ix.Close()
	if info := ix.OpenInfo(); info.Rebuilt || info.TailEntries != 0 {
		t.Fatalf("info = %+v", info)
	}
	check(t, ix, refOf(rows, Offset4))
}

func TestStaleOrCorruptRebuilt(t *testing.T) {
	base := []row{{1, 1, 10}, {2, 2, 20}, {3, 3, 30}, {2, 4, -1}, {4, 5, 40}}
	type mut struct {
		name string
		do   func(t *testing.T, v *vol) []row // returns the .idx rows after
	}
	flip := func(off int64) func(t *testing.T, v *vol) []row {
		return func(t *testing.T, v *vol) []row {
			b, err := os.ReadFile(v.wvx())
			if err != nil {
				t.Fatal(err)
			}
			b[off] ^= 0x40
			if err := os.WriteFile(v.wvx(), b, 0o644); err != nil {
				t.Fatal(err)
			}
			return base
		}
	}
	muts := []mut{
		{"missing", func(t *testing.T, v *vol) []row { os.Remove(v.wvx()); return base }},
		{"empty file", func(t *testing.T, v *vol) []row { os.WriteFile(v.wvx(), nil, 0o644); return base }},
		{"garbage", func(t *testing.T, v *vol) []row {
			os.WriteFile(v.wvx(), bytes.Repeat([]byte("garbage!"), 100), 0o644)
			return base
		}},
		{"truncated", func(t *testing.T, v *vol) []row {
			st, _ := os.Stat(v.wvx())
			os.Truncate(v.wvx(), st.Size()-1)
			return base
		}},
		{"header only", func(t *testing.T, v *vol) []row { os.Truncate(v.wvx(), headerSize); return base }},
		{"grown", func(t *testing.T, v *vol) []row {
			f, _ := os.OpenFile(v.wvx(), os.O_WRONLY|os.O_APPEND, 0)
			f.Write(make([]byte, 8))
			f.Close()
			return base
		}},
		{"magic", flip(hdrMagic)},
		{"count", flip(hdrCount)},
		{"metrics", flip(hdrFileBytes)},
		{"covered", flip(hdrCovered)},
		{"header crc", flip(hdrCRC + 1)},
		{"idx shorter than covered", func(t *testing.T, v *vol) []row {
			v.writeIdx(base[:3])
			return base[:3]
		}},
		{"idx emptied", func(t *testing.T, v *vol) []row { v.writeIdx(nil); return nil }},
		{"idx head changed", func(t *testing.T, v *vol) []row {
			rows := slices.Clone(base)
			rows[0].offset = 99
			v.writeIdx(rows)
			return rows
		}},
		{"idx tail changed, same length", func(t *testing.T, v *vol) []row {
			rows := slices.Clone(base)
			rows[4].size = 41
			v.writeIdx(rows)
			return rows
		}},
		{"idx replaced by longer one", func(t *testing.T, v *vol) []row {
			rows := []row{{9, 1, 1}, {8, 2, 2}, {7, 3, 3}, {6, 4, 4}, {5, 5, 5}, {4, 6, 6}}
			v.writeIdx(rows)
			return rows
		}},
		{"temp file left over", func(t *testing.T, v *vol) []row {
			os.Remove(v.wvx())
			os.WriteFile(v.wvx()+".tmp", []byte("half written"), 0o644)
			return base
		}},
	}
	for _, w := range widths {
		for _, m := range muts {
			t.Run(fmt.Sprintf("w%d/%s", w, m.name), func(t *testing.T) {
				v := newVol(t, w)
				v.writeIdx(base)
				if err := v.open().Close(); err != nil {
					t.Fatal(err)
				}
				rows := m.do(t, v)
				ix := v.open()
				info := ix.OpenInfo()
				if !info.Rebuilt || info.InMemory {
					t.Fatalf("info = %+v, want rebuilt on disk", info)
				}
				check(t, ix, refOf(rows, w))
				ix.Close()
				ix = v.open()
				defer ix.Close()
				if ix.OpenInfo().Rebuilt {
					t.Fatalf("second open rebuilt again: %s", ix.OpenInfo().Reason)
				}
				check(t, ix, refOf(rows, w))
			})
		}
	}
}

func TestOtherWidthRebuilt(t *testing.T) {
	v := newVol(t, Offset4)
	rows := []row{{1, 1, 1}, {2, 2, 2}, {3, 3, 3}, {4, 4, 4}, {5, 5, 5}, {6, 6, 6}, {7, 7, 7}, {8, 8, 8}, {9, 9, 9}, {10, 10, 10}, {11, 11, 11}, {12, 12, 12}, {13, 13, 13}, {14, 14, 14}, {15, 15, 15}, {16, 16, 16}, {17, 17, 17}}
	v.writeIdx(rows) // 17*16 bytes: 16 entries of 17 bytes too
	v.open().Close()
	ix, err := Open(v.idx, Offset5)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if info := ix.OpenInfo(); !info.Rebuilt || !strings.Contains(info.Reason, "width") {
		t.Fatalf("info = %+v, want rebuilt for the width", info)
	}
	if ix.IdxSize() != 16*17 {
		t.Fatalf("IdxSize = %d", ix.IdxSize())
	}
}

func TestTornTailIgnored(t *testing.T) {
	for _, w := range widths {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			v := newVol(t, w)
			rows := []row{{1, 1, 10}, {2, 2, 20}}
			v.writeIdx(rows)
			torn := encodeRows(w, []row{{3, 3, 30}})[:entrySize(w)-3]
			v.appendRaw(torn)
			ix := v.open()
			if got, want := ix.IdxSize(), int64(2*entrySize(w)); got != want {
				t.Fatalf("IdxSize = %d, want %d", got, want)
			}
			check(t, ix, refOf(rows, w))
			ix.Close()

			// Caller truncates and appends properly; the .wvx stays valid.
			os.Truncate(v.idx, int64(2*entrySize(w)))
			v.appendIdx(row{3, 3, 30})
			rows = append(rows, row{3, 3, 30})
			ix = v.open()
			defer ix.Close()
			if info := ix.OpenInfo(); info.Rebuilt || info.TailEntries != 1 {
				t.Fatalf("info = %+v", info)
			}
			check(t, ix, refOf(rows, w))
		})
	}
}

func TestLiveWritesPersistReopen(t *testing.T) {
	for _, w := range widths {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			v := newVol(t, w)
			ix := v.open()
			ref := newRef()
			for k := uint64(1); k <= 300; k++ {
				v.put(ix, ref, row{k * 3, k, int32(k)})
			}
			for k := uint64(1); k <= 300; k += 7 {
				v.del(ix, ref, k*3)
			}
			v.del(ix, ref, 1) // absent
			v.put(ix, ref, row{6, 1000, 0})
			v.del(ix, ref, 6)
			v.put(ix, ref, row{9, 1 << 39, 99})
			if ix.IdxSize() != fileSize(t, v.idx) {
				t.Fatalf("IdxSize %d, .idx %d", ix.IdxSize(), fileSize(t, v.idx))
			}
			check(t, ix, ref)
			if err := ix.Persist(); err != nil {
				t.Fatal(err)
			}
			if ix.DeltaLen() != 0 {
				t.Fatalf("DeltaLen after Persist = %d", ix.DeltaLen())
			}
			check(t, ix, ref)
			if err := ix.Verify(); err != nil {
				t.Fatal(err)
			}
			// Writes after Persist land in the delta.
			v.put(ix, ref, row{3, 5000, 5})
			v.del(ix, ref, 12)
			v.put(ix, ref, row{100000, 5001, 6})
			check(t, ix, ref)
			if err := ix.Close(); err != nil {
				t.Fatal(err)
			}

			ix = v.open()
			defer ix.Close()
			if info := ix.OpenInfo(); info.Rebuilt {
				t.Fatalf("reopen rebuilt: %s", info.Reason)
			}
			check(t, ix, ref)

			// The .wvx agrees with a rebuild from the .idx alone.
			if err := Remove(v.idx); err != nil {
				t.Fatal(err)
			}
			ix2 := v.open()
			defer ix2.Close()
			if !ix2.OpenInfo().Rebuilt {
				t.Fatal("open after Remove did not rebuild")
			}
			check(t, ix2, ref)
		})
	}
}

func fileSize(t testing.TB, path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func TestPersistIsNoopWhenClean(t *testing.T) {
	v := newVol(t, Offset4)
	v.writeIdx([]row{{1, 1, 1}})
	ix := v.open()
	defer ix.Close()
	before, _ := os.Stat(v.wvx())
	if err := ix.Persist(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(v.wvx())
	if !os.SameFile(before, after) {
		t.Fatal("clean Persist rewrote the .wvx")
	}
}

func TestPersistRefusesShortIdx(t *testing.T) {
	v := newVol(t, Offset4)
	ix := v.open()
	defer ix.Close()
	ref := newRef()
	v.put(ix, ref, row{1, 1, 1})
	ix.Put(2, 2, 2) // not appended to the .idx: a caller bug
	ref.apply(2, 2, 2)
	if err := ix.Persist(); err == nil {
		t.Fatal("Persist covering more than the .idx succeeded")
	}
	check(t, ix, ref) // the failed Persist changed nothing visible
	if ix.DeltaLen() != 2 {
		t.Fatalf("DeltaLen = %d, want 2", ix.DeltaLen())
	}
}

func TestVerifyDetectsRecordCorruption(t *testing.T) {
	for _, region := range []string{"keys", "vals", "hi"} {
		t.Run(region, func(t *testing.T) {
			v := newVol(t, Offset5)
			v.writeIdx([]row{{1, 1, 1}, {2, 2, 2}, {3, 3, 3}})
			ix := v.open()
			ix.Close()
			b, _ := os.ReadFile(v.wvx())
			h, _ := decodeHeader(b)
			off := map[string]uint64{"keys": h.keysOff(), "vals": h.valsOff(), "hi": h.hiOff()}[region]
			b[off+1] ^= 1
			os.WriteFile(v.wvx(), b, 0o644)
			ix = v.open()
			defer ix.Close()
			if ix.OpenInfo().Rebuilt {
				t.Fatal("open checked the record area; it should be O(1)")
			}
			if err := ix.Verify(); !errors.Is(err, errCorrupt) {
				t.Fatalf("Verify = %v, want errCorrupt", err)
			}
		})
	}
}

func TestInMemoryFallback(t *testing.T) {
	v := newVol(t, Offset4)
	rows := []row{{1, 1, 1}, {2, 2, 2}}
	v.writeIdx(rows)
	// A directory where the .wvx should be: it can be neither read nor
	// replaced.
	if err := os.Mkdir(v.wvx(), 0o755); err != nil {
		t.Fatal(err)
	}
	ix := v.open()
	defer ix.Close()
	if info := ix.OpenInfo(); !info.Rebuilt || !info.InMemory {
		t.Fatalf("info = %+v, want in memory", info)
	}
	ref := refOf(rows, Offset4)
	check(t, ix, ref)
	v.put(ix, ref, row{3, 3, 3})
	if err := ix.Persist(); err == nil {
		t.Fatal("Persist over a directory succeeded")
	}
	check(t, ix, ref)
	if err := ix.Verify(); err != nil {
		t.Fatal(err)
	}
}

func TestPutMasksOffset(t *testing.T) {
	for _, w := range widths {
		v := newVol(t, w)
		ix := v.open()
		ref := newRef()
		v.put(ix, ref, row{1, 1<<44 | 1<<36 | 5, 1})
		check(t, ix, ref)
		ix.Close()
	}
}

func TestClosed(t *testing.T) {
	v := newVol(t, Offset4)
	v.writeIdx([]row{{1, 1, 1}})
	ix := v.open()
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := ix.Get(1); ok {
		t.Fatal("Get after Close found an entry")
	}
	ix.Put(2, 2, 2)
	if ix.Delete(1) != 0 {
		t.Fatal("Delete after Close did something")
	}
	if err := ix.Persist(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Persist after Close = %v", err)
	}
}

func TestCloseRetiresOldMappings(t *testing.T) {
	v := newVol(t, Offset4)
	ix := v.open()
	ref := newRef()
	// Hold the base through an Ascend while Persist replaces it twice.
	for k := uint64(1); k <= 10; k++ {
		v.put(ix, ref, row{k, k, 1})
	}
	ix.Persist()
	n := 0
	ix.Ascend(func(k, off uint64, size int32) bool {
		if n == 0 {
			v.put(ix, ref, row{100, 100, 1})
			if err := ix.Persist(); err != nil {
				t.Fatal(err)
			}
			v.put(ix, ref, row{101, 101, 1})
			if err := ix.Persist(); err != nil {
				t.Fatal(err)
			}
			if len(ix.retired) != 1 {
				t.Fatalf("%d retired mappings, want the one Ascend holds", len(ix.retired))
			}
		}
		n++
		return true
	})
	if n != 10 {
		t.Fatalf("Ascend saw %d entries of its starting base, want 10", n)
	}
	v.put(ix, ref, row{102, 102, 1})
	if err := ix.Persist(); err != nil {
		t.Fatal(err)
	}
	if len(ix.retired) != 0 {
		t.Fatalf("%d retired mappings after the Ascend ended", len(ix.retired))
	}
	check(t, ix, ref)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRemove(t *testing.T) {
	v := newVol(t, Offset4)
	v.open().Close()
	os.WriteFile(v.wvx()+".tmp", nil, 0o644)
	if err := Remove(v.idx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{v.wvx(), v.wvx() + ".tmp"} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s still there: %v", p, err)
		}
	}
	if err := Remove(v.idx); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir+"/none.idx", Offset4); err == nil {
		t.Fatal("Open of a missing .idx succeeded")
	}
	if _, err := Open(dir+"/none.idx", 8); err == nil {
		t.Fatal("Open with width 8 succeeded")
	}
}

func TestAscendStops(t *testing.T) {
	v := newVol(t, Offset4)
	v.writeIdx([]row{{5, 1, 1}, {1, 2, 2}, {3, 3, 3}})
	ix := v.open()
	defer ix.Close()
	ref := newRef()
	for _, e := range []row{{5, 1, 1}, {1, 2, 2}, {3, 3, 3}} {
		ref.apply(e.key, e.offset, e.size)
	}
	v.put(ix, ref, row{2, 9, 9})
	v.put(ix, ref, row{3, 10, 10})
	v.del(ix, ref, 5)
	var got []uint64
	ix.Ascend(func(k, _ uint64, _ int32) bool {
		got = append(got, k)
		return len(got) < 3
	})
	if !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("Ascend = %v", got)
	}
	check(t, ix, ref)
}

// TestFind checks the interpolation search against a plain scan on key
// distributions that defeat interpolation.
func TestFind(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func(i int) uint64{
		"dense":    func(i int) uint64 { return uint64(i) },
		"uniform":  func(int) uint64 { return rng.Uint64() },
		"powers":   func(i int) uint64 { return 1 << (i % 64) * uint64(i/64+1) },
		"clusters": func(i int) uint64 { return uint64(i%3)<<60 + uint64(i) },
		"skewed":   func(i int) uint64 { return uint64(i) * uint64(i) * uint64(i) },
		"outlier":  func(i int) uint64 { return map[bool]uint64{true: 1<<64 - 1, false: uint64(i)}[i == 0] },
	}
	for name, gen := range dists {
		for _, n := range []int{0, 1, 2, 7, 8, 9, 100, 5000} {
			set := map[uint64]bool{}
			for i := range n {
				set[gen(i)] = true
			}
			keys := make([]uint64, 0, len(set))
			for k := range set {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			m := &mapping{n: len(keys), keys: make([]byte, 8*len(keys))}
			for i, k := range keys {
				binary.LittleEndian.PutUint64(m.keys[i*8:], k)
			}
			for i, k := range keys {
				if got := m.find(k); got != i {
					t.Fatalf("%s/%d: find(%d) = %d, want %d", name, n, k, got, i)
				}
				if k > 0 && (i == 0 || keys[i-1] != k-1) && m.find(k-1) != -1 {
					t.Fatalf("%s/%d: find(%d) found an absent key", name, n, k-1)
				}
				if k < 1<<64-1 && (i == len(keys)-1 || keys[i+1] != k+1) && m.find(k+1) != -1 {
					t.Fatalf("%s/%d: find(%d) found an absent key", name, n, k+1)
				}
			}
		}
	}
}

// TestSmallIndexInMemory: an index of a few entries lives on the heap, with
// no .wvx written, through Open, writes, Persist and reopen; one that grows
// past the limit gets its file at the next Persist.
func TestSmallIndexInMemory(t *testing.T) {
	smallIndexEntries = 256
	defer func() { smallIndexEntries = 0 }()
	v := newVol(t, Offset4)
	var rows []row
	for k := uint64(1); k <= 10; k++ {
		rows = append(rows, row{k, k, 10})
	}
	v.writeIdx(rows)
	ix := v.open()
	if _, err := os.Stat(v.wvx()); !errors.Is(err, os.ErrNotExist) || !ix.OpenInfo().InMemory {
		t.Fatalf("a 10-entry index wrote a .wvx (%v) or is not in memory (%+v)", err, ix.OpenInfo())
	}
	if off, size, ok := ix.Get(7); !ok || off != 7 || size != 10 {
		t.Fatalf("Get(7) = %d %d %v", off, size, ok)
	}
	rows = append(rows, row{11, 11, 10}, row{3, 0, -1})
	v.writeIdx(rows) // the .idx as the engine appends it
	ix.Put(11, 11, 10)
	ix.Delete(3)
	if err := ix.Persist(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(v.wvx()); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Persist of a small index wrote a .wvx")
	}
	ix.Close()
	ix = v.open()
	if _, size, ok := ix.Get(3); !ok || size >= 0 {
		t.Fatalf("the delete did not survive a reopen: %d %v", size, ok)
	}
	if _, _, ok := ix.Get(11); !ok {
		t.Fatal("the write did not survive a reopen")
	}
	for k := uint64(100); k < 100+2*smallIndexEntries; k++ {
		rows = append(rows, row{k, k, 10})
	}
	v.writeIdx(rows)
	for _, r := range rows[len(rows)-2*int(smallIndexEntries):] {
		ix.Put(r.key, r.offset, r.size)
	}
	if err := ix.Persist(); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	if _, err := os.Stat(v.wvx()); err != nil {
		t.Fatalf("an index past the limit has no .wvx after Persist: %v", err)
	}
}
