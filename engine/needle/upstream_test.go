package needle

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/seaweedfs/seaweedfs/weed/storage/backend"
	up "github.com/seaweedfs/seaweedfs/weed/storage/needle"
	uptypes "github.com/seaweedfs/seaweedfs/weed/storage/types"
)

// toUpstream builds upstream's needle for the same fields.
func toUpstream(n Needle) *up.Needle {
	u := &up.Needle{Cookie: uptypes.Cookie(n.Cookie), Id: uptypes.NeedleId(n.ID), Data: n.Data, Flags: n.Flags,
		Name: n.Name, Mime: n.Mime, Pairs: n.Pairs, PairsSize: uint16(len(n.Pairs)), LastModified: n.LastModified,
		Checksum: up.CRC(n.Checksum), AppendAtNs: n.AppendAtNs}
	if n.Has(FlagHasTTL) {
		u.Ttl = &up.TTL{Count: n.TTL.Count, Unit: n.TTL.Unit}
	}
	return u
}

// TestEncodeIsByteIdenticalToUpstream writes every sample with upstream's
// own encoder and with ours, and compares the files byte for byte,
// padding included.
func TestEncodeIsByteIdenticalToUpstream(t *testing.T) {
	dir := t.TempDir()
	for name, orig := range sampleNeedles() {
		for _, v := range []Version{Version1, Version2, Version3} {
			n := orig
			n.Checksum = NewCRC(n.Data)
			f, err := os.Create(filepath.Join(dir, "n.dat"))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := toUpstream(n).Append(backend.NewDiskFile(f), up.Version(v)); err != nil {
				t.Fatal(err)
			}
			f.Close()
			want, _ := os.ReadFile(filepath.Join(dir, "n.dat"))
			got := n.Encode(nil, v)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s v%d: encoding differs from upstream\n got %x\nwant %x", name, v, got, want)
			}
		}
	}
}

// TestUpstreamDecodesOurRecords parses our records with upstream's reader.
func TestUpstreamDecodesOurRecords(t *testing.T) {
	for name, orig := range sampleNeedles() {
		for _, v := range []Version{Version1, Version2, Version3} {
			n := orig
			n.Checksum = NewCRC(n.Data)
			rec := n.Encode(nil, v)
			var u up.Needle
			if err := u.ReadBytes(rec, 0, uptypes.Size(n.Size), up.Version(v)); err != nil {
				t.Fatalf("%s v%d: upstream refused our record: %v", name, v, err)
			}
			if uint64(u.Id) != n.ID || uint32(u.Cookie) != n.Cookie || !bytes.Equal(u.Data, n.Data) {
				t.Fatalf("%s v%d: upstream read id %x cookie %x", name, v, u.Id, u.Cookie)
			}
			if v == Version3 && u.AppendAtNs != n.AppendAtNs {
				t.Fatalf("%s: upstream read append ns %d", name, u.AppendAtNs)
			}
		}
	}
}

func TestTTLAgreesWithUpstream(t *testing.T) {
	for _, s := range []string{"", "1", "59", "5m", "90m", "3h", "25h", "48h", "7d", "8d", "14d", "30d", "60d", "365d", "2y", "300m", "1000m", "100000m", "3w", "2M"} {
		ours, err := ParseTTL(s)
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := up.ReadTTL(s)
		if err != nil {
			t.Fatal(err)
		}
		if ours.String() != theirs.String() || ours.Uint32() != theirs.ToUint32() {
			t.Errorf("ParseTTL(%q) = %q, upstream %q", s, ours.String(), theirs.String())
		}
	}
}
