package httpfast

import (
	"io"

	"github.com/valyala/fasthttp"

	"github.com/weedvol/weedvol/engine"
)

// volumeSection reads a byte range of a volume's .dat. fasthttp closes it
// after sending; Close runs release once, if set.
type volumeSection struct {
	v        *engine.Volume
	off, end int64
	release  func()
}

func (r *volumeSection) Close() error {
	if r.release != nil {
		r.release()
		r.release = nil
	}
	return nil
}

func (r *volumeSection) Read(p []byte) (int, error) {
	if r.off >= r.end {
		return 0, io.EOF
	}
	if int64(len(p)) > r.end-r.off {
		p = p[:r.end-r.off]
	}
	n, err := r.v.ReadAt(p, r.off)
	r.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// writeStream serves size bytes of v's .dat from off as the body, honouring
// HEAD and Range, without holding them in memory. It reports whether
// release was handed to a streamed body (which runs it when closed).
func (s *Server) writeStream(ctx *fasthttp.RequestCtx, filename, mimeType string, v *engine.Volume, off, size int64, release func()) bool {
	s.contentHeaders(ctx, filename, mimeType)
	if ctx.IsHead() {
		ctx.Response.Header.SetContentLength(int(size))
		ctx.Response.SkipBody = true
		return false
	}
	rng := ctx.Request.Header.Peek("Range")
	if len(rng) > 0 && ifRangeMatches(ctx) {
		ranges, err := parseRange(rng, size)
		if err != nil {
			rangeError(ctx, err, size)
			return false
		}
		if len(ranges) == 0 || sumRanges(ranges) > size {
			// upstream answers such ranges with 200 and no body
			return false
		}
		if len(ranges) == 1 {
			r := ranges[0]
			ctx.Response.Header.Set("Content-Range", r.contentRange(size))
			ctx.SetStatusCode(fasthttp.StatusPartialContent)
			ctx.SetBodyStream(&volumeSection{v: v, off: off + r.start, end: off + r.start + r.length, release: release}, int(r.length))
			return true
		}
		body := writeMultipartRanges(ctx, ranges, mimeType, size, func(w io.Writer, r httpRange) error {
			_, err := io.Copy(w, &volumeSection{v: v, off: off + r.start, end: off + r.start + r.length})
			return err
		})
		ctx.Response.SetBodyRaw(body)
		ctx.SetStatusCode(fasthttp.StatusPartialContent)
		return false
	}
	ctx.SetBodyStream(&volumeSection{v: v, off: off, end: off + size, release: release}, int(size))
	return true
}
