package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/seaweedfs/seaweedfs/weed/pb/remote_pb"
	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/internal/s3test"
	"github.com/weedvol/weedvol/internal/weedproc"
)

// TestFetchAndWriteNeedleAsUpstream runs weedvol and upstream's weed
// volume under one real master, with a real S3 endpoint (weed mini):
// the same FetchAndWriteNeedle request to each writes needles that read
// back over HTTP byte-identical to the S3 range and to each other (same
// ETag, Content-Type, length, needle size and CRC); and weedvol's
// replication leaves the same needle on the upstream replica.
func TestFetchAndWriteNeedleAsUpstream(t *testing.T) {
	weed := weedproc.TestBinary(t, "WEED_BINARY", "weed")
	root := t.TempDir()
	weedvol := buildWeedvol(t, root)
	srv := s3test.Start(t, 9450)
	srv.MakeBucket(t, "fetch-e2e")

	objects := map[string][]byte{
		"text.txt": bytes.Repeat([]byte("plain text from the remote store\n"), 40),
		"blob.bin": patternData(300 << 10),
	}
	for k, v := range objects {
		if _, err := srv.Client(t).PutObject(context.Background(), "fetch-e2e", k, bytes.NewReader(v), int64(len(v)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	dirs := map[string]string{}
	for _, d := range []string{"m", "w", "u", "wl", "ul"} {
		dirs[d] = filepath.Join(root, d)
		if err := os.MkdirAll(dirs[d], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	master, err := weedproc.StartMaster(weed, dirs["m"])
	if err != nil {
		t.Fatal(err)
	}
	defer master.Stop()
	flag := "-volume.allowUntrustedRemoteEndpoints" // the S3 endpoint is on loopback
	ours, err := weedproc.StartVolume(weedvol, dirs["w"], dirs["wl"], master.Addr(), flag)
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Stop()
	theirs, err := weedproc.StartVolume(weed, dirs["u"], dirs["ul"], master.Addr(), flag)
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	oc, uc := volumeClient(t, ours), volumeClient(t, theirs)
	const vid = 61
	for _, c := range []volume_server_pb.VolumeServerClient{oc, uc} {
		if _, err := c.AllocateVolume(ctx, &volume_server_pb.AllocateVolumeRequest{VolumeId: vid, Replication: "000", Version: 3}); err != nil {
			t.Fatal(err)
		}
	}
	conf := &remote_pb.RemoteConf{Name: "e2e", Type: "s3", S3AccessKey: s3test.AccessKey, S3SecretKey: s3test.SecretKey,
		S3Region: s3test.Region, S3Endpoint: srv.Endpoint, S3ForcePathStyle: true}

	cases := []struct {
		name         string
		key          string
		needle       uint64
		cookie       uint32
		offset, size int64
	}{
		{"whole text", "text.txt", 11, 0x1234, 0, int64(len(objects["text.txt"]))},
		{"text range", "text.txt", 12, 0x99, 7, 100},
		{"binary range", "blob.bin", 13, 0xabcdef, 1000, 200 << 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := &volume_server_pb.FetchAndWriteNeedleRequest{VolumeId: vid, NeedleId: c.needle, Cookie: c.cookie,
				Offset: c.offset, Size: c.size, RemoteConf: conf,
				RemoteLocation: &remote_pb.RemoteStorageLocation{Name: "e2e", Bucket: "fetch-e2e", Path: "/" + c.key}}
			or, err := oc.FetchAndWriteNeedle(ctx, req)
			if err != nil {
				t.Fatalf("weedvol: %v", err)
			}
			ur, err := uc.FetchAndWriteNeedle(ctx, req)
			if err != nil {
				t.Fatalf("upstream: %v", err)
			}
			if or.GetETag() != ur.GetETag() {
				t.Errorf("ETag %q, upstream %q", or.GetETag(), ur.GetETag())
			}
			want := objects[c.key][c.offset : c.offset+c.size]
			fid := needle.FormatFid(vid, c.needle, c.cookie)
			oCode, oBody, oHdr, err := weedproc.Get(ours.Addr(), fid)
			if err != nil {
				t.Fatal(err)
			}
			uCode, uBody, uHdr, err := weedproc.Get(theirs.Addr(), fid)
			if err != nil {
				t.Fatal(err)
			}
			if oCode != 200 || !bytes.Equal(oBody, want) {
				t.Fatalf("weedvol GET %s: %d, %d bytes; want 200 and the remote range (%d bytes)", fid, oCode, len(oBody), len(want))
			}
			if uCode != oCode || !bytes.Equal(uBody, oBody) {
				t.Fatalf("upstream GET %s: %d, %d bytes differ from weedvol's", fid, uCode, len(uBody))
			}
			for _, h := range []string{"Etag", "Content-Type", "Content-Length", "Content-Encoding"} {
				if oHdr.Get(h) != uHdr.Get(h) {
					t.Errorf("%s: weedvol %q, upstream %q", h, oHdr.Get(h), uHdr.Get(h))
				}
			}
			ost, err := oc.VolumeNeedleStatus(ctx, &volume_server_pb.VolumeNeedleStatusRequest{VolumeId: vid, NeedleId: c.needle})
			if err != nil {
				t.Fatal(err)
			}
			ust, err := uc.VolumeNeedleStatus(ctx, &volume_server_pb.VolumeNeedleStatusRequest{VolumeId: vid, NeedleId: c.needle})
			if err != nil {
				t.Fatal(err)
			}
			if ost.GetSize() != ust.GetSize() || ost.GetCrc() != ust.GetCrc() || ost.GetCookie() != ust.GetCookie() {
				t.Errorf("needle status %v, upstream %v", ost, ust)
			}
		})
	}

	t.Run("replica on upstream", func(t *testing.T) {
		const vid2 = 62
		for _, c := range []volume_server_pb.VolumeServerClient{oc, uc} {
			if _, err := c.AllocateVolume(ctx, &volume_server_pb.AllocateVolumeRequest{VolumeId: vid2, Replication: "000", Version: 3}); err != nil {
				t.Fatal(err)
			}
		}
		req := &volume_server_pb.FetchAndWriteNeedleRequest{VolumeId: vid2, NeedleId: 21, Cookie: 77,
			Offset: 0, Size: 50 << 10, RemoteConf: conf,
			RemoteLocation: &remote_pb.RemoteStorageLocation{Name: "e2e", Bucket: "fetch-e2e", Path: "/blob.bin"},
			Replicas:       []*volume_server_pb.FetchAndWriteNeedleRequest_Replica{{Url: theirs.Addr()}}}
		if _, err := oc.FetchAndWriteNeedle(ctx, req); err != nil {
			t.Fatal(err)
		}
		fid := needle.FormatFid(vid2, 21, 77)
		for _, p := range []*weedproc.Process{ours, theirs} {
			code, body, _, err := weedproc.Get(p.Addr(), fid)
			if err != nil || code != 200 || !bytes.Equal(body, objects["blob.bin"][:50<<10]) {
				t.Fatalf("GET %s from %s: %d, %d bytes, %v", fid, p.Addr(), code, len(body), err)
			}
		}
	})
}

func volumeClient(t *testing.T, p *weedproc.Process) volume_server_pb.VolumeServerClient {
	t.Helper()
	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(p.Port+10000), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return volume_server_pb.NewVolumeServerClient(conn)
}

// patternData is n deterministic, incompressible-looking bytes.
func patternData(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}
