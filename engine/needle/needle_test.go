package needle

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// sampleNeedles covers every optional field alone and together.
func sampleNeedles() map[string]Needle {
	big := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	withAll := Needle{Cookie: 0xdeadbeef, ID: 0x1234567890, Data: []byte("hello world"), AppendAtNs: 1700000000123456789}
	withAll.SetName([]byte("hello.txt"))
	withAll.SetMime([]byte("text/plain"))
	withAll.SetLastModified(1700000000)
	withAll.SetTTL(TTL{Count: 3, Unit: TTLDay})
	withAll.SetPairs([]byte(`{"Seaweed-a":"b"}`))
	withAll.Flags |= FlagIsCompressed
	longName := Needle{Cookie: 7, ID: 9, Data: []byte("x")}
	longName.SetName([]byte(strings.Repeat("n", 300)))
	manifest := Needle{Cookie: 1, ID: 2, Data: []byte(`{"chunks":[]}`), Flags: FlagIsChunkManifest}
	cases := map[string]Needle{
		"empty":      {Cookie: 1, ID: 1},
		"plain":      {Cookie: 0x01020304, ID: 42, Data: []byte("abc")},
		"one byte":   {Cookie: 5, ID: 6, Data: []byte{0}},
		"large":      {Cookie: 9, ID: 1 << 40, Data: big},
		"all fields": withAll,
		"long name":  longName,
		"manifest":   manifest,
	}
	for i := 1; i <= 16; i++ { // every padding length
		cases["len "+strings.Repeat("x", i)] = Needle{Cookie: uint32(i), ID: uint64(i), Data: bytes.Repeat([]byte{byte(i)}, i)}
	}
	return cases
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for name, orig := range sampleNeedles() {
		for _, v := range []Version{Version1, Version2, Version3} {
			n := orig
			n.Checksum = NewCRC(n.Data)
			rec := n.Encode(nil, v)
			if int64(len(rec)) != ActualSize(n.Size, v) || len(rec)%PaddingAlign != 0 {
				t.Fatalf("%s v%d: record of %d bytes, ActualSize %d", name, v, len(rec), ActualSize(n.Size, v))
			}
			var got Needle
			if err := got.Decode(rec, n.Size, v); err != nil {
				t.Fatalf("%s v%d: decode: %v", name, v, err)
			}
			if got.ID != n.ID || got.Cookie != n.Cookie || !bytes.Equal(got.Data, n.Data) || got.Checksum != n.Checksum {
				t.Fatalf("%s v%d: got id %x cookie %x %d bytes", name, v, got.ID, got.Cookie, len(got.Data))
			}
			if v == Version1 {
				continue
			}
			wantName := n.Name
			if len(wantName) > 255 {
				wantName = wantName[:255]
			}
			if len(n.Data) > 0 && (got.Flags != n.Flags || !bytes.Equal(got.Name, wantName) || !bytes.Equal(got.Mime, n.Mime) ||
				!bytes.Equal(got.Pairs, n.Pairs) || got.LastModified != n.LastModified || got.TTL != n.TTL) {
				t.Fatalf("%s v%d: metadata differs: %+v", name, v, got)
			}
			if v == Version3 && got.AppendAtNs != n.AppendAtNs {
				t.Fatalf("%s: append ns %d, want %d", name, got.AppendAtNs, n.AppendAtNs)
			}
		}
	}
}

func TestEncodeAroundMatchesEncode(t *testing.T) {
	for name, orig := range sampleNeedles() {
		for _, v := range []Version{Version1, Version2, Version3} {
			n := orig
			n.Checksum = NewCRC(n.Data)
			want := n.Encode(nil, v)
			prefix := []byte("kept")
			rec, at := n.EncodeAround(append([]byte(nil), prefix...), v)
			if !bytes.HasPrefix(rec, prefix) {
				t.Fatalf("%s v%d: dst prefix overwritten", name, v)
			}
			rec = rec[len(prefix):]
			got := append(append(append([]byte(nil), rec[:at]...), n.Data...), rec[at:]...)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s v%d: split record (data at %d) differs from Encode's", name, v, at)
			}
		}
	}
}

func TestDecodeMetaMatchesDecode(t *testing.T) {
	for name, orig := range sampleNeedles() {
		for _, v := range []Version{Version2, Version3} {
			n := orig
			n.Checksum = NewCRC(n.Data)
			rec := n.Encode(nil, v)
			var full, meta Needle
			if err := full.Decode(rec, n.Size, v); err != nil {
				t.Fatal(err)
			}
			hdr := rec[:HeaderSize+DataSizeSize]
			tail := rec[HeaderSize+DataSizeSize+len(n.Data):]
			if n.Size == 0 {
				tail = rec[HeaderSize:]
			}
			ds, err := meta.DecodeMeta(hdr, tail, v)
			if err != nil {
				t.Fatalf("%s v%d: %v", name, v, err)
			}
			if int(ds) != len(n.Data) || meta.Flags != full.Flags || !bytes.Equal(meta.Name, full.Name) ||
				!bytes.Equal(meta.Mime, full.Mime) || meta.Checksum != full.Checksum || meta.AppendAtNs != full.AppendAtNs {
				t.Fatalf("%s v%d: meta %+v differs from full %+v", name, v, meta, full)
			}
		}
	}
}

func TestDecodeRejectsDamage(t *testing.T) {
	n := Needle{Cookie: 1, ID: 2, Data: []byte("payload")}
	n.Checksum = NewCRC(n.Data)
	good := n.Encode(nil, Version3)
	tests := []struct {
		name   string
		mutate func([]byte) []byte
		expect int32
		want   error
	}{
		{"flipped data bit", func(b []byte) []byte { b[HeaderSize+DataSizeSize] ^= 1; return b }, n.Size, ErrChecksum},
		{"wrong size in index", func(b []byte) []byte { return b }, n.Size + 1, ErrSizeMismatch},
		{"truncated", func(b []byte) []byte { return b[:HeaderSize+3] }, n.Size, ErrCorrupted},
		{"data size too big", func(b []byte) []byte { b[HeaderSize] = 0x7f; return b }, n.Size, ErrCorrupted},
		{"short header", func(b []byte) []byte { return b[:5] }, n.Size, ErrCorrupted},
	}
	for _, tc := range tests {
		rec := tc.mutate(append([]byte(nil), good...))
		var got Needle
		if err := got.Decode(rec, tc.expect, Version3); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestLegacyChecksumAccepted(t *testing.T) {
	n := Needle{Cookie: 1, ID: 2, Data: []byte("legacy")}
	n.Checksum = CRC(NewCRC(n.Data).Legacy())
	rec := n.Encode(nil, Version2)
	var got Needle
	if err := got.Decode(rec, n.Size, Version2); err != nil {
		t.Fatalf("legacy checksum refused: %v", err)
	}
}

func TestHasExpired(t *testing.T) {
	n := Needle{Data: []byte("x"), AppendAtNs: uint64(time.Now().Add(-2 * time.Minute).UnixNano())}
	n.SetLastModified(uint64(time.Now().Unix()))
	if n.HasExpired(time.Now()) {
		t.Fatal("needle without ttl expired")
	}
	n.SetTTL(TTL{Count: 1, Unit: TTLMinute})
	if !n.HasExpired(time.Now()) {
		t.Fatal("1m ttl written 2m ago did not expire")
	}
	n.SetTTL(TTL{Count: 5, Unit: TTLMinute})
	if n.HasExpired(time.Now()) {
		t.Fatal("5m ttl written 2m ago expired")
	}
}

func TestTTL(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"", ""}, {"5", "5m"}, {"5m", "5m"}, {"3h", "3h"}, {"60m", "1h"}, {"24h", "1d"}, {"7d", "1w"},
		{"30d", "1M"}, {"365d", "1y"}, {"300m", "5h"}, {"1000m", "16h"}, {"0m", ""}, {"5x", ""},
	}
	for _, tc := range tests {
		got, err := ParseTTL(tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if got.String() != tc.want {
			t.Errorf("ParseTTL(%q) = %q, want %q", tc.in, got.String(), tc.want)
		}
		if TTLFromUint32(got.Uint32()) != got && !got.IsZero() {
			t.Errorf("%q: uint32 round trip", tc.in)
		}
	}
	if _, err := ParseTTL("xm"); err == nil {
		t.Error("ParseTTL(xm) accepted")
	}
}

func TestParseKeyCookie(t *testing.T) {
	tests := []struct {
		in     string
		key    uint64
		cookie uint32
		ok     bool
	}{
		{"01637037d6", 0x01, 0x637037d6, true},
		{"3f12345678", 0x3f, 0x12345678, true},
		{"ffffffffffffffff12345678", ^uint64(0), 0x12345678, true},
		{"1ffffffffffffffff12345678", 0, 0, false},
		{"12345678", 0, 0, false},
		{"0112345678_3", 0x04, 0x12345678, true},
		{"0112345678_x", 0, 0, false},
		{"zz12345678", 0, 0, false},
		{"", 0, 0, false},
		{"ffffffffffffffff12345678_1", 0, 0, false},
	}
	for _, tc := range tests {
		k, c, err := ParseKeyCookie([]byte(tc.in))
		if (err == nil) != tc.ok || (tc.ok && (k != tc.key || c != tc.cookie)) {
			t.Errorf("ParseKeyCookie(%q) = %x %x %v", tc.in, k, c, err)
		}
	}
	if got := FormatFid(3, 1, 0x637037d6); got != "3,01637037d6" {
		t.Errorf("FormatFid = %q", got)
	}
}

func TestParseKeyCookieAllocs(t *testing.T) {
	in := []byte("3f12345678")
	if a := testing.AllocsPerRun(100, func() { ParseKeyCookie(in) }); a != 0 {
		t.Fatalf("ParseKeyCookie allocates %v times", a)
	}
}
