//go:build !linux

package grpcsvc

import "github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"

func fillSystemMemory(*volume_server_pb.MemStatus) {}
