// Package s3test starts a real S3 endpoint for tests: the pinned upstream
// `weed mini` (bin/weed, or $WEED_BINARY) on loopback with credentials
// admin/admin, as upstream's test/volume_server/grpc does. Nothing is
// mocked.
package s3test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/weedvol/weedvol/internal/weedproc"
)

// Credentials of every server Start starts.
const (
	AccessKey = "admin"
	SecretKey = "admin"
	Region    = "us-east-1"
)

// Server is a running weed mini serving S3.
type Server struct {
	// Endpoint is "http://127.0.0.1:<s3 port>".
	Endpoint string
	Port     int
	proc     *weedproc.Process
}

// Start runs weed mini with its master, volume, filer, S3 and admin HTTP
// ports at base..base+4 (gRPC at each +10000), or ports from
// weedproc.FreePort when base is 0, and waits until S3 answers. The
// server is killed when t ends.
func Start(t testing.TB, base int) *Server {
	t.Helper()
	weed := weedproc.TestBinary(t, "WEED_BINARY", "weed")
	ports := make([]int, 5)
	for i := range ports {
		if base != 0 {
			ports[i] = base + i
			continue
		}
		p, err := weedproc.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = p
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "security.toml"), []byte("# empty\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"mini",
		"-dir=" + dir,
		"-master.port=" + strconv.Itoa(ports[0]),
		"-volume.port=" + strconv.Itoa(ports[1]),
		"-filer.port=" + strconv.Itoa(ports[2]),
		"-s3.port=" + strconv.Itoa(ports[3]),
		"-admin.port=" + strconv.Itoa(ports[4]),
		"-admin.port.grpc=" + strconv.Itoa(ports[4]+10000),
		"-admin.port.legacy=0",
		"-webdav=false",
		"-s3.port.lance=0",
		"-s3.port.iceberg=0",
	}
	// weed mini takes its S3 identity from these variables, which the
	// child inherits (os.Setenv, not t.Setenv, so parallel tests may
	// call Start; the values are constants).
	os.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	os.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	logPath := filepath.Join(os.TempDir(), fmt.Sprintf("weed-mini-%d-%d.log", ports[3], time.Now().UnixNano()))
	p, err := weedproc.Start("weed mini", weed, logPath, ports[3], args...)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Endpoint: "http://127.0.0.1:" + strconv.Itoa(ports[3]), Port: ports[3], proc: p}
	t.Cleanup(func() { _ = p.Kill() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if p.Exited() {
			t.Fatalf("weed mini exited early; log %s", logPath)
		}
		if c, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
			c.Close()
			// The port opens before the filer behind it is ready: wait
			// until a bucket call succeeds.
			if _, err := s.Client(t).ListBuckets(context.Background()); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("weed mini S3 not ready on %s; log %s", s.Endpoint, logPath)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("weed mini S3 at %s (log %s)", s.Endpoint, logPath)
	return s
}

// Client is a plain minio-go client of the server (for test setup).
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New("127.0.0.1:"+strconv.Itoa(s.Port), &minio.Options{
		Creds:        credentials.NewStaticV4(AccessKey, SecretKey, ""),
		Region:       Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// MakeBucket creates bucket.
func (s *Server) MakeBucket(t testing.TB, bucket string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client(t).MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: Region}); err != nil {
		t.Fatalf("make bucket %s: %v", bucket, err)
	}
}

// Kill kills the server at once (SIGKILL), as a crash would.
func (s *Server) Kill() error { return s.proc.Kill() }

// LogPath is the server's log.
func (s *Server) LogPath() string { return s.proc.LogPath() }
