package grpcsvc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
)

// tailChunk is the most record bytes one VolumeTailSender message carries,
// as upstream's.
const tailChunk = 2 << 20

// tailPollInterval is how long VolumeTailSender waits between looks for
// new records; an idle timeout counts down one per look, as upstream's.
var tailPollInterval = 2 * time.Second

// VolumeSyncStatus reports what a follower needs to tail a volume.
func (s *Service) VolumeSyncStatus(ctx context.Context, req *volume_server_pb.VolumeSyncStatusRequest) (*volume_server_pb.VolumeSyncStatusResponse, error) {
	v, ok := s.store.Volume(req.GetVolumeId())
	if !ok {
		return nil, fmt.Errorf("not found volume id %d", req.GetVolumeId())
	}
	sb := v.SuperBlock()
	return &volume_server_pb.VolumeSyncStatusResponse{
		VolumeId:        v.ID,
		Collection:      v.Collection,
		Replication:     sb.ReplicaPlacement.String(),
		Ttl:             sb.TTL.String(),
		TailOffset:      uint64(v.Size()),
		CompactRevision: uint32(sb.CompactionRevision),
		IdxFileSize:     uint64(v.IndexSize()),
		Version:         uint32(v.Version()),
	}, nil
}

// VolumeTailSender streams the records appended to a volume after SinceNs,
// then keeps looking for new ones every tailPollInterval. Each record goes
// as its 16-byte header and the rest in chunks of at most tailChunk bytes,
// the last flagged IsLastChunk; a look that finds nothing new sends a lone
// IsLastChunk message as a heartbeat. With IdleTimeoutSeconds > 0 the
// stream ends after that many empty looks in a row; with 0 it runs until
// the client goes away.
func (s *Service) VolumeTailSender(req *volume_server_pb.VolumeTailSenderRequest, stream volume_server_pb.VolumeServer_VolumeTailSenderServer) error {
	v, ok := s.store.Volume(req.GetVolumeId())
	if !ok {
		return fmt.Errorf("not found volume id %d", req.GetVolumeId())
	}
	since, idle := req.GetSinceNs(), req.GetIdleTimeoutSeconds()
	left := idle
	var buf []byte
	for {
		last, err := sendRecordsSince(stream, v, since, &buf)
		if err != nil {
			return fmt.Errorf("streamFollow: %w", err)
		}
		select {
		case <-stream.Context().Done():
			return stream.Context().Err()
		case <-time.After(tailPollInterval):
		}
		if idle == 0 || last != since {
			since, left = last, idle
			continue
		}
		if left--; left == 0 {
			return nil
		}
	}
}

// sendRecordsSince sends v's records appended after since and returns the
// append time of the last one sent (since when none was).
func sendRecordsSince(stream volume_server_pb.VolumeServer_VolumeTailSenderServer, v *engine.Volume, since uint64, buf *[]byte) (uint64, error) {
	ver := uint32(v.Version())
	off, ok, err := v.FirstAppendAfter(since)
	if err != nil {
		return since, fmt.Errorf("fail to locate by appendAtNs %d: %w", since, err)
	}
	if !ok {
		return since, stream.Send(&volume_server_pb.VolumeTailSenderResponse{IsLastChunk: true, Version: ver})
	}
	last := since
	*buf, err = scanRecords(stream.Context(), v, off, *buf, nil, func(_ int64, rec []byte) error {
		header, body := rec[:needle.HeaderSize], rec[needle.HeaderSize:]
		for len(body) > 0 {
			n := min(len(body), tailChunk)
			msg := &volume_server_pb.VolumeTailSenderResponse{NeedleHeader: header, NeedleBody: body[:n], IsLastChunk: n == len(body), Version: ver}
			if err := stream.Send(msg); err != nil {
				return err
			}
			body = body[n:]
		}
		if ts := recordAppendAtNs(rec, needle.Version(ver)); ts > last {
			last = ts
		}
		return nil
	})
	return last, err
}

// recordAppendAtNs is the v3 append timestamp of a whole record (0 before
// version 3).
func recordAppendAtNs(rec []byte, ver needle.Version) uint64 {
	if ver < needle.Version3 {
		return 0
	}
	h, _ := needle.ParseHeader(rec)
	return binary.BigEndian.Uint64(rec[needle.AppendAtNsOffset(h.Size):])
}

// VolumeTailReceiver follows the same volume on another server through its
// VolumeTailSender and applies each record here: writes as writes, empty
// records (deletes) as deletes. It returns when the source's stream ends.
func (s *Service) VolumeTailReceiver(ctx context.Context, req *volume_server_pb.VolumeTailReceiverRequest) (*volume_server_pb.VolumeTailReceiverResponse, error) {
	if err := s.checkAdmin(ctx); err != nil {
		return nil, err
	}
	resp := &volume_server_pb.VolumeTailReceiverResponse{}
	source := req.GetSourceVolumeServer()
	if err := s.checkPeer(ctx, source); err != nil {
		return resp, fmt.Errorf("invalid source volume server %s: %w", source, err)
	}
	v, ok := s.store.Volume(req.GetVolumeId())
	if !ok {
		return resp, fmt.Errorf("receiver not found volume id %d", req.GetVolumeId())
	}
	conn, err := s.dialPeer(source)
	if err != nil {
		return resp, fmt.Errorf("fail to dial %s: %w", source, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := volume_server_pb.NewVolumeServerClient(conn).VolumeTailSender(ctx, &volume_server_pb.VolumeTailSenderRequest{
		VolumeId: req.GetVolumeId(), SinceNs: req.GetSinceNs(), IdleTimeoutSeconds: req.GetIdleTimeoutSeconds(),
	})
	if err != nil {
		return resp, err
	}
	var rec []byte
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return resp, nil
		}
		if err != nil {
			return resp, err
		}
		if len(msg.GetNeedleHeader()) == 0 {
			continue // heartbeat
		}
		rec = append(append(rec[:0], msg.GetNeedleHeader()...), msg.GetNeedleBody()...)
		for !msg.GetIsLastChunk() {
			if msg, err = stream.Recv(); err != nil {
				return resp, fmt.Errorf("tail of volume %d from %s cut inside a needle: %w", v.ID, source, err)
			}
			rec = append(rec, msg.GetNeedleBody()...)
		}
		if err := applyTailRecord(v, rec, needle.Version(msg.GetVersion())); err != nil {
			return resp, err
		}
	}
}

// applyTailRecord writes one record received from a tail stream into v.
func applyTailRecord(v *engine.Volume, rec []byte, ver needle.Version) error {
	if ver == 0 {
		ver = needle.Version3
	}
	var n needle.Needle
	if err := n.DecodeAny(rec, ver); err != nil {
		return fmt.Errorf("tailed needle: %w", err)
	}
	if n.Size == 0 {
		_, err := v.Delete(n.ID, n.Cookie, engine.WriteOptions{})
		return err
	}
	_, err := v.Write(&n, engine.WriteOptions{})
	return err
}
