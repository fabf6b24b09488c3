// Package vif reads and writes a volume's .vif file: upstream's
// volume_server_pb.VolumeInfo message as indented protobuf JSON with every
// field present. The file records the needle version and the index offset
// width (bytesOffset) of the volume, among others.
package vif

import (
	"errors"
	"fmt"
	"os"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/weedvol/weedvol/atomicfile"
)

// ErrCorrupted wraps a .vif that does not parse.
var ErrCorrupted = errors.New("volume info corrupted")

// Info is the decoded message.
type Info = volume_server_pb.VolumeInfo

// Decode parses .vif bytes. Empty input gives an empty Info. Files written
// by old upstream releases (OldVersionVolumeInfo) are accepted too.
func Decode(b []byte) (*Info, error) {
	info := &Info{}
	if len(b) == 0 {
		return info, nil
	}
	err := protojson.Unmarshal(b, info)
	if err == nil {
		return info, nil
	}
	old := &volume_server_pb.OldVersionVolumeInfo{}
	if oerr := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, old); oerr != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupted, err)
	}
	info.Files = old.Files
	info.Version = old.Version
	info.Replication = old.Replication
	info.BytesOffset = old.BytesOffset
	info.DatFileSize = old.DatFileSize
	info.ExpireAtSec = old.DestroyTime
	info.ReadOnly = old.ReadOnly
	return info, nil
}

// Encode renders info the way upstream writes it.
func Encode(info *Info) ([]byte, error) {
	return protojson.MarshalOptions{AllowPartial: true, EmitUnpopulated: true, Indent: "  "}.Marshal(info)
}

// Load reads path. A missing or empty file gives (empty Info, false, nil).
func Load(path string) (info *Info, exists bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &Info{}, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	if len(b) == 0 {
		return &Info{}, false, nil
	}
	info, err = Decode(b)
	if err != nil {
		return nil, true, fmt.Errorf("%s: %w", path, err)
	}
	return info, true, nil
}

// Save replaces path atomically with the encoded info.
func Save(path string, info *Info) error {
	b, err := Encode(info)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return atomicfile.Write(path, b, 0o644)
}
