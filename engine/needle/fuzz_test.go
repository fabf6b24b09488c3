package needle

import (
	"testing"

	up "github.com/seaweedfs/seaweedfs/weed/storage/needle"
)

// FuzzDecode feeds arbitrary records to the decoders: they must return an
// error or a needle whose slices lie inside the input, never panic.
func FuzzDecode(f *testing.F) {
	for _, n := range sampleNeedles() {
		n.Checksum = NewCRC(n.Data)
		for _, v := range []Version{Version1, Version2, Version3} {
			f.Add(n.Encode(nil, v), uint8(v))
		}
	}
	f.Add([]byte{}, uint8(3))
	f.Add(make([]byte, 40), uint8(2))
	f.Fuzz(func(t *testing.T, rec []byte, ver uint8) {
		v := Version(ver%4 + 0)
		var n Needle
		if err := n.DecodeAny(rec, v); err == nil {
			if len(n.Data) > len(rec) || len(n.Name) > len(rec) || len(n.Pairs) > len(rec) {
				t.Fatal("slice longer than input")
			}
		}
		if len(rec) >= HeaderSize+DataSizeSize {
			var m Needle
			_, _ = m.DecodeMeta(rec[:HeaderSize+DataSizeSize], rec[HeaderSize+DataSizeSize:], v)
		}
	})
}

// FuzzParseKeyCookie checks the allocation-free parser against upstream's.
func FuzzParseKeyCookie(f *testing.F) {
	for _, s := range []string{"01637037d6", "3f12345678", "ffffffffffffffff12345678", "0112345678_3", "x", "_", "12345678_1", "0112345678_18446744073709551615", "zz", "g112345678", "01g2345678", "0112345678_x", "ffffffffffffffff12345678_1", "1111111111111111111111111111"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, cookie, err := ParseKeyCookie([]byte(s))
		var u up.Needle
		uerr := u.ParsePath(s)
		if (err == nil) != (uerr == nil) {
			t.Fatalf("%q: ours err=%v upstream err=%v", s, err, uerr)
		}
		if err == nil && (uint64(u.Id) != key || uint32(u.Cookie) != cookie) {
			t.Fatalf("%q: ours %x/%x upstream %x/%x", s, key, cookie, u.Id, u.Cookie)
		}
		// the error replies read as upstream's
		if werr := UpstreamFidError(s); (werr == nil) != (uerr == nil) || (werr != nil && werr.Error() != uerr.Error()) {
			t.Fatalf("%q: UpstreamFidError %v, upstream %v", s, werr, uerr)
		}
	})
}
