package grpcsvc

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"

	"github.com/weedvol/weedvol/engine"
)

// copyChunk is the size of one CopyFile message, as upstream's.
const copyChunk = 2 << 20

// ReadVolumeFileStatus reports a volume's file sizes and times, what a
// copying peer reads before CopyFile.
func (s *Service) ReadVolumeFileStatus(ctx context.Context, req *volume_server_pb.ReadVolumeFileStatusRequest) (*volume_server_pb.ReadVolumeFileStatusResponse, error) {
	v, ok := s.store.Volume(req.GetVolumeId())
	if !ok {
		return nil, fmt.Errorf("not found volume id %d", req.GetVolumeId())
	}
	resp := &volume_server_pb.ReadVolumeFileStatusResponse{
		VolumeId:           req.GetVolumeId(),
		DatFileSize:        uint64(v.Size()),
		IdxFileSize:        uint64(v.IndexSize()),
		FileCount:          v.Stats().FileCount,
		CompactionRevision: uint32(v.SuperBlock().CompactionRevision),
		Collection:         v.Collection,
		VolumeInfo:         v.Info(),
		Version:            uint32(v.Version()),
	}
	if st, err := os.Stat(v.FileName(".dat")); err == nil {
		resp.DatFileTimestampSeconds = uint64(st.ModTime().Unix())
		resp.IdxFileTimestampSeconds = resp.DatFileTimestampSeconds
	}
	if loc, ok := s.store.LocationOf(v.ID); ok {
		resp.DiskType = diskType(loc.DiskType)
	}
	if ttl := v.SuperBlock().TTL.Seconds(); ttl > 0 {
		resp.ExpireAtSec = uint64(v.LastModified()) + ttl
	}
	return resp, nil
}

// CopyFile streams one of a volume's files up to StopOffset bytes, after
// syncing it, in 2 MiB messages; the first carries the file's mtime. The
// extension and collection are checked first, with upstream's texts
// (engine.ValidExt, engine.ValidCollection); a symbolic link at the file's
// name is refused (engine.Volume.OpenFile).
func (s *Service) CopyFile(req *volume_server_pb.CopyFileRequest, stream volume_server_pb.VolumeServer_CopyFileServer) error {
	if err := engine.ValidExt(req.GetExt()); err != nil {
		return err
	}
	if err := engine.ValidCollection(req.GetCollection()); err != nil {
		return err
	}
	if req.GetIsEcVolume() {
		return s.copyEcFile(req, stream)
	}
	v, ok := s.store.Volume(req.GetVolumeId())
	if !ok {
		return fmt.Errorf("not found volume id %d", req.GetVolumeId())
	}
	if rev := uint32(v.SuperBlock().CompactionRevision); rev != req.GetCompactionRevision() && req.GetCompactionRevision() != math.MaxUint32 {
		return fmt.Errorf("volume %d is compacted", req.GetVolumeId())
	}
	_ = v.Sync()
	f, err := v.OpenFile(req.GetExt())
	if err != nil {
		if os.IsNotExist(err) && (req.GetIgnoreSourceFileNotFound() || req.GetStopOffset() == 0) {
			return nil
		}
		return err
	}
	defer f.Close()
	return sendFile(f, int64(req.GetStopOffset()), stream)
}

// sendFile streams f from its start up to stop bytes in copyChunk
// messages, the first carrying f's mtime (alone, when f is empty or stop
// is 0). Buffer ownership: one buffer is reused across messages; Send
// marshals each before it returns.
func sendFile(f *os.File, stop int64, stream volume_server_pb.VolumeServer_CopyFileServer) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	modNs := st.ModTime().UnixNano()
	left := stop
	buf := make([]byte, min(copyChunk, max(left, 1)))
	for left > 0 {
		n, err := f.Read(buf[:min(int64(len(buf)), left)])
		if n > 0 {
			if serr := stream.Send(&volume_server_pb.CopyFileResponse{FileContent: buf[:n], ModifiedTsNs: modNs}); serr != nil {
				return serr
			}
			modNs = 0
			left -= int64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if modNs != 0 {
		return stream.Send(&volume_server_pb.CopyFileResponse{ModifiedTsNs: modNs})
	}
	return nil
}
