package grpcsvc

import (
	"syscall"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
)

// fillSystemMemory adds the machine's memory as upstream reports it: the
// sysinfo totals, without scaling by the memory unit.
func fillSystemMemory(m *volume_server_pb.MemStatus) {
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) == nil {
		m.All = uint64(si.Totalram)
		m.Free = uint64(si.Freeram)
		m.Used = m.All - m.Free
	}
}
