package grpcsvc

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/seaweedfs/seaweedfs/weed/pb/remote_pb"
	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/internal/s3test"
)

func fetchReq(vid uint32, key uint64, cookie uint32, off, size int64, conf *remote_pb.RemoteConf, bucket, path string) *volume_server_pb.FetchAndWriteNeedleRequest {
	return &volume_server_pb.FetchAndWriteNeedleRequest{VolumeId: vid, NeedleId: key, Cookie: cookie, Offset: off, Size: size,
		RemoteConf:     conf,
		RemoteLocation: &remote_pb.RemoteStorageLocation{Name: conf.GetName(), Bucket: bucket, Path: path}}
}

// TestFetchAndWriteNeedleGuard: with untrusted endpoints refused (the
// default), endpoints on loopback, link-local, private and metadata
// addresses, and names that rebind to loopback, are refused without a
// connection reaching them and without a needle written.
func TestFetchAndWriteNeedleGuard(t *testing.T) {
	r := &rebindResolver{}
	peerResolver = r
	t.Cleanup(func() { peerResolver = nil })
	e := newEnv(t, refusePeers)
	v := e.allocate(t, 5, "")
	port, accepted := countingListener(t)
	cases := []struct {
		endpoint string
		want     string
	}{
		{"http://127.0.0.1:" + port, "reject remote endpoint: remote endpoint \"http://127.0.0.1:" + port + "\" resolves to loopback address 127.0.0.1"},
		{"http://169.254.169.254", "instance metadata service"},
		{"http://metadata.google.internal", "instance metadata service"},
		{"http://10.1.2.3:9000", "private address"},
		{"http://[::1]:" + port, "loopback"},
		{"ftp://s3.example.com", "must use http or https"},
		// checked as 192.0.2.10, dialed as 127.0.0.1: the dial refuses
		{"http://rebind.example:" + port, "loopback address 127.0.0.1"},
	}
	for _, c := range cases {
		conf := &remote_pb.RemoteConf{Name: "g", Type: "s3", S3Endpoint: c.endpoint, S3AccessKey: "a", S3SecretKey: "b", S3ForcePathStyle: true}
		_, err := e.client.FetchAndWriteNeedle(ctxT(t), fetchReq(5, 1, 1, 0, 10, conf, "bucket", "/k"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("endpoint %s: %v, want %q", c.endpoint, err, c.want)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("%d connections reached the loopback listener", n)
	}
	if _, err := v.Read(&needle.Needle{}, 1, 1, nil, engineReadOptions()); err == nil {
		t.Fatal("a refused fetch wrote a needle")
	}
}

// TestFetchAndWriteNeedleS3 runs the RPC against a real S3 endpoint.
func TestFetchAndWriteNeedleS3(t *testing.T) {
	srv := s3test.Start(t, 9460)
	srv.MakeBucket(t, "fetch-unit")
	obj := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	if _, err := srv.Client(t).PutObject(context.Background(), "fetch-unit", "obj", bytes.NewReader(obj), int64(len(obj)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	v := e.allocate(t, 6, "")
	good := &remote_pb.RemoteConf{Name: "u", Type: "s3", S3Endpoint: srv.Endpoint, S3Region: s3test.Region,
		S3AccessKey: s3test.AccessKey, S3SecretKey: s3test.SecretKey, S3ForcePathStyle: true}
	wrong := &remote_pb.RemoteConf{Name: "u", Type: "s3", S3Endpoint: srv.Endpoint, S3Region: s3test.Region,
		S3AccessKey: s3test.AccessKey, S3SecretKey: "nope", S3ForcePathStyle: true}
	n := int64(len(obj))
	cases := []struct {
		name     string
		req      *volume_server_pb.FetchAndWriteNeedleRequest
		code     codes.Code
		want     string // error substring; "" is success
		wantData []byte
	}{
		{"whole", fetchReq(6, 1, 11, 0, n, good, "fetch-unit", "/obj"), codes.OK, "", obj},
		{"range", fetchReq(6, 2, 12, 100, 1000, good, "fetch-unit", "/obj"), codes.OK, "", obj[100:1100]},
		{"overwrite same cookie", fetchReq(6, 2, 12, 200, 10, good, "fetch-unit", "/obj"), codes.OK, "", obj[200:210]},
		{"cookie mismatch", fetchReq(6, 2, 99, 0, 10, good, "fetch-unit", "/obj"), codes.Unknown, "local write needle 2 size 10", nil},
		{"short", fetchReq(6, 3, 13, n-10, 20, good, "fetch-unit", "/obj"), codes.Unknown, "got 10 bytes, want 20", nil},
		{"past the end", fetchReq(6, 3, 13, n+5, 20, good, "fetch-unit", "/obj"), codes.Unknown, "got 0 bytes, want 20", nil},
		{"missing key", fetchReq(6, 3, 13, 0, 20, good, "fetch-unit", "/nope"), codes.NotFound, `read from remote name:"u" bucket:"fetch-unit" path:"/nope": remote object not found`, nil},
		{"missing bucket", fetchReq(6, 3, 13, 0, 20, good, "no-such-bucket", "/obj"), codes.NotFound, "remote object not found", nil},
		{"wrong secret", fetchReq(6, 3, 13, 0, 20, wrong, "fetch-unit", "/obj"), codes.Unknown, "read from remote", nil},
		{"zero size", fetchReq(6, 3, 13, 0, 0, good, "fetch-unit", "/obj"), codes.Unknown, "invalid size 0", nil},
		{"empty path", fetchReq(6, 3, 13, 0, 5, good, "fetch-unit", "/"), codes.Unknown, "empty path", nil},
		{"missing volume", fetchReq(77, 3, 13, 0, 5, good, "fetch-unit", "/obj"), codes.Unknown, "not found volume id 77", nil},
		{"bad replica", func() *volume_server_pb.FetchAndWriteNeedleRequest {
			r := fetchReq(6, 4, 14, 0, 5, good, "fetch-unit", "/obj")
			r.Replicas = []*volume_server_pb.FetchAndWriteNeedleRequest_Replica{{Url: "127.0.0.1:1"}}
			return r
		}(), codes.Unknown, "remote write needle 4 size 5", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := e.client.FetchAndWriteNeedle(ctxT(t), c.req)
			// protobuf's text form (in the messages that name the
			// location, as upstream's) pads fields with one or two spaces
			// at random: compare with runs of spaces folded
			fold := func(s string) string { return strings.Join(strings.Fields(s), " ") }
			if status.Code(err) != c.code || c.want != "" && !strings.Contains(fold(err.Error()), fold(c.want)) {
				t.Fatalf("err = %v, want %v %q", err, c.code, c.want)
			}
			if c.wantData == nil {
				return
			}
			var got needle.Needle
			if _, err := v.Read(&got, c.req.NeedleId, c.req.Cookie, nil, engineReadOptions()); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Data, c.wantData) {
				t.Fatalf("needle holds %d bytes, not the remote range", len(got.Data))
			}
			if resp.GetETag() != got.Etag() || !got.Has(needle.FlagHasLastModifiedDate) {
				t.Fatalf("ETag %q, needle's %q; flags %#x", resp.GetETag(), got.Etag(), got.Flags)
			}
		})
	}
}
