package superblock

import (
	"bytes"
	"errors"
	"testing"

	"github.com/seaweedfs/seaweedfs/weed/pb/master_pb"
	upneedle "github.com/seaweedfs/seaweedfs/weed/storage/needle"
	upsb "github.com/seaweedfs/seaweedfs/weed/storage/super_block"

	"github.com/weedvol/weedvol/engine/needle"
)

func TestEncodeDecode(t *testing.T) {
	tests := []struct {
		name string
		sb   SuperBlock
		size int
	}{
		{"v1", SuperBlock{Version: needle.Version1, ReplicaPlacement: PlacementFromByte(1)}, 8},
		{"v2 ttl", SuperBlock{Version: needle.Version2, TTL: needle.TTL{Count: 3, Unit: needle.TTLDay}, CompactionRevision: 7}, 8},
		{"v3 placement", SuperBlock{Version: needle.Version3, ReplicaPlacement: PlacementFromByte(210), CompactionRevision: 65535}, 8},
		{"v3 extra", SuperBlock{Version: needle.Version3, Extra: &master_pb.SuperBlockExtra{ErasureCoding: &master_pb.SuperBlockExtra_ErasureCoding{Data: 10, Parity: 4, VolumeIds: []uint32{1, 2}}}}, 0},
	}
	for _, tc := range tests {
		b, err := tc.sb.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if tc.size != 0 && len(b) != tc.size {
			t.Fatalf("%s: %d bytes", tc.name, len(b))
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got.Version != tc.sb.Version || got.ReplicaPlacement != tc.sb.ReplicaPlacement || got.TTL != tc.sb.TTL ||
			got.CompactionRevision != tc.sb.CompactionRevision || got.BlockSize() != len(b) {
			t.Fatalf("%s: round trip gave %+v", tc.name, got)
		}
		if tc.sb.Extra != nil && got.Extra.GetErasureCoding().GetParity() != 4 {
			t.Fatalf("%s: extra lost", tc.name)
		}
	}
}

func TestBytesMatchUpstream(t *testing.T) {
	for _, b := range []byte{0, 1, 10, 100, 111, 210, 255} {
		rp, _ := upsb.NewReplicaPlacementFromByte(b)
		ours := PlacementFromByte(b)
		if ours.String() != rp.String() || ours.Byte() != rp.Byte() {
			t.Errorf("placement %d: ours %s upstream %s", b, ours, rp)
		}
		parsed, err := ParsePlacement(rp.String())
		if err != nil || parsed != ours {
			t.Errorf("ParsePlacement(%s) = %v %v", rp.String(), parsed, err)
		}
	}
	sb := SuperBlock{Version: needle.Version3, ReplicaPlacement: PlacementFromByte(1), TTL: needle.TTL{Count: 5, Unit: needle.TTLHour}, CompactionRevision: 3}
	ours, _ := sb.Encode()
	rp, _ := upsb.NewReplicaPlacementFromString("001")
	up := upsb.SuperBlock{Version: 3, ReplicaPlacement: rp, Ttl: &upneedle.TTL{Count: 5, Unit: upneedle.Hour}, CompactionRevision: 3}
	upBytes := up.Bytes()
	if !bytes.Equal(ours, upBytes) {
		t.Fatalf("ours %x upstream %x", ours, upBytes)
	}
}

func TestDecodeErrors(t *testing.T) {
	for name, b := range map[string][]byte{
		"short":          {3, 0, 0},
		"version 0":      {0, 0, 0, 0, 0, 0, 0, 0},
		"version 4":      {4, 0, 0, 0, 0, 0, 0, 0},
		"extra cut off":  {3, 0, 0, 0, 0, 0, 0, 10, 1, 2},
		"extra not a pb": {3, 0, 0, 0, 0, 0, 0, 2, 0xff, 0xff},
	} {
		if _, err := Decode(b); !errors.Is(err, ErrCorrupted) {
			t.Errorf("%s: err %v", name, err)
		}
	}
	if _, err := ParsePlacement("0a1"); err == nil {
		t.Error("ParsePlacement accepted a letter")
	}
	if _, err := ParsePlacement("1234"); err == nil {
		t.Error("ParsePlacement accepted four digits")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{3, 1, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{2, 0, 5, 2, 0, 9, 0, 2, 8, 1})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		sb, err := Decode(b)
		if err != nil {
			return
		}
		enc, err := sb.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc[:6], b[:6]) {
			t.Fatalf("re-encode changed the fixed part: %x -> %x", b[:8], enc)
		}
	})
}
