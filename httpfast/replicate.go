package httpfast

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
)

// Replication, as upstream's volume server does it: a client's write or
// delete on a volume whose replica placement asks for more than one copy is
// applied locally and forwarded, with type=replicate, to every other holder
// the master lists; the client is answered once all have answered. A
// forwarded request is applied locally only.

// replicaBaseTimeout bounds one forward with no body; a body adds time at
// replicaMinRate, so large writes are not cut off on slow links.
const (
	replicaBaseTimeout = 10 * time.Second
	replicaMinRate     = 1 << 20 // bytes per second
	replicaCacheTTL    = 10 * time.Second
)

// replicaSet is a cached master answer for one volume.
type replicaSet struct {
	urls    []string
	expires time.Time
}

// replicator forwards writes and deletes. Its cache holds only answers
// that named enough holders for the volume's copy count.
type replicator struct {
	client fasthttp.Client
	mu     sync.Mutex
	cache  map[uint32]replicaSet
}

func newReplicator(peerTLS *tls.Config) *replicator {
	return &replicator{
		client: fasthttp.Client{
			TLSConfig:                peerTLS,
			Name:                     "weedvol-replicate",
			NoDefaultUserAgentHeader: true,
			MaxConnsPerHost:          256,
			ReadBufferSize:           16 << 10,
			WriteBufferSize:          64 << 10,
		},
		cache: map[uint32]replicaSet{},
	}
}

// remoteReplicas returns the other servers holding v (by host:port), or
// nil when v keeps one copy. It fails when the master cannot be asked or
// names fewer holders than the copy count.
func (s *Server) remoteReplicas(vid uint32, v *engine.Volume) ([]string, error) {
	copies := v.SuperBlock().ReplicaPlacement.CopyCount()
	if copies <= 1 {
		return nil, nil
	}
	r := s.repl
	r.mu.Lock()
	set, ok := r.cache[vid]
	r.mu.Unlock()
	if !ok || time.Now().After(set.expires) {
		if s.cfg.Lookup == nil {
			return nil, fmt.Errorf("replicating lookup failed for %d: no master", vid)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		urls, err := s.cfg.Lookup(ctx, vid)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("replicating lookup failed for %d: %v", vid, err)
		}
		if len(urls) < copies {
			r.mu.Lock()
			delete(r.cache, vid)
			r.mu.Unlock()
			return nil, fmt.Errorf("writable replication locations [%d] is less than volume %d replication copy count [%d]", len(urls), vid, copies)
		}
		set = replicaSet{urls: urls, expires: time.Now().Add(replicaCacheTTL)}
		r.mu.Lock()
		r.cache[vid] = set
		r.mu.Unlock()
	}
	remote := make([]string, 0, len(set.urls))
	for _, u := range set.urls {
		if u != s.cfg.SelfURL {
			remote = append(remote, u)
		}
	}
	return remote, nil
}

// forget drops vid's cached holders after a forward failed.
func (r *replicator) forget(vid uint32) {
	r.mu.Lock()
	delete(r.cache, vid)
	r.mu.Unlock()
}

// fanOut runs op against every url concurrently and returns the first
// failure, naming its server, or nil when all succeeded.
func fanOut(urls []string, op func(url string) error) error {
	if len(urls) == 0 {
		return nil
	}
	errs := make(chan error, len(urls))
	for _, u := range urls {
		go func() {
			if err := op(u); err != nil {
				errs <- fmt.Errorf("[%s]: %w", u, err)
				return
			}
			errs <- nil
		}()
	}
	for range urls {
		if err := <-errs; err != nil {
			return err // the rest finish on their own into the buffer
		}
	}
	return nil
}

// replicaWrite is what a forwarded write carries, copied out of the needle
// before the local write runs alongside.
type replicaWrite struct {
	path       string
	name, mime string
	data       []byte // stored bytes: gzip when compressed
	compressed bool
	chunked    bool
	ttl        string
	modified   uint64
	fsync      bool
	pairs      map[string]string
	jwt        []byte
	contentMD5 string
}

func newReplicaWrite(ctx *fasthttp.RequestCtx, n *needle.Needle, pu *parsedUpload, v *engine.Volume) *replicaWrite {
	ttl := n.TTL
	if ttl.IsZero() {
		ttl = v.SuperBlock().TTL
	}
	w := &replicaWrite{
		path:       string(requestPath(ctx)),
		name:       string(n.Name),
		mime:       string(n.Mime),
		data:       n.Data,
		compressed: n.IsCompressed(),
		chunked:    n.IsChunkManifest(),
		ttl:        ttl.String(),
		modified:   n.LastModified,
		fsync:      pu.fsync,
		pairs:      pu.pairs,
		jwt:        append([]byte(nil), requestToken(ctx)...),
		contentMD5: pu.contentMD5,
	}
	return w
}

// body renders the forward as upstream's uploader does: a multipart form
// with one file part.
func (w *replicaWrite) body() ([]byte, string, error) {
	var b bytes.Buffer
	b.Grow(len(w.data) + 512)
	mw := multipart.NewWriter(&b)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+quoteEscaper.Replace(w.name)+`"`)
	if w.mime != "" {
		h.Set("Content-Type", w.mime)
	} else {
		h.Set("Content-Type", "application/octet-stream")
	}
	if w.compressed {
		h.Set("Content-Encoding", "gzip")
	}
	part, err := mw.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	if _, err := part.Write(w.data); err != nil {
		return nil, "", err
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return b.Bytes(), mw.FormDataContentType(), nil
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"")

func (w *replicaWrite) query() string {
	q := []string{"type=replicate", "ttl=" + w.ttl}
	if w.fsync {
		q = append(q, "fsync=true")
	}
	if w.modified > 0 {
		q = append(q, "ts="+strconv.FormatUint(w.modified, 10))
	}
	if w.chunked {
		q = append(q, "cm=true")
	}
	sort.Strings(q)
	return strings.Join(q, "&")
}

// forward sends the write to one replica.
func (s *Server) forwardWrite(url string, w *replicaWrite, body []byte, contentType string) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(s.peerScheme + url + w.path + "?" + w.query())
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType(contentType)
	if len(w.jwt) > 0 {
		req.Header.Set("Authorization", "BEARER "+string(w.jwt))
	}
	if w.contentMD5 != "" {
		req.Header.Set("Content-MD5", w.contentMD5)
	}
	for k, v := range w.pairs {
		req.Header.Set(k, v)
	}
	req.SetBodyRaw(body)
	timeout := replicaBaseTimeout + time.Duration(int64(len(body))*int64(time.Second)/replicaMinRate)
	if err := s.repl.client.DoTimeout(req, resp, timeout); err != nil {
		return err
	}
	if sc := resp.StatusCode(); sc != fasthttp.StatusCreated && sc != fasthttp.StatusNoContent {
		return fmt.Errorf("replica answered %d: %s", sc, bytes.TrimSpace(resp.Body()))
	}
	return nil
}

// replicateWrite forwards w to urls and reports the failure as upstream
// words it.
func (s *Server) replicateWrite(vid uint32, urls []string, w *replicaWrite) error {
	body, contentType, err := w.body()
	if err == nil {
		err = fanOut(urls, func(url string) error { return s.forwardWrite(url, w, body, contentType) })
	}
	if err != nil {
		s.repl.forget(vid)
		return fmt.Errorf("failed to write to replicas for volume %d: %v", vid, err)
	}
	return nil
}

// replicateDelete forwards a delete of path to urls.
func (s *Server) replicateDelete(vid uint32, urls []string, path string, jwt []byte) error {
	err := fanOut(urls, func(url string) error {
		if len(jwt) > 0 {
			// as upstream: a token is not sent in the clear to another host
			return fmt.Errorf("refusing to forward delete authorization to %s without HTTPS", url)
		}
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(s.peerScheme + url + path + "?type=replicate")
		req.Header.SetMethod(fasthttp.MethodDelete)
		if err := s.repl.client.DoTimeout(req, resp, replicaBaseTimeout); err != nil {
			return err
		}
		if sc := resp.StatusCode(); sc != fasthttp.StatusAccepted && sc != fasthttp.StatusNotFound {
			return fmt.Errorf("replica answered %d: %s", sc, bytes.TrimSpace(resp.Body()))
		}
		return nil
	})
	if err != nil {
		s.repl.forget(vid)
	}
	return err
}
