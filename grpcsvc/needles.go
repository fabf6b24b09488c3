package grpcsvc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
)

// maxMetaSize bounds the metadata ReadNeedleMeta reads after a needle's
// data, as upstream does.
const maxMetaSize = 128 * 1024

// VolumeNeedleStatus reports a needle's cookie, size, checksum, last
// modified time and TTL, from the volume or, when only EC shards of it are
// mounted here, from those (engine.Store.EcRead). A missing or expired
// needle is NotFound; a deleted one fails with "already deleted".
func (s *Service) VolumeNeedleStatus(ctx context.Context, req *volume_server_pb.VolumeNeedleStatusRequest) (*volume_server_pb.VolumeNeedleStatusResponse, error) {
	if err := s.checkAdmin(ctx); err != nil {
		return nil, err
	}
	var n needle.Needle
	var err error
	if v, ok := s.store.Volume(req.GetVolumeId()); ok {
		_, err = v.Read(&n, req.GetNeedleId(), 0, nil, engine.ReadOptions{AnyCookie: true})
	} else if _, ok := s.store.EcVolume(req.GetVolumeId()); ok {
		_, err = s.store.EcRead(ctx, req.GetVolumeId(), &n, req.GetNeedleId(), 0, engine.ReadOptions{AnyCookie: true})
	} else {
		return nil, fmt.Errorf("volume not found %d", req.GetVolumeId())
	}
	if err != nil {
		if errors.Is(err, engine.ErrNotFound) {
			return nil, status.Errorf(codes.NotFound, "needle not found %d", req.GetNeedleId())
		}
		return nil, err
	}
	resp := &volume_server_pb.VolumeNeedleStatusResponse{
		NeedleId: n.ID, Cookie: n.Cookie, Size: uint32(n.Size),
		LastModified: n.LastModified, Crc: n.Checksum.Legacy(),
	}
	if n.Has(needle.FlagHasTTL) {
		resp.Ttl = n.TTL.String()
	}
	return resp, nil
}

// ReadNeedleBlob returns the raw record of size at offset of a volume's
// .dat, for replication and copies.
func (s *Service) ReadNeedleBlob(ctx context.Context, req *volume_server_pb.ReadNeedleBlobRequest) (*volume_server_pb.ReadNeedleBlobResponse, error) {
	v, ok := s.store.Volume(req.GetVolumeId())
	if !ok {
		s.m.ReadFailures.Inc()
		return nil, fmt.Errorf("not found volume id %d", req.GetVolumeId())
	}
	blob, err := readBlob(v, req.GetOffset(), req.GetSize())
	if err != nil {
		s.m.ReadFailures.Inc()
		return nil, fmt.Errorf("read needle blob offset %d size %d: %v", req.GetOffset(), req.GetSize(), err)
	}
	return &volume_server_pb.ReadNeedleBlobResponse{NeedleBlob: blob}, nil
}

func readBlob(v *engine.Volume, off int64, size int32) ([]byte, error) {
	if size < 0 {
		return nil, fmt.Errorf("invalid needle size %d", size)
	}
	blob := make([]byte, needle.ActualSize(size, v.Version()))
	n, err := v.ReadAt(blob, off)
	if n == len(blob) {
		return blob, nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return nil, err
}

// ReadNeedleMeta decodes the metadata of the record of size at offset
// without reading its data.
func (s *Service) ReadNeedleMeta(ctx context.Context, req *volume_server_pb.ReadNeedleMetaRequest) (*volume_server_pb.ReadNeedleMetaResponse, error) {
	v, ok := s.store.Volume(req.GetVolumeId())
	if !ok {
		s.m.ReadFailures.Inc()
		return nil, fmt.Errorf("not found volume id %d and read needle metadata at ec shards is not supported", req.GetVolumeId())
	}
	n, err := readMetaAt(v, req.GetOffset(), req.GetSize())
	if err != nil {
		s.m.ReadFailures.Inc()
		return nil, err
	}
	resp := &volume_server_pb.ReadNeedleMetaResponse{
		Cookie: n.Cookie, LastModified: n.LastModified, Crc: n.Checksum.Legacy(), AppendAtNs: n.AppendAtNs,
	}
	if n.Has(needle.FlagHasTTL) {
		resp.Ttl = n.TTL.String()
	}
	return resp, nil
}

// errSizeMismatch is a record header whose size is not the index's, at an
// offset below a 4-byte volume's limit, where readMetaAt looks again.
var errSizeMismatch = errors.New("size mismatch")

// readMetaAt reads the header and the fields after the data of the record
// at off, whose index size is size (a deleted size reads as an empty one).
//
// On a volume of 4-byte offsets a record whose header size differs is
// looked for again MaxSize (32 GiB) further on, where an offset that
// wrapped past 4 bytes points, as upstream does; the answer is then that
// second read's (usually EOF: the .dat is not that long).
func readMetaAt(v *engine.Volume, off int64, size int32) (needle.Needle, error) {
	if size < 0 {
		size = 0
	}
	n, err := readMetaOnce(v, off, size)
	if errors.Is(err, errSizeMismatch) {
		n, err = readMetaOnce(v, off+v.MaxSize(), size)
	}
	return n, err
}

// readMetaOnce is readMetaAt without the second look. It returns
// errSizeMismatch when the header's size differs at an offset a wrapped
// 4-byte offset could have come from.
func readMetaOnce(v *engine.Volume, off int64, size int32) (needle.Needle, error) {
	var n needle.Needle
	ver := v.Version()
	var hdr [needle.HeaderSize + needle.DataSizeSize]byte
	if err := readFullAt(v, hdr[:], off); err != nil {
		return n, err
	}
	h, _ := needle.ParseHeader(hdr[:])
	if h.Size != size {
		if v.OffsetSize() == 4 && off < v.MaxSize() {
			return n, errSizeMismatch
		}
		return n, fmt.Errorf("size mismatch for entry at offset %d: found id %x size %d, expected size %d", off, h.ID, h.Size, size)
	}
	ds := int64(hdr[16])<<24 | int64(hdr[17])<<16 | int64(hdr[18])<<8 | int64(hdr[19])
	start := off + needle.HeaderSize
	if size > 0 {
		start = off + needle.HeaderSize + needle.DataSizeSize + ds
	}
	stop := off + needle.ActualSize(size, ver)
	metaSize := stop - start
	if metaSize < 0 || metaSize > maxMetaSize {
		return n, fmt.Errorf("invalid needle meta size %d: DataSize=%d, size=%d, offset=%d", metaSize, ds, size, off)
	}
	tail := make([]byte, metaSize)
	if err := readFullAt(v, tail, start); err != nil {
		return n, err
	}
	_, err := n.DecodeMeta(hdr[:], tail, ver)
	return n, err
}

func readFullAt(v *engine.Volume, p []byte, off int64) error {
	n, err := v.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// WriteNeedleBlob appends a raw record read from another replica. It is
// refused in maintenance mode.
func (s *Service) WriteNeedleBlob(ctx context.Context, req *volume_server_pb.WriteNeedleBlobRequest) (*volume_server_pb.WriteNeedleBlobResponse, error) {
	if err := s.maintenanceErr(); err != nil {
		return nil, err
	}
	v, ok := s.store.Volume(req.GetVolumeId())
	if !ok {
		s.m.WriteFailures.Inc()
		return nil, fmt.Errorf("not found volume id %d", req.GetVolumeId())
	}
	if err := v.WriteBlob(req.GetNeedleId(), req.GetNeedleBlob(), req.GetSize()); err != nil {
		s.m.WriteFailures.Inc()
		return nil, fmt.Errorf("write blob needle %d size %d: %v", req.GetNeedleId(), req.GetSize(), err)
	}
	return &volume_server_pb.WriteNeedleBlobResponse{}, nil
}

// BatchDelete deletes file ids, one result each: 400 for an id that does
// not parse or whose cookie differs, 404 for a missing volume or needle,
// 406 for a chunk manifest, 304 when there was nothing to delete, 202 with
// the size on success and 500 when the delete failed. skip_cookie_check
// deletes without reading the needle first.
func (s *Service) BatchDelete(ctx context.Context, req *volume_server_pb.BatchDeleteRequest) (*volume_server_pb.BatchDeleteResponse, error) {
	resp := &volume_server_pb.BatchDeleteResponse{}
	if err := s.checkAdmin(ctx); err != nil {
		return resp, err
	}
	if err := s.maintenanceErr(); err != nil {
		return resp, err
	}
	var scratch []byte
	for _, fid := range req.GetFileIds() {
		var r *volume_server_pb.DeleteResult
		r, scratch = s.deleteOne(fid, req.GetSkipCookieCheck(), scratch)
		resp.Results = append(resp.Results, r)
	}
	return resp, nil
}

func (s *Service) deleteOne(fid string, skipCookieCheck bool, scratch []byte) (*volume_server_pb.DeleteResult, []byte) {
	result := func(code int, err string) *volume_server_pb.DeleteResult {
		return &volume_server_pb.DeleteResult{FileId: fid, Status: int32(code), Error: err}
	}
	comma := strings.IndexByte(fid, ',')
	if comma <= 0 {
		return result(http.StatusBadRequest, "Wrong fid format."), scratch
	}
	// An unparsable volume id is volume 0, which is never found, as upstream.
	vid, _ := needle.ParseVolumeID([]byte(fid[:comma]))
	key, cookie, err := parseKeyCookie(fid[comma+1:], skipCookieCheck)
	if err != nil {
		return result(http.StatusBadRequest, err.Error()), scratch
	}
	v, ok := s.store.Volume(vid)
	if !skipCookieCheck {
		if !ok {
			return result(http.StatusNotFound, fmt.Sprintf("volume %d not found", vid)), scratch
		}
		var n needle.Needle
		n, scratch, err = needleMeta(v, key, scratch)
		if err != nil {
			return result(http.StatusNotFound, err.Error()), scratch
		}
		if n.Cookie != cookie {
			return result(http.StatusBadRequest, "File Random Cookie does not match."), scratch
		}
		if n.IsChunkManifest() {
			return result(http.StatusNotAcceptable, "ChunkManifest: not allowed in batch delete mode."), scratch
		}
	}
	if !ok {
		return result(http.StatusInternalServerError, fmt.Sprintf("volume %d not found on %s:%d", vid, s.cfg.IP, s.cfg.Port)), scratch
	}
	size, err := v.Delete(key, cookie, engine.WriteOptions{})
	switch {
	case err != nil:
		return result(http.StatusInternalServerError, err.Error()), scratch
	case size == 0:
		return result(http.StatusNotModified, ""), scratch
	default:
		r := result(http.StatusAccepted, "")
		r.Size = uint32(size)
		return r, scratch
	}
}

// parseKeyCookie parses the key and cookie of a file id with upstream's
// error texts. Only the cookie-checking path accepts a "_delta" suffix.
func parseKeyCookie(s string, noDelta bool) (uint64, uint32, error) {
	if noDelta {
		switch {
		case len(s) <= 2*needle.CookieSize:
			return 0, 0, errors.New("KeyHash is too short.")
		case len(s) > 2*(needle.CookieSize+needle.IDSize):
			return 0, 0, errors.New("KeyHash is too long.")
		case strings.IndexByte(s, '_') >= 0:
			return 0, 0, fmt.Errorf("Parse needleId error: invalid needle id %q", s)
		}
	} else if len(s) <= 2*needle.CookieSize {
		return 0, 0, fmt.Errorf("Invalid fid: %s", s)
	}
	key, cookie, err := needle.ParseKeyCookie([]byte(s))
	if err != nil {
		return 0, 0, fmt.Errorf("Invalid fid: %s", s)
	}
	return key, cookie, nil
}

// needleMeta reads the cookie and flags of needle key without its data
// when the volume's format allows.
func needleMeta(v *engine.Volume, key uint64, scratch []byte) (needle.Needle, []byte, error) {
	var n needle.Needle
	_, size, ok := v.Lookup(key)
	if !ok {
		return n, scratch, engine.ErrNotFound
	}
	if v.Version() == needle.Version1 || (size >= 0 && size < needle.DataSizeSize) {
		rec, err := v.Read(&n, key, 0, scratch, engine.ReadOptions{AnyCookie: true})
		if err != nil {
			return n, scratch, err
		}
		meta := needle.Needle{Cookie: n.Cookie, ID: n.ID, Size: n.Size, Flags: n.Flags}
		return meta, rec[:0], nil
	}
	_, _, scratch, err := v.DataRange(&n, key, 0, scratch, engine.ReadOptions{AnyCookie: true})
	return n, scratch, err
}
