package remote_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/weedvol/weedvol/internal/s3test"
	"github.com/weedvol/weedvol/remote"
)

// Port bases in this helper's range (9400-9799); each test has its own.
const (
	baseBasic   = 9410
	baseCreds   = 9420
	baseKillUp  = 9430
	baseKillGet = 9440
)

func newClient(t *testing.T, srv *s3test.Server, bucket string) *remote.S3 {
	t.Helper()
	s, err := remote.NewS3(remote.S3Config{
		Endpoint: srv.Endpoint, Region: s3test.Region,
		AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey,
		Bucket: bucket, ForcePathStyle: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pattern is a deterministic, incompressible reader of n bytes.
func pattern(seed uint64, n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{byte(seed)}), n)
}

func patternBytes(seed uint64, n int64) []byte {
	b, _ := io.ReadAll(pattern(seed, n))
	return b
}

// TestS3 runs the operations against one real weed mini S3 endpoint.
func TestS3(t *testing.T) {
	srv := s3test.Start(t, baseBasic)
	srv.MakeBucket(t, "roundtrip")
	s := newClient(t, srv, "roundtrip")
	ctx := context.Background()

	sizes := []struct {
		name string
		key  string
		size int64
	}{
		{"empty", "dir/empty", 0},
		{"small", "dir/small.dat", 4000},
		{"multipart", "big.dat", 16<<20 + 12345}, // past partSize: multipart, streamed
	}
	for i, c := range sizes {
		t.Run("upload/"+c.name, func(t *testing.T) {
			var last int64
			if err := s.Upload(ctx, c.key, pattern(uint64(i), c.size), c.size, func(d int64) { last = d }); err != nil {
				t.Fatal(err)
			}
			if c.size > 0 && last != c.size {
				t.Errorf("progress ended at %d, want %d", last, c.size)
			}
			n, err := s.Stat(ctx, c.key)
			if err != nil || n != c.size {
				t.Fatalf("Stat = %d, %v; want %d", n, err, c.size)
			}
			var buf bytes.Buffer
			got, err := s.Download(ctx, c.key, &buf, nil)
			if err != nil || got != c.size {
				t.Fatalf("Download = %d, %v; want %d", got, err, c.size)
			}
			if sha256.Sum256(buf.Bytes()) != sha256.Sum256(patternBytes(uint64(i), c.size)) {
				t.Fatal("downloaded bytes differ from uploaded")
			}
		})
	}

	want := patternBytes(2, 16<<20+12345)
	size := int64(len(want))
	reads := []struct {
		name    string
		off     int64
		n       int
		wantN   int
		wantErr error
	}{
		{"start", 0, 100, 100, nil},
		{"middle across part boundary", 16<<20 - 50, 100, 100, nil},
		{"to the end", size - 10, 10, 10, nil},
		{"past the end", size - 10, 20, 10, io.EOF},
		{"at the end", size, 5, 0, io.EOF},
		{"zero length", 5, 0, 0, nil},
	}
	for _, c := range reads {
		t.Run("readat/"+c.name, func(t *testing.T) {
			p := make([]byte, c.n)
			n, err := s.ReadAt(ctx, "big.dat", p, c.off)
			if n != c.wantN || !errors.Is(err, c.wantErr) && err != c.wantErr {
				t.Fatalf("ReadAt = %d, %v; want %d, %v", n, err, c.wantN, c.wantErr)
			}
			if !bytes.Equal(p[:n], want[c.off:c.off+int64(n)]) {
				t.Fatal("ReadAt bytes differ")
			}
		})
	}

	t.Run("not found", func(t *testing.T) {
		missing := newClient(t, srv, "no-such-bucket")
		cases := []struct {
			name string
			call func() error
		}{
			{"stat key", func() error { _, err := s.Stat(ctx, "nope"); return err }},
			{"readat key", func() error { _, err := s.ReadAt(ctx, "nope", make([]byte, 4), 0); return err }},
			{"download key", func() error { _, err := s.Download(ctx, "nope", io.Discard, nil); return err }},
			{"stat bucket", func() error { _, err := missing.Stat(ctx, "k"); return err }},
			{"readat bucket", func() error { _, err := missing.ReadAt(ctx, "k", make([]byte, 4), 0); return err }},
			// No upload case: weed's S3 creates a missing bucket on an
			// admin's PUT.
			{"download bucket", func() error { _, err := missing.Download(ctx, "k", io.Discard, nil); return err }},
		}
		for _, c := range cases {
			err := c.call()
			if !errors.Is(err, remote.ErrNotFound) {
				t.Errorf("%s: err = %v, want ErrNotFound", c.name, err)
			}
			if err != nil && !strings.Contains(err.Error(), "/nope") && !strings.Contains(err.Error(), "no-such-bucket/") {
				t.Errorf("%s: error %q does not name bucket and key", c.name, err)
			}
		}
	})

	t.Run("delete", func(t *testing.T) {
		if err := s.Delete(ctx, "dir/small.dat"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, "dir/small.dat"); !errors.Is(err, remote.ErrNotFound) {
			t.Fatalf("Stat after Delete: %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "dir/small.dat"); err != nil {
			t.Fatalf("second Delete: %v", err)
		}
	})
}

// TestS3Refusals: wrong credentials and bad configurations fail clearly.
func TestS3Refusals(t *testing.T) {
	srv := s3test.Start(t, baseCreds)
	srv.MakeBucket(t, "creds")
	ctx := context.Background()

	bad, err := remote.NewS3(remote.S3Config{Endpoint: srv.Endpoint, Region: s3test.Region,
		AccessKey: "admin", SecretKey: "wrong", Bucket: "creds", ForcePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"upload", func() error { return bad.Upload(ctx, "k", strings.NewReader("abc"), 3, nil) }},
		{"stat", func() error { _, err := bad.Stat(ctx, "k"); return err }},
		{"readat", func() error { _, err := bad.ReadAt(ctx, "k", make([]byte, 3), 0); return err }},
	}
	for _, c := range calls {
		err := c.call()
		if err == nil || errors.Is(err, remote.ErrNotFound) || !strings.Contains(err.Error(), "creds/k") {
			t.Errorf("%s with wrong secret: %v; want a refusal naming creds/k", c.name, err)
		}
	}

	configs := []struct {
		name string
		cfg  remote.S3Config
	}{
		{"no bucket", remote.S3Config{Endpoint: srv.Endpoint}},
		{"ftp scheme", remote.S3Config{Endpoint: "ftp://h:1", Bucket: "b"}},
		{"path", remote.S3Config{Endpoint: "http://h:1/x", Bucket: "b"}},
		{"user", remote.S3Config{Endpoint: "http://u:p@h:1", Bucket: "b"}},
	}
	for _, c := range configs {
		if _, err := remote.NewS3(c.cfg); err == nil {
			t.Errorf("NewS3 %s: no error", c.name)
		}
	}
}

// TestS3EndpointDies kills the endpoint during a large upload and a large
// download: each returns an error promptly instead of hanging.
func TestS3EndpointDies(t *testing.T) {
	cases := []struct {
		name string
		base int
		run  func(ctx context.Context, s *remote.S3, started chan<- struct{}) error
	}{
		{"upload", baseKillUp, func(ctx context.Context, s *remote.S3, started chan<- struct{}) error {
			var once bool
			return s.Upload(ctx, "huge", pattern(9, 200<<20), 200<<20, func(d int64) {
				if !once && d > 1<<20 {
					once = true
					close(started)
				}
			})
		}},
		{"download", baseKillGet, func(ctx context.Context, s *remote.S3, started chan<- struct{}) error {
			if err := s.Upload(ctx, "big", pattern(8, 48<<20), 48<<20, nil); err != nil {
				return err
			}
			w := &slowWriter{}
			var once bool
			_, err := s.Download(ctx, "big", w, func(d int64) {
				if !once {
					once = true
					close(started)
				}
			})
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := s3test.Start(t, c.base)
			srv.MakeBucket(t, "die")
			s := newClient(t, srv, "die")
			started := make(chan struct{})
			done := make(chan error, 1)
			go func() { done <- c.run(context.Background(), s, started) }()
			select {
			case <-started:
			case err := <-done:
				t.Fatalf("finished before the kill: %v", err)
			case <-time.After(60 * time.Second):
				t.Fatal("transfer never started")
			}
			killed := time.Now()
			if err := srv.Kill(); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("transfer succeeded after the endpoint was killed")
				}
				if !strings.Contains(err.Error(), "die/") {
					t.Errorf("error %q does not name the bucket and key", err)
				}
				t.Logf("failed %v after the kill: %v", time.Since(killed), err)
			case <-time.After(45 * time.Second):
				t.Fatal("transfer still running 45s after the endpoint died")
			}
		})
	}
}

// slowWriter takes a millisecond per write, so a download is still
// running when the endpoint is killed.
type slowWriter struct{ n int64 }

func (w *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	w.n += int64(len(p))
	return len(p), nil
}
