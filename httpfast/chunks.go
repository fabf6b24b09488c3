package httpfast

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/wlog"
)

// Reads of chunk manifests, as upstream's volume server serves them: a GET
// or HEAD of a needle flagged as a manifest answers with the file the
// manifest describes (X-File-Store: chunked), its chunks read one after
// another from the local store or, for volumes held elsewhere, from a
// holder the master names; ?cm=false answers with the manifest itself.
// The body streams: at most one chunk is open at a time and none is held
// in memory unless it is stored compressed.

// maxManifestDepth bounds manifests whose chunks are manifests themselves
// (upstream follows them through HTTP without a bound).
const maxManifestDepth = 4

var (
	errChunkRange    = errors.New("chunk manifest: invalid range")
	errChunkNoRanges = errors.New("chunk manifest: range requests are not supported by the remote server")
	errManifestDepth = errors.New("chunk manifest: manifests nested too deep")
)

// newChunkClient fetches chunks from other volume servers. Bodies stream.
func newChunkClient(peerTLS *tls.Config) *fasthttp.Client {
	return &fasthttp.Client{
		TLSConfig:                peerTLS,
		Name:                     "weedvol-chunks",
		NoDefaultUserAgentHeader: true,
		StreamResponseBody:       true,
		DisablePathNormalizing:   true,
		ReadTimeout:              10 * time.Minute,
		WriteTimeout:             time.Minute,
		MaxIdleConnDuration:      30 * time.Second,
	}
}

// cmBypass reports whether the request asks for a manifest's own bytes.
func cmBypass(ctx *fasthttp.RequestCtx) bool {
	return string(ctx.QueryArgs().Peek("cm")) == "false"
}

// serveManifest answers a read of manifest needle n with the file it
// describes. buf, when not nil, is the record buffer n aliases, handed
// back to the response once the manifest is decoded. It reports false,
// having written nothing, when the request bypasses expansion or the
// manifest does not decode; the caller then serves n as it is.
func (s *Server) serveManifest(ctx *fasthttp.RequestCtx, n *needle.Needle, p fidPath, buf []byte) bool {
	if cmBypass(ctx) {
		return false
	}
	m, err := parseManifest(n.Data, n.IsCompressed())
	if err != nil {
		s.cfg.Logf("load chunk manifest %s: %v", requestPath(ctx), err)
		return false
	}
	if buf != nil {
		ctx.Response.SwapBody(buf[:0]) // n's bytes are not used past here
	}
	filename := p.filename
	if len(filename) == 0 {
		filename = []byte(m.Name)
	}
	ext := p.ext
	if len(ext) == 0 {
		ext = extOf(filename)
	}
	mimeType := ""
	if m.Mime != "" && !strings.HasPrefix(m.Mime, "application/octet-stream") {
		mimeType = m.Mime
	}
	if mimeType == "" {
		mimeType = typeByExtension(extOf(filename))
	}
	ctx.Response.Header.Set("X-File-Store", "chunked")
	total, err := m.total()
	if err != nil {
		writeJSONError(ctx, fasthttp.StatusInternalServerError, err.Error())
		return true
	}
	if op, ok := imageOpFor(ctx, ext); ok {
		// a transform needs the whole image, as upstream decodes it whole
		cs := s.newChunkStream(m.Chunks, 0, total, 0)
		data, err := io.ReadAll(cs)
		cs.Close()
		if err != nil {
			wlog.V(1).Infof("read chunks of %s: %v", requestPath(ctx), err) // the 5xx line says it at v=0
			writeJSONError(ctx, fasthttp.StatusInternalServerError, err.Error())
			return true
		}
		data = op.apply(normalizedExt(ext), data, s.cfg.Logf)
		ctx.Response.SetBodyRaw(data)
		s.writeContent(ctx, filename, mimeType, int64(len(data)), func(start, length int64) []byte {
			return data[start : start+length]
		})
		return true
	}
	s.writeChunked(ctx, filename, mimeType, m.Chunks, total)
	return true
}

// writeChunked serves the total bytes of chunks as the body, honouring
// HEAD and Range as writeStream does for one needle.
func (s *Server) writeChunked(ctx *fasthttp.RequestCtx, filename []byte, mimeType string, chunks []chunkInfo, total int64) {
	s.contentHeaders(ctx, filename, mimeType)
	if ctx.IsHead() {
		ctx.Response.Header.SetContentLength(int(total))
		ctx.Response.SkipBody = true
		return
	}
	rng := ctx.Request.Header.Peek("Range")
	if len(rng) > 0 && ifRangeMatches(ctx) {
		ranges, err := parseRange(rng, total)
		if err != nil {
			rangeError(ctx, err, total)
			return
		}
		if len(ranges) == 0 || sumRanges(ranges) > total {
			return // upstream answers such ranges with 200 and no body
		}
		if len(ranges) == 1 {
			r := ranges[0]
			ctx.Response.Header.Set("Content-Range", r.contentRange(total))
			ctx.SetStatusCode(fasthttp.StatusPartialContent)
			s.sniffChunks(ctx, mimeType, chunks, r.start, r.length)
			ctx.SetBodyStream(s.newChunkStream(chunks, r.start, r.length, 0), int(r.length))
			return
		}
		body, ok := writeMultipartRanges(ctx, ranges, mimeType, total, func(w io.Writer, r httpRange) error {
			cs := s.newChunkStream(chunks, r.start, r.length, 0)
			defer cs.Close()
			_, err := cs.WriteTo(w)
			return err
		})
		if !ok {
			return
		}
		ctx.Response.SetBodyRaw(body)
		ctx.SetStatusCode(fasthttp.StatusPartialContent)
		return
	}
	// As upstream, the first chunkCommit bytes are gathered before the
	// answer is committed: a chunk that fails within them turns the answer
	// into a 500 naming the failure; a later failure cuts the body off.
	cs := s.newChunkStream(chunks, 0, total, 0)
	head := make([]byte, min(total, chunkCommit))
	if _, err := io.ReadFull(cs, head); err != nil {
		cs.Close()
		wlog.V(1).Infof("read chunks of %s: %v", requestPath(ctx), err) // the 5xx line says it at v=0
		ctx.Response.Header.Del("Content-Length")
		plainError(ctx, fasthttp.StatusInternalServerError, err.Error())
		return
	}
	sniffType(ctx, mimeType, head[:min(len(head), sniffLen)])
	ctx.SetBodyStream(&headedStream{head: head, rest: cs}, int(total))
}

// chunkCommit is how much of an expanded manifest upstream buffers before
// it sends the headers (its response writer's buffer).
const chunkCommit = 128 << 10

// headedStream is head, then rest: a chunk stream whose first bytes were
// read ahead. It keeps rest's WriteTo (sendfile for local chunks).
type headedStream struct {
	head []byte
	rest *chunkStream
}

func (h *headedStream) Read(p []byte) (int, error) {
	if len(h.head) > 0 {
		n := copy(p, h.head)
		h.head = h.head[n:]
		return n, nil
	}
	return h.rest.Read(p)
}

func (h *headedStream) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(h.head)
	h.head = nil
	if err != nil {
		return int64(n), err
	}
	m, err := h.rest.WriteTo(w)
	return int64(n) + m, err
}

func (h *headedStream) Close() error { return h.rest.Close() }

// SupportsBodyWriteTo tells fasthttp that WriteTo may replace Read.
func (h *headedStream) SupportsBodyWriteTo() bool { return true }

// sniffChunks is sniffType for a body streamed from chunks: it reads the
// first bytes of the range once more for the guess.
func (s *Server) sniffChunks(ctx *fasthttp.RequestCtx, mimeType string, chunks []chunkInfo, start, length int64) {
	if mimeType != "" || length == 0 {
		return
	}
	cs := s.newChunkStream(chunks, start, min(length, sniffLen), 0)
	head, _ := io.ReadAll(cs)
	cs.Close()
	sniffType(ctx, mimeType, head)
}

// chunkStream reads length bytes of a manifest's file from a start
// position, opening one chunk at a time. As upstream's reader, it starts in
// the chunk whose [offset, offset+size) holds the start and from there
// concatenates the chunks in offset order, each in full (its stored size),
// whatever their offsets say about gaps or overlaps. fasthttp closes it
// after sending; a failure mid-body cuts the connection, as upstream's
// truncated body does.
type chunkStream struct {
	s      *Server
	chunks []chunkInfo
	depth  int
	next   int   // index of the chunk to open next
	skip   int64 // bytes to skip at the start of that chunk
	left   int64 // bytes still to deliver

	cur      io.Reader // the open chunk, at most curLeft bytes long
	curLeft  int64
	closeCur func()
	err      error // sticky
	// curURL is where the open chunk comes from (as upstream would fetch
	// it), curWant the bytes wanted of it, curSize its size past the skip:
	// for upstream's wording of a short chunk (shortChunk).
	curURL           string
	curWant, curSize int64
}

// shortChunk is the error of a chunk that ended early, worded as upstream.
func (c *chunkStream) shortChunk() error {
	return fmt.Errorf("%s: %d of %d bytes: %w", c.curURL, c.curWant-c.curLeft, c.curSize, io.ErrUnexpectedEOF)
}

func (s *Server) newChunkStream(chunks []chunkInfo, start, length int64, depth int) *chunkStream {
	cs := &chunkStream{s: s, chunks: chunks, depth: depth, left: length, next: -1}
	for i, c := range chunks {
		if start >= c.Offset && start < c.Offset+c.Size {
			cs.next, cs.skip = i, start-c.Offset
			break
		}
	}
	if cs.next < 0 && length > 0 {
		cs.err = errChunkRange
	}
	return cs
}

// SupportsBodyWriteTo tells fasthttp that WriteTo may replace Read.
func (c *chunkStream) SupportsBodyWriteTo() bool { return true }

// open opens the next chunk for the bytes wanted from it.
func (c *chunkStream) open() error {
	if c.next >= len(c.chunks) {
		return fmt.Errorf("chunk manifest: chunks end %d bytes short: %w", c.left, io.ErrUnexpectedEOF)
	}
	ci := c.chunks[c.next]
	skip := c.skip
	c.next++
	c.skip = 0
	want := min(ci.Size-skip, c.left)
	if want <= 0 {
		c.cur, c.curLeft, c.closeCur = bytes.NewReader(nil), 0, nil
		return nil
	}
	r, closeFn, url, err := c.s.openChunk(ci.Fid, skip, want, c.depth)
	if err != nil {
		return err
	}
	c.cur, c.curLeft, c.closeCur = r, want, closeFn
	c.curURL, c.curWant, c.curSize = url, want, ci.Size-skip
	return nil
}

func (c *chunkStream) closeChunk() {
	if c.closeCur != nil {
		c.closeCur()
	}
	c.cur, c.closeCur = nil, nil
}

func (c *chunkStream) Read(p []byte) (int, error) {
	for {
		if c.err != nil {
			return 0, c.err
		}
		if c.cur == nil {
			if c.left == 0 {
				return 0, io.EOF
			}
			if c.err = c.open(); c.err != nil {
				return 0, c.err
			}
			continue
		}
		if c.curLeft == 0 || len(p) == 0 {
			if c.curLeft == 0 {
				c.closeChunk()
				continue
			}
			return 0, nil
		}
		if int64(len(p)) > c.curLeft {
			p = p[:c.curLeft]
		}
		n, err := c.cur.Read(p)
		c.curLeft -= int64(n)
		c.left -= int64(n)
		if err == io.EOF {
			err = nil
			if c.curLeft > 0 {
				c.err = c.shortChunk()
			}
		} else if err != nil {
			c.err = err
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// WriteTo sends the rest of the stream to w, letting a local chunk's
// section use sendfile.
func (c *chunkStream) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if c.err != nil {
			return total, c.err
		}
		if c.cur == nil {
			if c.left == 0 {
				return total, nil
			}
			if c.err = c.open(); c.err != nil {
				return total, c.err
			}
		}
		var n int64
		var err error
		if wt, ok := c.cur.(io.WriterTo); ok {
			// local readers are cut to exactly the wanted bytes
			n, err = wt.WriteTo(w)
		} else {
			bp := copyBufs.Get().(*[]byte)
			n, err = io.CopyBuffer(w, &io.LimitedReader{R: c.cur, N: c.curLeft}, *bp)
			copyBufs.Put(bp)
		}
		total += n
		c.curLeft -= n
		c.left -= n
		if err != nil {
			c.err = err
			return total, err
		}
		if c.curLeft > 0 {
			c.err = c.shortChunk()
			return total, c.err
		}
		c.closeChunk()
	}
}

// Close releases the open chunk.
func (c *chunkStream) Close() error {
	c.closeChunk()
	if c.err == nil {
		c.err = io.ErrClosedPipe
	}
	return nil
}

// openChunk opens the want bytes of chunk fid that follow its first skip
// bytes: from the local store when this node holds the volume, else from
// a holder the master names. url is the chunk's URL on the server it comes
// from.
func (s *Server) openChunk(fid string, skip, want int64, depth int) (r io.Reader, closeFn func(), url string, err error) {
	p := parseFidPath([]byte("/" + fid))
	vid, err := needle.ParseVolumeID(p.vid)
	if err == nil {
		if v, ok := s.cfg.Store.Volume(vid); ok {
			url = "http://" + s.cfg.SelfURL + "/" + fid
			key, cookie, err := needle.ParseKeyCookie(p.fid)
			if err != nil {
				return nil, nil, url, err
			}
			r, closeFn, err := s.openLocalChunk(v, key, cookie, skip, want, depth)
			if err != nil {
				err = s.asFetchError(fid, err)
			}
			return r, closeFn, url, err
		}
	}
	return s.openRemoteChunk(vid, fid, skip, want)
}

// asFetchError words the failure to read a local chunk as upstream does,
// which reads every chunk over HTTP, also from itself: the chunk's URL and
// the status its GET would have answered.
func (s *Server) asFetchError(fid string, err error) error {
	url := "http://" + s.cfg.SelfURL + "/" + fid
	switch {
	case errors.Is(err, engine.ErrNotFound), errors.Is(err, engine.ErrDeleted), errors.Is(err, engine.ErrCookieMismatch):
		return fmt.Errorf("%s: 404 Not Found", url)
	case errors.Is(err, errChunkRange), errors.Is(err, errManifestDepth):
		return err
	}
	return fmt.Errorf("%s: 500 Internal Server Error: %w", url, err)
}

// openLocalChunk reads a chunk from a local volume. Plain data is
// streamed from the .dat; compressed data is inflated in memory (a chunk
// is read as a client would, who did not ask for gzip); a nested manifest
// is expanded.
func (s *Server) openLocalChunk(v *engine.Volume, key uint64, cookie uint32, skip, want int64, depth int) (io.Reader, func(), error) {
	var n needle.Needle
	if v.Version() != needle.Version1 {
		if off, size, found := v.Lookup(key); found && off != 0 && size >= needle.DataSizeSize {
			dataOff, dataSize, _, err := v.DataRange(&n, key, cookie, nil, engine.ReadOptions{})
			if err != nil {
				return nil, nil, err
			}
			if !n.IsCompressed() && !n.IsChunkManifest() {
				if skip > 0 && skip >= int64(dataSize) {
					return nil, nil, errChunkRange
				}
				end := min(skip+want, int64(dataSize))
				return &volumeSection{v: v, off: dataOff + skip, end: dataOff + end}, nil, nil
			}
		}
	}
	if _, err := v.Read(&n, key, cookie, nil, engine.ReadOptions{}); err != nil {
		return nil, nil, err
	}
	data := n.Data
	if n.IsChunkManifest() {
		if depth+1 >= maxManifestDepth {
			return nil, nil, errManifestDepth
		}
		if m, err := parseManifest(data, n.IsCompressed()); err == nil {
			total, err := m.total()
			if err != nil {
				return nil, nil, err
			}
			if skip > 0 && skip >= total {
				return nil, nil, errChunkRange
			}
			cs := s.newChunkStream(m.Chunks, skip, min(want, total-skip), depth+1)
			return cs, func() { cs.Close() }, nil
		}
	}
	if n.IsCompressed() {
		if plain, err := gunzip(data); err == nil {
			data = plain
		}
	}
	if skip > 0 && skip >= int64(len(data)) {
		return nil, nil, errChunkRange
	}
	return bytes.NewReader(data[skip:min(skip+want, int64(len(data)))]), nil, nil
}

// openRemoteChunk fetches a chunk from the first holder the master names
// that answers, with upstream's request (a Range from skip when skip > 0)
// and status handling.
func (s *Server) openRemoteChunk(vid uint32, fid string, skip, want int64) (io.Reader, func(), string, error) {
	if s.cfg.Lookup == nil {
		return nil, nil, "", fmt.Errorf("volume %d is not local and there is no master to look it up", vid)
	}
	lctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	urls, err := s.cfg.Lookup(lctx, vid)
	cancel()
	if err != nil {
		return nil, nil, "", err
	}
	err = fmt.Errorf("volume %d: no holder other than this server", vid)
	for _, u := range urls {
		u = strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
		if s.cfg.SelfURL != "" && u == s.cfg.SelfURL {
			continue
		}
		var r io.Reader
		var closeFn func()
		if r, closeFn, err = s.getRemoteChunk(u, fid, skip); err == nil {
			return r, closeFn, "http://" + u + "/" + fid, nil
		}
		s.cfg.Logf("read chunk %s from %s: %v", fid, u, err)
	}
	return nil, nil, "", err
}

func (s *Server) getRemoteChunk(host, fid string, skip int64) (io.Reader, func(), error) {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	req.SetRequestURI(s.peerScheme + host + "/" + fid)
	if skip > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(skip, 10)+"-")
	}
	if key := s.keys.Load().read; len(key) > 0 {
		token, err := mintFidToken(key, fid)
		if err != nil {
			fasthttp.ReleaseResponse(resp)
			return nil, nil, err
		}
		req.Header.Set("Authorization", "BEARER "+token)
	}
	if err := s.chunkClient.Do(req, resp); err != nil {
		fasthttp.ReleaseResponse(resp)
		return nil, nil, err
	}
	release := func() {
		resp.CloseBodyStream()
		fasthttp.ReleaseResponse(resp)
	}
	switch sc := resp.StatusCode(); {
	case sc == fasthttp.StatusRequestedRangeNotSatisfiable:
		release()
		return nil, nil, errChunkRange
	case sc == fasthttp.StatusOK && skip > 0:
		release()
		return nil, nil, errChunkNoRanges
	case sc != fasthttp.StatusOK && sc != fasthttp.StatusPartialContent:
		release()
		return nil, nil, fmt.Errorf("%s/%s: %d", host, fid, sc)
	}
	if r := resp.BodyStream(); r != nil {
		return r, release, nil
	}
	return bytes.NewReader(resp.Body()), release, nil
}

// mintFidToken mints a short-lived token for fid with key, as the master would
// hand one out in a lookup, for requests this server makes to others.
func mintFidToken(key []byte, fid string) (string, error) {
	claims := fileIDClaims{Fid: fid, RegisteredClaims: jwt.RegisteredClaims{
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(10 * time.Second)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
}
