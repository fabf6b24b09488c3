package httpfast

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/metrics"
	"github.com/weedvol/weedvol/wlog"
)

// streamThreshold is the record size above which a read streams the data
// from the file instead of reading the whole record into memory.
const streamThreshold = 1 << 20

// get serves GET and HEAD of a needle.
func (s *Server) get(ctx *fasthttp.RequestCtx) {
	p := parseFidPath(requestPath(ctx))
	if !s.authorized(ctx, p, false) {
		writeJSONError(ctx, fasthttp.StatusUnauthorized, errWrongJWT.Error())
		return
	}
	vid, err := needle.ParseVolumeID(p.vid)
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	key, cookie, err := needle.ParseKeyCookie(p.fid)
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	v, ok := s.cfg.Store.Volume(vid)
	if !ok {
		if s.cfg.Store.HasEcVolume(vid) {
			s.getEc(ctx, vid, key, cookie, p)
			return
		}
		s.notLocal(ctx, vid)
		return
	}
	if !s.waitDownloadSlot(ctx, vid, v.SuperBlock().ReplicaPlacement.CopyCount() > 1) {
		return
	}
	opts := engine.ReadOptions{ReadDeleted: string(ctx.QueryArgs().Peek("readDeleted")) == "true"}
	off, size, found := v.Lookup(key)
	if !found || off == 0 {
		s.m.ReadInvalidNeedles.Inc()
		s.m.NotFound()
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	if size < 0 && opts.ReadDeleted && size != needle.TombstoneSize {
		s.m.Handler(metrics.ReadDeletedNeedle)
		size = -size
	}
	var n needle.Needle
	release := s.holdDownload(int64(max(size, 0)))
	if v.Version() != needle.Version1 && needle.ActualSize(size, v.Version()) > streamThreshold && !wantsImageOp(ctx) {
		// a streamed body releases its bytes when fasthttp closes it
		if !s.getStreamed(ctx, v, &n, key, cookie, opts, p, release) {
			release()
		}
		return
	}
	defer release()
	// Read the record straight into the response's own pooled body
	// buffer (SwapBody hands it over and back without copying).
	buf := ctx.Response.SwapBody(nil)
	buf, err = v.Read(&n, key, cookie, buf[:0], opts)
	if err != nil {
		ctx.Response.SwapBody(buf[:0])
		s.readError(ctx, err)
		return
	}
	s.serveRecord(ctx, &n, p, buf)
}

// serveRecord answers a GET or HEAD with needle n, read whole into buf
// (n's slices alias it): validators, manifest, content headers, image
// transforms, gzip, ranges. Buffer ownership: buf is handed to the
// response (its body buffer from here on), whatever the outcome.
func (s *Server) serveRecord(ctx *fasthttp.RequestCtx, n *needle.Needle, p fidPath, buf []byte) {
	if s.conditional(ctx, n) {
		ctx.Response.SwapBody(buf[:0])
		return
	}
	if n.IsChunkManifest() && s.serveManifest(ctx, n, p, buf) {
		return
	}
	data := n.Data
	// The headers are set from n's name and MIME type now: both live in
	// buf, which the reply's data is moved over below. Nothing past this
	// point may read filename, n.Name or n.Mime.
	filename, mimeType := s.nameAndType(ctx, n, p)
	s.contentHeaders(ctx, filename, mimeType)
	filename = nil
	inBuffer := true
	if ctx.QueryArgs().Len() > 0 {
		data, inBuffer = s.transformImage(ctx, n, p, data)
	}
	if inBuffer && n.IsCompressed() {
		if acceptsGzip(ctx) && isGzip(data) {
			if !encodingOverridden(ctx) {
				ctx.Response.Header.Set("Content-Encoding", "gzip")
			}
		} else if plain, err := gunzip(data); err == nil {
			data, inBuffer = plain, false
		}
	}
	// The reply is the data alone: move it to the front of the body
	// buffer, which is the response's own, so nothing is copied out.
	total := len(data)
	if inBuffer {
		copy(buf, data)
		buf = buf[:total]
	} else {
		buf = append(buf[:0], data...)
	}
	ctx.Response.SwapBody(buf)
	s.writeBody(ctx, mimeType, int64(total), func(start, length int64) []byte {
		return buf[start : start+length]
	})
}

// getStreamed serves a large needle from the file without holding it in memory.
// It reports whether release was handed to a streamed body.
func (s *Server) getStreamed(ctx *fasthttp.RequestCtx, v *engine.Volume, n *needle.Needle, key uint64, cookie uint32, opts engine.ReadOptions, p fidPath, release func()) bool {
	dataOff, dataSize, _, err := v.DataRange(n, key, cookie, nil, opts)
	if err != nil {
		s.readError(ctx, err)
		return false
	}
	if s.conditional(ctx, n) {
		return false
	}
	if n.IsCompressed() || n.IsChunkManifest() {
		// rare for large needles: fall back to a whole read
		var rec []byte
		rec, err = v.Read(n, key, cookie, nil, opts)
		if err != nil {
			s.readError(ctx, err)
			return false
		}
		_ = rec
		if n.IsChunkManifest() && s.serveManifest(ctx, n, p, nil) {
			return false
		}
		data := n.Data
		if n.IsCompressed() {
			if acceptsGzip(ctx) && isGzip(data) {
				if !encodingOverridden(ctx) {
					ctx.Response.Header.Set("Content-Encoding", "gzip")
				}
			} else if plain, err := gunzip(data); err == nil {
				data = plain
			}
		}
		out := data
		ctx.Response.SwapBody(out)
		filename, mimeType := s.nameAndType(ctx, n, p)
		s.writeContent(ctx, filename, mimeType, int64(len(out)), func(start, length int64) []byte { return out[start : start+length] })
		return false
	}
	filename, mimeType := s.nameAndType(ctx, n, p)
	return s.writeStream(ctx, filename, mimeType, v, dataOff, int64(dataSize), release)
}

// readError maps engine errors to upstream's replies.
// Metrics as upstream's: every failure counts in file_read_failures, a
// needle the index does not know also in file_read_invalid_needles.
func (s *Server) readError(ctx *fasthttp.RequestCtx, err error) {
	switch {
	case errors.Is(err, engine.ErrNotFound), errors.Is(err, engine.ErrDeleted), errors.Is(err, engine.ErrCookieMismatch):
		if errors.Is(err, engine.ErrNotFound) {
			s.m.ReadInvalidNeedles.Inc()
		}
		s.m.NotFound()
		ctx.SetStatusCode(fasthttp.StatusNotFound)
	default:
		s.m.InternalError()
		wlog.V(1).Infof("read %s: %v", requestPath(ctx), err) // the 5xx line says it at v=0
		if ctx.IsHead() {
			ctx.SetStatusCode(fasthttp.StatusInternalServerError)
			return
		}
		writeJSONError(ctx, fasthttp.StatusInternalServerError, err.Error())
	}
}

// conditional sets Last-Modified, ETag and the pair headers, and answers
// 304 when the request's validators match.
func (s *Server) conditional(ctx *fasthttp.RequestCtx, n *needle.Needle) bool {
	h := &ctx.Response.Header
	if n.LastModified != 0 {
		var date [len(timeFormat) + 8]byte
		h.SetBytesV("Last-Modified", fasthttp.AppendHTTPDate(date[:0], time.Unix(int64(n.LastModified), 0)))
	}
	var etag [10]byte
	etagBytes := appendEtag(etag[:0], n)
	h.SetBytesV("ETag", etagBytes)
	if notModified(ctx, etagBytes, n.LastModified) {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return true
	}
	if n.Has(needle.FlagHasPairs) && len(n.Pairs) > 0 {
		var pairs map[string]string
		if json.Unmarshal(n.Pairs, &pairs) == nil {
			for k, val := range pairs {
				h.Set(k, val)
			}
		}
	}
	return false
}

const timeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

// appendEtag appends the quoted checksum, "\"xxxxxxxx\"".
func appendEtag(dst []byte, n *needle.Needle) []byte {
	const hexLower = "0123456789abcdef"
	c := uint32(n.Checksum)
	dst = append(dst, '"')
	for i := 28; i >= 0; i -= 4 {
		dst = append(dst, hexLower[(c>>uint(i))&15])
	}
	return append(dst, '"')
}

// notModified applies If-None-Match (which wins when present) or
// If-Modified-Since.
func notModified(ctx *fasthttp.RequestCtx, etag []byte, lastModified uint64) bool {
	inm := ctx.Request.Header.Peek("If-None-Match")
	if len(inm) > 0 {
		return etagListMatches(inm, etag)
	}
	ims := ctx.Request.Header.Peek("If-Modified-Since")
	if len(ims) == 0 || lastModified == 0 {
		return false
	}
	t, err := time.Parse(timeFormat, string(ims))
	return err == nil && t.Unix() >= int64(lastModified)
}

// etagListMatches reports whether a weak comparison of any tag in the
// list matches etag (quoted).
func etagListMatches(list, etag []byte) bool {
	if string(bytes.TrimSpace(list)) == "*" {
		return true
	}
	bare := bytes.Trim(etag, `"`)
	for _, tag := range splitTags(list) {
		tag = bytes.TrimSpace(tag)
		tag = bytes.TrimPrefix(tag, []byte("W/"))
		if len(tag) == 0 {
			continue
		}
		if bytes.Equal(bytes.Trim(tag, `"`), bare) {
			return true
		}
	}
	return false
}

// splitTags splits an entity-tag list on commas outside quotes.
func splitTags(list []byte) [][]byte {
	var out [][]byte
	inQuote, start := false, 0
	for i, c := range list {
		switch c {
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, list[start:i])
				start = i + 1
			}
		}
	}
	return append(out, list[start:])
}

// nameAndType picks the download name and Content-Type as upstream: the
// URL's file name, else the stored one; the stored MIME type unless it is
// octet-stream, else by extension. filename aliases the request or n and
// is valid while both are.
func (s *Server) nameAndType(ctx *fasthttp.RequestCtx, n *needle.Needle, p fidPath) (filename []byte, mimeType string) {
	filename = p.filename
	if len(filename) == 0 && len(n.Name) > 0 {
		filename = n.Name
	}
	if len(n.Mime) > 0 && !bytes.HasPrefix(n.Mime, []byte("application/octet-stream")) {
		mimeType = string(n.Mime)
	}
	if mimeType == "" {
		mimeType = typeByExtension(extOf(filename))
	}
	return filename, mimeType
}

var passThrough = []struct{ query, header string }{
	{"response-cache-control", "Cache-Control"},
	{"response-content-disposition", "Content-Disposition"},
	{"response-content-encoding", "Content-Encoding"},
	{"response-content-language", "Content-Language"},
	{"response-content-type", "Content-Type"},
	{"response-expires", "Expires"},
}

// applyPassThrough sets the headers the response-* query overrides name,
// matching the names without regard to case, as upstream does; the first
// argument naming a header wins.
func applyPassThrough(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	var done [8]bool // by index in passThrough
	for k, v := range ctx.QueryArgs().All() {
		if len(k) < len("response-") || !bytes.EqualFold(k[:len("response-")], []byte("response-")) || len(v) == 0 {
			continue
		}
		for i, pt := range passThrough {
			if !done[i] && bytes.EqualFold(k, []byte(pt.query)) {
				h.SetBytesV(pt.header, v)
				done[i] = true
				break
			}
		}
	}
}

// encodingOverridden reports whether the query sets Content-Encoding
// itself (response-content-encoding), which then wins over the gzip one.
func encodingOverridden(ctx *fasthttp.RequestCtx) bool {
	for k, v := range ctx.QueryArgs().All() {
		if len(v) > 0 && bytes.EqualFold(k, []byte("response-content-encoding")) {
			return true
		}
	}
	return false
}

// contentHeaders sets Content-Type, Accept-Ranges, the response-* query
// overrides and Content-Disposition.
func (s *Server) contentHeaders(ctx *fasthttp.RequestCtx, filename []byte, mimeType string) {
	h := &ctx.Response.Header
	if mimeType != "" {
		h.SetContentType(mimeType)
	} else {
		h.SetNoDefaultContentType(true)
	}
	h.Set("Accept-Ranges", "bytes")
	args := ctx.QueryArgs()
	if args.Len() > 0 {
		applyPassThrough(ctx)
	}
	if len(h.Peek("Content-Disposition")) == 0 && len(filename) > 0 {
		disposition := "inline"
		if dl := args.Peek("dl"); len(dl) > 0 {
			if b, _ := strconv.ParseBool(string(dl)); b {
				disposition = "attachment"
			}
		}
		var scratch [160]byte
		h.SetBytesV("Content-Disposition", appendDisposition(scratch[:0], disposition, filename))
	}
}

// writeContent sets the content headers and writes an in-memory body.
func (s *Server) writeContent(ctx *fasthttp.RequestCtx, filename []byte, mimeType string, total int64, slice func(start, length int64) []byte) {
	s.contentHeaders(ctx, filename, mimeType)
	s.writeBody(ctx, mimeType, total, slice)
}

// writeBody writes an in-memory body of total bytes (already in the
// response), honouring HEAD and Range. slice returns the bytes of a range.
// The content headers must be set.
func (s *Server) writeBody(ctx *fasthttp.RequestCtx, mimeType string, total int64, slice func(start, length int64) []byte) {
	if ctx.IsHead() {
		// upstream states the length, also when it is 0
		ctx.Response.Header.SetContentLength(int(total))
		ctx.Response.SkipBody = true
		return
	}
	rng := ctx.Request.Header.Peek("Range")
	if len(rng) == 0 || !ifRangeMatches(ctx) {
		// the body buffer already holds the whole data
		sniffType(ctx, mimeType, slice(0, min(total, sniffLen)))
		return
	}
	ranges, err := parseRange(rng, total)
	if err != nil {
		ctx.Response.ResetBody()
		rangeError(ctx, err, total)
		return
	}
	if len(ranges) == 0 || sumRanges(ranges) > total {
		// upstream answers such ranges with 200 and no body
		ctx.Response.ResetBody()
		return
	}
	if len(ranges) == 1 {
		r := ranges[0]
		part := append([]byte(nil), slice(r.start, r.length)...)
		ctx.Response.SetBodyRaw(part)
		sniffType(ctx, mimeType, part[:min(len(part), sniffLen)])
		ctx.Response.Header.Set("Content-Range", r.contentRange(total))
		ctx.SetStatusCode(fasthttp.StatusPartialContent)
		return
	}
	body, ok := writeMultipartRanges(ctx, ranges, mimeType, total, func(w io.Writer, r httpRange) error {
		_, err := w.Write(slice(r.start, r.length))
		return err
	})
	if !ok {
		return
	}
	ctx.Response.SetBodyRaw(body)
	ctx.SetStatusCode(fasthttp.StatusPartialContent)
}

// sniffLen is how much of a body net/http looks at to guess its type.
const sniffLen = 512

// sniffType gives a reply whose handler set no Content-Type the one
// net/http's server guesses from the start of its body, as upstream's
// replies get: none for an empty body or one with a Content-Encoding,
// "application/octet-stream" for unrecognised binary data.
func sniffType(ctx *fasthttp.RequestCtx, mimeType string, first []byte) {
	if mimeType != "" || len(first) == 0 || len(ctx.Response.Header.ContentType()) > 0 ||
		len(ctx.Response.Header.ContentEncoding()) > 0 { // net/http does not sniff encoded bodies
		return
	}
	ctx.Response.Header.SetContentType(http.DetectContentType(first))
}

func acceptsGzip(ctx *fasthttp.RequestCtx) bool {
	return bytes.Contains(ctx.Request.Header.Peek("Accept-Encoding"), []byte("gzip"))
}

func isGzip(b []byte) bool { return len(b) >= 3 && b[0] == 0x1f && b[1] == 0x8b && b[2] == 8 }

func gunzip(b []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func ifRangeMatches(ctx *fasthttp.RequestCtx) bool {
	ir := strings.TrimSpace(string(ctx.Request.Header.Peek("If-Range")))
	if ir == "" {
		return true
	}
	h := &ctx.Response.Header
	if strings.HasPrefix(ir, `"`) || strings.HasPrefix(ir, "W/") {
		etag := string(h.Peek("ETag"))
		return etag != "" && !strings.HasPrefix(etag, "W/") && ir == etag
	}
	d, err := time.Parse(timeFormat, ir)
	if err != nil {
		return false
	}
	lm, err := time.Parse(timeFormat, string(h.Peek("Last-Modified")))
	return err == nil && d.Equal(lm)
}
