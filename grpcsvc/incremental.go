package grpcsvc

import (
	"fmt"
	"io"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// VolumeIncrementalCopy streams what a backup lacks: the .dat bytes from the
// first record appended after SinceNs to the end of the last committed
// record, then, for a backup starting from nothing (SinceNs 0), the whole
// .idx up to the rows covering those records. Nothing newer: no message.
//
// Resuming by the backup's last index entry (EntryCount > 0) is refused
// with Unimplemented: weedvol does not implement upstream's entry-hash
// check yet, and a resume without it could splice diverged files.
func (s *Service) VolumeIncrementalCopy(req *volume_server_pb.VolumeIncrementalCopyRequest, stream volume_server_pb.VolumeServer_VolumeIncrementalCopyServer) error {
	v, ok := s.store.Volume(req.GetVolumeId())
	if !ok {
		return fmt.Errorf("not found volume id %d", req.GetVolumeId())
	}
	if req.GetEntryCount() > 0 {
		return status.Errorf(codes.Unimplemented, "volume %d: incremental copy resumed by index entry is not supported; resume by since_ns", v.ID)
	}
	datEnd, idxEnd := v.CommittedSizes()
	start, ok, err := v.FirstAppendAfter(req.GetSinceNs())
	if err != nil {
		return fmt.Errorf("fail to locate by appendAtNs %d: %w", req.GetSinceNs(), err)
	}
	if !ok {
		return nil
	}
	buf := make([]byte, min(copyChunk, max(datEnd-start, idxEnd, 1)))
	send := func(read func([]byte, int64) (int, error), from, to int64, msg func([]byte) *volume_server_pb.VolumeIncrementalCopyResponse) error {
		for off := from; off < to; {
			n, err := read(buf[:min(int64(len(buf)), to-off)], off)
			if n > 0 {
				if err := stream.Send(msg(buf[:n])); err != nil {
					return err
				}
				off += int64(n)
				continue
			}
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("volume %d: read at %d of %d: %w", v.ID, off, to, err)
		}
		return nil
	}
	err = send(v.ReadAt, start, datEnd, func(b []byte) *volume_server_pb.VolumeIncrementalCopyResponse {
		return &volume_server_pb.VolumeIncrementalCopyResponse{FileContent: b}
	})
	if err != nil || req.GetSinceNs() != 0 {
		return err
	}
	return send(v.ReadIndexAt, 0, idxEnd, func(b []byte) *volume_server_pb.VolumeIncrementalCopyResponse {
		return &volume_server_pb.VolumeIncrementalCopyResponse{IdxContent: b}
	})
}
