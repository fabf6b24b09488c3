package grpcsvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/remote_pb"
	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/netguard"
	"github.com/weedvol/weedvol/remote"
)

// maxFetchSize bounds FetchAndWriteNeedle's size: a needle's data size is
// 32 bits, and the whole needle is held in memory once.
const maxFetchSize = 1<<32 - 1<<20

// Replica writes are bounded as upstream's: a base plus the time the body
// takes at replicaMinBytesPerSec.
var fetchReplicaTimeout = 30 * time.Second

const replicaMinBytesPerSec = 1 << 20

// errNotFoundText is upstream's remote_storage.ErrRemoteObjectNotFound
// text, which the filer matches in a NotFound status.
const errNotFoundText = "remote object not found"

// FetchAndWriteNeedle reads [offset, offset+size) of the object remote_conf
// and remote_location name from an S3-compatible store, writes it as needle
// (needle_id, cookie) into the local volume, and sends it to the replicas
// the request lists, as upstream. The needle's data (size bytes, owned by
// this call) is the only buffer: the remote read goes straight into it and
// the local write and the replica uploads share it read-only.
//
// Checks, in upstream's order and with its texts: admin white list,
// maintenance mode, "not found volume id", "get remote client: ..." for a
// configuration that is not s3, "reject remote endpoint: ..." for an
// endpoint on loopback, link-local, private or metadata addresses (unless
// AllowUntrustedRemoteEndpoints), "read from remote <location>: ..." for a
// failed or short read (codes.NotFound with upstream's text for a missing
// object), "reject replica target: ..." before anything is written.
func (s *Service) FetchAndWriteNeedle(ctx context.Context, req *volume_server_pb.FetchAndWriteNeedleRequest) (*volume_server_pb.FetchAndWriteNeedleResponse, error) {
	if err := s.checkAdmin(ctx); err != nil {
		return nil, err
	}
	if err := s.maintenanceErr(); err != nil {
		return nil, err
	}
	v, ok := s.store.Volume(req.GetVolumeId())
	if !ok {
		return nil, fmt.Errorf("not found volume id %d", req.GetVolumeId())
	}
	client, err := s.remoteClient(ctx, req.GetRemoteConf(), req.GetRemoteLocation())
	if err != nil {
		return nil, err
	}
	loc := req.GetRemoteLocation()
	data, err := readRemote(ctx, client, loc, req.GetOffset(), req.GetSize())
	if err != nil {
		return nil, err
	}
	for _, r := range req.GetReplicas() {
		if err := s.checkPeer(ctx, r.GetUrl()); err != nil {
			return nil, fmt.Errorf("reject replica target: %w", err)
		}
	}

	resp := &volume_server_pb.FetchAndWriteNeedleResponse{}
	var wg sync.WaitGroup
	var localErr error
	replicaErrs := make([]error, len(req.GetReplicas()))
	wg.Add(1)
	go func() {
		defer wg.Done()
		n := &needle.Needle{ID: req.GetNeedleId(), Cookie: req.GetCookie(), Data: data}
		n.SetLastModified(uint64(time.Now().Unix()))
		if _, err := v.Write(n, engine.WriteOptions{CheckCookie: true}); err != nil {
			s.m.WriteFailures.Inc()
			localErr = fmt.Errorf("local write needle %d size %d: %v", req.GetNeedleId(), req.GetSize(), err)
			return
		}
		resp.ETag = n.Etag()
	}()
	fid := needle.FormatFid(req.GetVolumeId(), req.GetNeedleId(), req.GetCookie())
	for i, r := range req.GetReplicas() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.replicateFetched(ctx, r.GetUrl(), fid, req.GetAuth(), data); err != nil {
				replicaErrs[i] = fmt.Errorf("remote write needle %d size %d: %v", req.GetNeedleId(), req.GetSize(), err)
			}
		}()
	}
	wg.Wait()
	// the local error wins, then the first replica's, as upstream
	err = localErr
	for _, e := range replicaErrs {
		if err == nil {
			err = e
		}
	}
	return resp, err
}

// remoteClient builds the S3 client of conf, after the endpoint guard.
// Only "s3" is served; other types fail with upstream's text for an
// unknown type.
func (s *Service) remoteClient(ctx context.Context, conf *remote_pb.RemoteConf, loc *remote_pb.RemoteStorageLocation) (*remote.S3, error) {
	if conf.GetType() != "s3" {
		return nil, fmt.Errorf("get remote client: make remote storage client %s: remote storage type %s not found", conf.GetName(), conf.GetType())
	}
	endpoint := conf.GetS3Endpoint()
	g := netguard.Guard{AllowUntrusted: s.cfg.AllowUntrustedRemoteEndpoints, Resolver: peerResolver}
	if endpoint != "" {
		// upstream leaves an empty endpoint (AWS itself) unchecked
		if err := g.CheckRemoteEndpoint(ctx, endpoint); err != nil {
			return nil, fmt.Errorf("reject remote endpoint: %w", err)
		}
	}
	var dial func(ctx context.Context, network, addr string) (net.Conn, error)
	if d := g.Dialer(netguard.Remote, endpoint); d != nil {
		dial = d
	}
	client, err := remote.NewS3(remote.S3Config{
		Endpoint:       endpoint,
		Region:         conf.GetS3Region(),
		AccessKey:      conf.GetS3AccessKey(),
		SecretKey:      conf.GetS3SecretKey(),
		Bucket:         loc.GetBucket(),
		ForcePathStyle: conf.GetS3ForcePathStyle(),
		StorageClass:   conf.GetS3StorageClass(),
		Dial:           dial,
	})
	if err != nil {
		return nil, fmt.Errorf("get remote client: make remote storage client %s: %v", conf.GetName(), err)
	}
	return client, nil
}

// readRemote reads exactly size bytes at offset into a fresh slice, the
// needle's data, in one ranged GET. The request's download_concurrency is
// not used, as upstream in effect does not use it either: its S3 reader
// hands the range to aws-sdk-go's downloader, which fetches a given Range
// in a single request whatever its Concurrency. Neither side gzips the
// data: the local write stores it as it came and the replicas get it as
// a replication upload, which upstream's uploader never compresses.
func readRemote(ctx context.Context, c *remote.S3, loc *remote_pb.RemoteStorageLocation, offset, size int64) ([]byte, error) {
	if size <= 0 || size > maxFetchSize {
		return nil, fmt.Errorf("read from remote %+v: invalid size %d", loc, size)
	}
	key := strings.TrimPrefix(loc.GetPath(), "/")
	if key == "" {
		return nil, fmt.Errorf("read from remote %+v: empty path", loc)
	}
	data := make([]byte, size)
	n, err := c.ReadAt(ctx, key, data, offset)
	switch {
	case errors.Is(err, remote.ErrNotFound):
		return nil, status.Errorf(codes.NotFound, "read from remote %+v: %s", loc, errNotFoundText)
	case err != nil && !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("read from remote %+v: %w", loc, err)
	case int64(n) != size:
		// a short chunk would be recorded as a full one: refuse it
		return nil, fmt.Errorf("read from remote %+v: short read from %s%s at offset %d: got %d bytes, want %d",
			loc, loc.GetBucket(), loc.GetPath(), offset, n, size)
	}
	return data, nil
}

// replicateFetched posts data to the replica at target ("host:port") as
// upstream's replication upload: a multipart form with an empty file name
// and the sniffed content type, type=replicate, the request's JWT. The
// connection goes through the peer guard unless untrusted endpoints are
// allowed. data is read, never written.
func (s *Service) replicateFetched(ctx context.Context, target, fid, jwt string, data []byte) error {
	ctx, cancel := context.WithTimeout(ctx, fetchReplicaTimeout+time.Duration(int64(len(data))*1000/replicaMinBytesPerSec)*time.Millisecond)
	defer cancel()
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", `form-data; name="file"; filename=""`)
	if mt := http.DetectContentType(data); mt != "application/octet-stream" {
		h.Set("Content-Type", mt)
	}
	if _, err := mw.CreatePart(h); err != nil {
		return err
	}
	tail := "\r\n--" + mw.Boundary() + "--\r\n"
	body := io.MultiReader(bytes.NewReader(head.Bytes()), bytes.NewReader(data), strings.NewReader(tail))
	scheme := "http://"
	if s.cfg.PeerHTTPTLS != nil {
		scheme = "https://"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, scheme+target+"/"+fid+"?type=replicate", body)
	if err != nil {
		return err
	}
	req.ContentLength = int64(head.Len() + len(data) + len(tail))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if jwt != "" {
		req.Header.Set("Authorization", "BEARER "+jwt)
	}
	tr := &http.Transport{TLSClientConfig: s.cfg.PeerHTTPTLS, DisableKeepAlives: true}
	if d := s.peerGuard().Dialer(netguard.Peer, target); d != nil {
		tr.DialContext = d
	}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode >= 300 {
		return fmt.Errorf("upload to %s: %s: %s", target, res.Status, bytes.TrimSpace(msg))
	}
	return nil
}
