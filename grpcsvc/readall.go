package grpcsvc

import (
	"context"
	"fmt"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
)

// ReadAllNeedles streams every needle of the volumes in .dat order: each
// record the index still points at (so overwritten copies are skipped,
// while a deleted needle's last record is sent, as upstream does). A
// missing volume ends the stream with an error.
func (s *Service) ReadAllNeedles(req *volume_server_pb.ReadAllNeedlesRequest, stream volume_server_pb.VolumeServer_ReadAllNeedlesServer) error {
	if err := s.checkAdmin(stream.Context()); err != nil {
		return err
	}
	var buf []byte
	for _, vid := range req.GetVolumeIds() {
		v, ok := s.store.Volume(vid)
		if !ok {
			s.m.ReadFailures.Inc()
			return fmt.Errorf("not found volume id %d", vid)
		}
		var err error
		if buf, err = streamVolume(v, stream, buf); err != nil {
			s.m.ReadFailures.Inc()
			return err
		}
	}
	return nil
}

// streamVolume sends v's live records, from the end of its super block
// to its current size. buf is reused between records and returned.
func streamVolume(v *engine.Volume, stream volume_server_pb.VolumeServer_ReadAllNeedlesServer, buf []byte) ([]byte, error) {
	ver := v.Version()
	sb := v.SuperBlock()
	live := func(off int64, h needle.Header) bool {
		ioff, _, ok := v.Lookup(h.ID)
		return ok && ioff == off
	}
	return scanRecords(stream.Context(), v, int64(sb.BlockSize()), buf, live, func(off int64, rec []byte) error {
		var n needle.Needle
		if err := n.DecodeAny(rec, ver); err != nil {
			return fmt.Errorf("volume %d: needle at %d: %w", v.ID, off, err)
		}
		return stream.Send(&volume_server_pb.ReadAllNeedlesResponse{
			VolumeId: v.ID, NeedleId: n.ID, Cookie: n.Cookie,
			NeedleBlob: n.Data, NeedleBlobCompressed: n.IsCompressed(),
			LastModified: n.LastModified, Crc: n.Checksum.Legacy(),
			Name: n.Name, Mime: n.Mime,
		})
	})
}

// scanRecords walks v's .dat records from off to v's size when the scan
// starts. For each record that want accepts (nil: all) it reads the whole
// record into buf and calls fn with it; rec is valid during the call only.
// It returns buf, grown as needed, for reuse. A header that does not fit
// the file, or a vacuum committed during the scan, stops it with an error.
func scanRecords(ctx context.Context, v *engine.Volume, off int64, buf []byte,
	want func(off int64, h needle.Header) bool, fn func(off int64, rec []byte) error) ([]byte, error) {
	rev := v.SuperBlock().CompactionRevision
	read := func(p []byte, off int64) error { return readFullAt(v, p, off) }
	var stopped error // ctx's or fn's error, returned as is
	visit := func(off int64, h needle.Header) (bool, error) {
		stopped = ctx.Err()
		return stopped == nil && (want == nil || want(off, h)), stopped
	}
	send := func(off int64, rec []byte) error {
		stopped = fn(off, rec)
		return stopped
	}
	buf, err := needle.WalkRecords(read, v.Version(), off, v.Size(), buf, visit, send)
	if err != nil {
		if stopped == nil {
			err = fmt.Errorf("volume %d: %w", v.ID, err)
		}
		return buf, err
	}
	if v.SuperBlock().CompactionRevision != rev {
		// offsets and liveness checked above may belong to the files a
		// vacuum replaced during the scan
		return buf, fmt.Errorf("volume %d was compacted during the scan", v.ID)
	}
	return buf, nil
}
