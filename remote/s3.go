// Package remote talks to S3-compatible object stores: the tier backends the
// master announces in its heartbeat (Backends) and the remote of a
// FetchAndWriteNeedle request. It is built on minio-go: streaming multipart
// uploads, ranged reads, retries with backoff.
//
// Invariants:
//   - Nothing here holds a whole object in memory: Upload keeps at most one
//     multipart part (partSize) buffered, Download copies through one
//     fixed-size buffer, ReadAt reads into the caller's slice.
//   - Every call is bounded in time: a context without a deadline gets one
//     (requestTimeout for Stat/Delete, requestTimeout plus a size-based
//     allowance for ReadAt); Upload and Download, whose length is
//     open-ended, are cancelled when no byte moves for IdleTimeout. The
//     transport bounds dials, TLS handshakes, response headers and stalled
//     sockets independently of the context.
//   - Errors name the bucket and key; a missing key or bucket matches
//     ErrNotFound with errors.Is.
//
// An *S3 is safe for concurrent use; it has no mutable state of its own.
package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// ErrNotFound is matched (errors.Is) by the error of a call whose key or
// bucket does not exist.
var ErrNotFound = errors.New("remote object not found")

// S3Config says where an S3-compatible bucket lives and how to sign for it.
type S3Config struct {
	Endpoint       string // "http://host:port", "https://host", or bare "host:port" (http); empty is AWS
	Region         string
	AccessKey      string
	SecretKey      string
	Bucket         string
	ForcePathStyle bool
	StorageClass   string // for uploads; empty leaves the store's default

	// Dial, when set, opens every connection of the client (netguard's
	// guarded dialer refuses loopback, link-local, metadata addresses).
	// Nil dials directly.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Timeouts. Variables so tests can shorten them.
var (
	// requestTimeout bounds a Stat, a Delete and the fixed part of a
	// ReadAt when the caller's context has no deadline.
	requestTimeout = 60 * time.Second
	// IdleTimeout is how long an Upload or Download, and any socket of
	// the client, may go without moving a byte before it is cut off.
	IdleTimeout = 2 * time.Minute
	// minBytesPerSec is the slowest link a ReadAt's deadline allows for.
	minBytesPerSec int64 = 1 << 20
)

const (
	dialTimeout           = 10 * time.Second
	tlsHandshakeTimeout   = 10 * time.Second
	responseHeaderTimeout = 60 * time.Second
	// maxRetries is minio-go's attempts per request (its default is 10,
	// which against a dead endpoint takes ~10 s of backoff).
	maxRetries = 5
	// partSize is the multipart part size: objects up to it go in one
	// PUT, larger ones in parts of it, one part buffered at a time.
	partSize = 16 << 20
	// copyBufSize is Download's copy buffer (one per call).
	copyBufSize = 256 << 10
)

// S3 is a client of one bucket.
type S3 struct {
	cfg    S3Config
	client *minio.Client
}

// NewS3 validates cfg and builds a client; it does not dial.
func NewS3(cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3: bucket is empty")
	}
	host, secure, err := parseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	var creds *credentials.Credentials
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	} else {
		// Anonymous: unsigned requests, for public buckets.
		creds = credentials.New(&credentials.Static{Value: credentials.Value{SignerType: credentials.SignatureAnonymous}})
	}
	lookup := minio.BucketLookupAuto
	if cfg.ForcePathStyle {
		lookup = minio.BucketLookupPath
	}
	c, err := minio.New(host, &minio.Options{
		Creds:        creds,
		Secure:       secure,
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    newTransport(cfg.Dial, secure),
		MaxRetries:   maxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 endpoint %q: %w", cfg.Endpoint, err)
	}
	return &S3{cfg: cfg, client: c}, nil
}

// parseEndpoint turns an endpoint into minio-go's host[:port] and TLS flag.
func parseEndpoint(endpoint string) (host string, secure bool, err error) {
	e := strings.TrimSpace(endpoint)
	if e == "" {
		return "s3.amazonaws.com", true, nil
	}
	if !strings.Contains(e, "://") {
		e = "http://" + e
	}
	u, err := url.Parse(e)
	if err != nil {
		return "", false, fmt.Errorf("s3 endpoint %q: %w", endpoint, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
	case "https":
		secure = true
	default:
		return "", false, fmt.Errorf("s3 endpoint %q: scheme must be http or https", endpoint)
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false, fmt.Errorf("s3 endpoint %q: want scheme://host[:port] only", endpoint)
	}
	return u.Host, secure, nil
}

// newTransport is the client's HTTP transport: bounded dials, handshakes
// and header waits, and sockets that fail after IdleTimeout without
// progress. No proxy: a guarded dial would check the proxy, not the store.
func newTransport(dial func(ctx context.Context, network, addr string) (net.Conn, error), secure bool) *http.Transport {
	if dial == nil {
		dial = (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext
	}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, dialTimeout)
			defer cancel()
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &idleConn{Conn: c, idle: IdleTimeout}, nil
		},
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		ResponseHeaderTimeout: responseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     secure,
	}
}

// idleConn moves its deadline forward on every read and write, so a peer
// that stops talking is cut off while a slow, progressing one is not.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(b []byte) (int, error) {
	_ = c.SetReadDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(b)
}

func (c *idleConn) Write(b []byte) (int, error) {
	_ = c.SetWriteDeadline(time.Now().Add(c.idle))
	return c.Conn.Write(b)
}

// Bucket is the configured bucket.
func (s *S3) Bucket() string { return s.cfg.Bucket }

// Config is the configuration the client was built from.
func (s *S3) Config() S3Config { return s.cfg }

// opError names the operation, bucket and key of a failed call.
type opError struct {
	op, bucket, key string
	notFound        bool
	err             error
}

func (e *opError) Error() string {
	if e.notFound {
		return fmt.Sprintf("s3 %s %s/%s: %v: %v", e.op, e.bucket, e.key, ErrNotFound, e.err)
	}
	return fmt.Sprintf("s3 %s %s/%s: %v", e.op, e.bucket, e.key, e.err)
}
func (e *opError) Unwrap() error        { return e.err }
func (e *opError) Is(target error) bool { return e.notFound && target == ErrNotFound }
func (s *S3) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	r := minio.ToErrorResponse(err)
	nf := r.Code == minio.NoSuchKey || r.Code == minio.NoSuchBucket || r.StatusCode == http.StatusNotFound
	return &opError{op: op, bucket: s.cfg.Bucket, key: key, notFound: nf, err: err}
}

// withDeadline gives ctx a deadline of d when it has none.
func withDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// ReadAt reads len(p) bytes at off with one ranged GET, with io.ReaderAt
// semantics: n < len(p) comes with an error, io.EOF when the object ends
// first. p is the caller's; nothing else is buffered.
func (s *S3) ReadAt(ctx context.Context, key string, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, s.wrap("read", key, fmt.Errorf("negative offset %d", off))
	}
	if len(p) == 0 {
		return 0, nil
	}
	ctx, cancel := withDeadline(ctx, requestTimeout+time.Duration(int64(len(p))/minBytesPerSec)*time.Second)
	defer cancel()
	var opts minio.GetObjectOptions
	if err := opts.SetRange(off, off+int64(len(p))-1); err != nil {
		return 0, s.wrap("read", key, err)
	}
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, key, opts)
	if err != nil {
		return 0, s.wrap("read", key, err)
	}
	defer obj.Close()
	n, err := io.ReadFull(obj, p)
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, io.ErrUnexpectedEOF):
		return n, io.EOF
	case n == 0 && minio.ToErrorResponse(err).Code == "InvalidRange":
		return 0, io.EOF
	case errors.Is(err, io.EOF):
		return n, io.EOF
	}
	return n, s.wrap("read", key, err)
}

// Upload stores size bytes of r under key: one PUT up to partSize, a
// multipart upload beyond (one part buffered at a time, owned by
// minio-go; a failed multipart upload is aborted). progress, when not nil,
// is called with the bytes sent so far. size < 0 means unknown.
func (s *S3) Upload(ctx context.Context, key string, r io.Reader, size int64, progress func(done int64)) error {
	ctx, w := newWatchdog(ctx)
	defer w.stop()
	pr := &progressReader{w: w, fn: progress}
	_, err := s.client.PutObject(ctx, s.cfg.Bucket, key, onlyReader{r}, size, minio.PutObjectOptions{
		StorageClass: s.cfg.StorageClass,
		PartSize:     partSize,
		Progress:     pr,
		ContentType:  "application/octet-stream",
	})
	if err != nil && w.stalled() {
		err = fmt.Errorf("no progress for %v: %w", IdleTimeout, err)
	}
	return s.wrap("upload", key, err)
}

// Download copies the object under key to w through one copyBufSize
// buffer (owned by this call) and returns the bytes written. progress,
// when not nil, is called with the bytes written so far.
func (s *S3) Download(ctx context.Context, key string, w io.Writer, progress func(done int64)) (int64, error) {
	ctx, wd := newWatchdog(ctx)
	defer wd.stop()
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return 0, s.wrap("download", key, err)
	}
	defer obj.Close()
	buf := make([]byte, copyBufSize)
	var done int64
	for {
		n, rerr := obj.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			done += int64(m)
			wd.tick()
			if progress != nil {
				progress(done)
			}
			if werr != nil {
				return done, fmt.Errorf("s3 download %s/%s: write: %w", s.cfg.Bucket, key, werr)
			}
		}
		if rerr == io.EOF {
			return done, nil
		}
		if rerr != nil {
			if wd.stalled() {
				rerr = fmt.Errorf("no progress for %v: %w", IdleTimeout, rerr)
			}
			return done, s.wrap("download", key, rerr)
		}
	}
}

// Stat returns the size of the object under key.
func (s *S3) Stat(ctx context.Context, key string) (int64, error) {
	ctx, cancel := withDeadline(ctx, requestTimeout)
	defer cancel()
	info, err := s.client.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return 0, s.wrap("stat", key, err)
	}
	return info.Size, nil
}

// Delete removes the object under key. S3 reports success for a missing
// key; so does Delete (a missing bucket is ErrNotFound).
func (s *S3) Delete(ctx context.Context, key string) error {
	ctx, cancel := withDeadline(ctx, requestTimeout)
	defer cancel()
	return s.wrap("delete", key, s.client.RemoveObject(ctx, s.cfg.Bucket, key, minio.RemoveObjectOptions{}))
}

// onlyReader hides every method but Read (io.ReaderAt, io.Seeker) so
// minio-go takes its sequential path: one part buffered at a time.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// progressReader is minio-go's progress hook: it is Read with the bytes
// just sent.
type progressReader struct {
	w    *watchdog
	fn   func(int64)
	done int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	p.done += int64(len(b))
	p.w.tick()
	if p.fn != nil {
		p.fn(p.done)
	}
	return len(b), nil
}

// watchdog cancels its context when tick has not been called for
// IdleTimeout.
type watchdog struct {
	cancel context.CancelFunc
	last   atomic.Int64 // unix nanos of the last tick
	fired  atomic.Bool
	quit   chan struct{}
}

func newWatchdog(parent context.Context) (context.Context, *watchdog) {
	ctx, cancel := context.WithCancel(parent)
	w := &watchdog{cancel: cancel, quit: make(chan struct{})}
	w.tick()
	idle := IdleTimeout
	go func() {
		t := time.NewTicker(idle / 4)
		defer t.Stop()
		for {
			select {
			case <-w.quit:
				return
			case <-ctx.Done():
				return
			case now := <-t.C:
				if now.UnixNano()-w.last.Load() > int64(idle) {
					w.fired.Store(true)
					cancel()
					return
				}
			}
		}
	}()
	return ctx, w
}

func (w *watchdog) tick()         { w.last.Store(time.Now().UnixNano()) }
func (w *watchdog) stalled() bool { return w.fired.Load() }
func (w *watchdog) stop()         { close(w.quit); w.cancel() }
