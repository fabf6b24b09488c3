package vif

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	upvif "github.com/seaweedfs/seaweedfs/weed/storage/volume_info"
)

func TestSaveLoadAgreesWithUpstream(t *testing.T) {
	dir := t.TempDir()
	info := &Info{Version: 3, BytesOffset: 5, Replication: "001", ReadOnly: true, DatFileSize: 12345,
		EcShardConfig: &volume_server_pb.EcShardConfig{DataShards: 10, ParityShards: 4}}
	ours := filepath.Join(dir, "ours.vif")
	if err := Save(ours, info); err != nil {
		t.Fatal(err)
	}
	theirs := filepath.Join(dir, "theirs.vif")
	if err := upvif.SaveVolumeInfo(theirs, info); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(ours)
	b, _ := os.ReadFile(theirs)
	if string(a) != string(b) {
		t.Fatalf("ours:\n%s\nupstream:\n%s", a, b)
	}
	got, exists, err := Load(theirs)
	if err != nil || !exists || got.GetBytesOffset() != 5 || !got.GetReadOnly() || got.GetReplication() != "001" {
		t.Fatalf("load upstream file: %v %v %v", got, exists, err)
	}
	upGot, _, _, err := upvif.MaybeLoadVolumeInfo(ours)
	if err != nil || upGot.GetBytesOffset() != 5 || upGot.GetDatFileSize() != 12345 {
		t.Fatalf("upstream load of ours: %v %v", upGot, err)
	}
}

func TestLoadCases(t *testing.T) {
	dir := t.TempDir()
	if info, exists, err := Load(filepath.Join(dir, "missing.vif")); err != nil || exists || info == nil {
		t.Fatalf("missing: %v %v %v", info, exists, err)
	}
	empty := filepath.Join(dir, "empty.vif")
	os.WriteFile(empty, nil, 0o644)
	if _, exists, err := Load(empty); err != nil || exists {
		t.Fatalf("empty: %v %v", exists, err)
	}
	old := filepath.Join(dir, "old.vif")
	os.WriteFile(old, []byte(`{"version":3,"replication":"010","BytesOffset":4,"DestroyTime":"99"}`), 0o644)
	if info, _, err := Load(old); err != nil || info.GetExpireAtSec() != 99 || info.GetReplication() != "010" {
		t.Fatalf("old format: %v %v", info, err)
	}
	bad := filepath.Join(dir, "bad.vif")
	os.WriteFile(bad, []byte(`{"version":`), 0o644)
	if _, _, err := Load(bad); !errors.Is(err, ErrCorrupted) {
		t.Fatalf("bad: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"version":3,"bytesOffset":4}`))
	f.Add([]byte(`{"files":[{"backendType":"s3","key":"k"}],"version":3}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := Decode(b)
		if err != nil {
			return
		}
		enc, err := Encode(info)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Decode(enc)
		if err != nil || again.GetVersion() != info.GetVersion() || again.GetBytesOffset() != info.GetBytesOffset() {
			t.Fatalf("re-decode: %v", err)
		}
	})
}
