package grpcsvc

import (
	"os"
	"strings"
	"testing"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"

	"github.com/weedvol/weedvol/engine/needle"
)

func TestScrubVolume(t *testing.T) {
	e := newEnv(t)
	a, b := e.allocate(t, 51, ""), e.allocate(t, 52, "")
	write(t, a, needle.Needle{ID: 1, Cookie: 1, Data: []byte("healthy")})
	bad := write(t, b, needle.Needle{ID: 2, Cookie: 2, Data: []byte("about to rot")})
	write(t, b, needle.Needle{ID: 3, Cookie: 3, Data: []byte("fine")})
	scrub := func(mode volume_server_pb.VolumeScrubMode, mark bool, ids ...uint32) (*volume_server_pb.ScrubVolumeResponse, error) {
		return e.client.ScrubVolume(ctxT(t), &volume_server_pb.ScrubVolumeRequest{Mode: mode, VolumeIds: ids, MarkBrokenVolumesReadonly: mark})
	}
	for _, mode := range []volume_server_pb.VolumeScrubMode{volume_server_pb.VolumeScrubMode_INDEX, volume_server_pb.VolumeScrubMode_FULL, volume_server_pb.VolumeScrubMode_LOCAL} {
		resp, err := scrub(mode, false)
		if err != nil || resp.GetTotalVolumes() != 2 || resp.GetTotalFiles() != 3 || len(resp.GetBrokenVolumeIds()) != 0 {
			t.Fatalf("%v on healthy volumes: %v, %v", mode, resp, err)
		}
	}
	off, _, _ := b.Lookup(bad.ID)
	f, err := os.OpenFile(b.FileName(".dat"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("R"), off+needle.HeaderSize+4)
	f.Close()
	if resp, err := scrub(volume_server_pb.VolumeScrubMode_INDEX, false); err != nil || len(resp.GetBrokenVolumeIds()) != 0 {
		t.Fatalf("index scrub after data rot: %v, %v", resp, err)
	}
	resp, err := scrub(volume_server_pb.VolumeScrubMode_FULL, true, 52)
	if err != nil || len(resp.GetBrokenVolumeIds()) != 1 || resp.GetBrokenVolumeIds()[0] != 52 {
		t.Fatalf("full scrub after data rot: %v, %v", resp, err)
	}
	if !strings.Contains(strings.Join(resp.GetDetails(), "\n"), "volume 52 is now read-only") || !b.IsReadOnly() {
		t.Fatalf("broken volume not marked read-only: %v", resp.GetDetails())
	}
	if _, err := scrub(volume_server_pb.VolumeScrubMode(99), false); err == nil || !strings.Contains(err.Error(), "unsupported volume scrub mode") {
		t.Fatalf("unknown mode: %v", err)
	}
	if _, err := scrub(volume_server_pb.VolumeScrubMode_INDEX, false, 77); err == nil || !strings.Contains(err.Error(), "volume id 77 not found") {
		t.Fatalf("missing volume: %v", err)
	}
}
