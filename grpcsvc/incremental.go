package grpcsvc

import (
	"errors"
	"fmt"
	"io"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine"
)

// VolumeIncrementalCopy streams what a backup lacks: the .dat bytes from the
// first record appended after SinceNs to the end of the last committed
// record, then, for a backup starting from nothing (SinceNs 0), the whole
// .idx up to the rows covering those records. Nothing newer: no message.
//
// Resumed by the backup's last index entry (EntryCount > 0), as upstream:
// the backup's rows must be a prefix of this volume's (engine
// ResumeAfterEntry; otherwise FailedPrecondition "local copy diverged from
// the replica"); the .dat bytes then run from the first record after that
// prefix, and the index rows from EntryCount are always sent, so
// index-only rows (tombstones with no record) reach the backup too.
func (s *Service) VolumeIncrementalCopy(req *volume_server_pb.VolumeIncrementalCopyRequest, stream volume_server_pb.VolumeServer_VolumeIncrementalCopyServer) error {
	v, ok := s.store.Volume(req.GetVolumeId())
	if !ok {
		return fmt.Errorf("not found volume id %d", req.GetVolumeId())
	}
	datEnd, idxEnd := v.CommittedSizes()
	var start, idxFrom int64
	hasData, sendIndex := true, req.GetSinceNs() == 0
	if n := req.GetEntryCount(); n > 0 {
		p, err := v.ResumeAfterEntry(n, req.GetLastNeedleKey(), req.GetLastNeedleCookie(), req.GetLastNeedleSize(), req.GetEntriesHash(), idxEnd)
		if errors.Is(err, engine.ErrCopyDiverged) {
			return status.Error(codes.FailedPrecondition, err.Error())
		}
		if err != nil {
			return fmt.Errorf("fail to locate by entry %d: %v", n, err)
		}
		if p.UpToDate {
			return nil
		}
		start, hasData, sendIndex = p.DatFrom, p.HasData, true
		idxFrom = min(int64(n)*int64(v.IndexEntrySize()), idxEnd)
	} else {
		var ok bool
		var err error
		if start, ok, err = v.FirstAppendAfter(req.GetSinceNs()); err != nil {
			return fmt.Errorf("fail to locate by appendAtNs %d: %w", req.GetSinceNs(), err)
		}
		if !ok {
			return nil
		}
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
	if hasData {
		err := send(v.ReadAt, start, datEnd, func(b []byte) *volume_server_pb.VolumeIncrementalCopyResponse {
			return &volume_server_pb.VolumeIncrementalCopyResponse{FileContent: b}
		})
		if err != nil {
			return err
		}
	}
	if !sendIndex {
		return nil
	}
	return send(v.ReadIndexAt, idxFrom, idxEnd, func(b []byte) *volume_server_pb.VolumeIncrementalCopyResponse {
		return &volume_server_pb.VolumeIncrementalCopyResponse{IdxContent: b}
	})
}
