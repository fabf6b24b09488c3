// Package diskstat reports the capacity of the file system holding a
// directory, as the volume server announces it in /status and heartbeats.
package diskstat

import "github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"

// Of returns the disk status of dir; on error only Dir is set.
func Of(dir, diskType string) *volume_server_pb.DiskStatus {
	d := &volume_server_pb.DiskStatus{Dir: dir, DiskType: diskType}
	all, free, err := statfs(dir)
	if err != nil || all == 0 {
		return d
	}
	d.All, d.Free, d.Used = all, free, all-free
	d.PercentFree = float32(float64(free) / float64(all) * 100)
	d.PercentUsed = float32(float64(all-free) / float64(all) * 100)
	return d
}
