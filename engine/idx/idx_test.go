package idx

import (
	"bytes"
	"errors"
	"testing"

	uptypes "github.com/seaweedfs/seaweedfs/weed/storage/types"
)

func TestRoundTrip(t *testing.T) {
	entries := []Entry{
		{Key: 1, Offset: 8, Size: 100},
		{Key: ^uint64(0), Offset: (1<<32 - 1) * Unit, Size: -1},
		{Key: 77, Offset: 0, Size: -1},
		{Key: 5, Offset: 1 << 20, Size: -300},
	}
	for _, w := range []int{Offset4, Offset5} {
		f, _ := FormatFor(w)
		var b []byte
		for _, e := range entries {
			b = f.AppendEntry(b, e)
		}
		if len(b) != len(entries)*f.EntrySize() {
			t.Fatalf("width %d: %d bytes", w, len(b))
		}
		var got []Entry
		if err := f.Decode(b, func(e Entry) error { got = append(got, e); return nil }); err != nil {
			t.Fatal(err)
		}
		for i := range entries {
			if got[i] != entries[i] {
				t.Fatalf("width %d entry %d: %+v, want %+v", w, i, got[i], entries[i])
			}
		}
		var walked int
		if err := f.Walk(bytes.NewReader(b), func(Entry) error { walked++; return nil }); err != nil || walked != len(entries) {
			t.Fatalf("walk: %d %v", walked, err)
		}
		if err := f.Walk(bytes.NewReader(b[:len(b)-3]), func(Entry) error { return nil }); !errors.Is(err, ErrCorrupted) {
			t.Fatalf("walk of torn file: %v", err)
		}
	}
	if _, err := FormatFor(6); err == nil {
		t.Fatal("width 6 accepted")
	}
}

// TestFiveByteLayout pins the 5-byte layout: the high byte comes last, as in
// upstream's 5BytesOffset build.
func TestFiveByteLayout(t *testing.T) {
	f, _ := FormatFor(Offset5)
	b := f.AppendEntry(nil, Entry{Key: 0x0102030405060708, Offset: 0x12_3456_789a * Unit, Size: 0x10})
	want := []byte{1, 2, 3, 4, 5, 6, 7, 8, 0x34, 0x56, 0x78, 0x9a, 0x12, 0, 0, 0, 0x10}
	if !bytes.Equal(b, want) {
		t.Fatalf("got %x want %x", b, want)
	}
	if f.MaxVolumeSize() != 8<<40 {
		t.Fatal("max volume size")
	}
}

// TestFourByteMatchesUpstream compares with upstream's default build.
func TestFourByteMatchesUpstream(t *testing.T) {
	if uptypes.OffsetSize != 4 {
		t.Skip("upstream built with 5-byte offsets")
	}
	f, _ := FormatFor(Offset4)
	for _, off := range []int64{8, 1 << 20, (1<<32 - 1) * 8} {
		var up [4]byte
		uptypes.OffsetToBytes(up[:], uptypes.ToOffset(off))
		ours := f.AppendEntry(nil, Entry{Key: 1, Offset: off, Size: 1})
		if !bytes.Equal(ours[8:12], up[:]) {
			t.Fatalf("offset %d: ours %x upstream %x", off, ours[8:12], up)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 16}, true)
	f.Add(make([]byte, 17), false)
	f.Add([]byte{1, 2, 3}, true)
	f.Fuzz(func(t *testing.T, b []byte, five bool) {
		w := Offset4
		if five {
			w = Offset5
		}
		fm, _ := FormatFor(w)
		var n int
		err := fm.Decode(b, func(e Entry) error {
			n++
			re := fm.AppendEntry(nil, e)
			if !bytes.Equal(re, b[(n-1)*fm.EntrySize():n*fm.EntrySize()]) {
				t.Fatalf("entry %d does not re-encode to its bytes", n)
			}
			return nil
		})
		if n != len(b)/fm.EntrySize() {
			t.Fatalf("visited %d of %d entries", n, len(b)/fm.EntrySize())
		}
		if (err != nil) != (len(b)%fm.EntrySize() != 0) {
			t.Fatalf("err %v for %d bytes", err, len(b))
		}
	})
}
