package httpfast

import (
	"io"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/metrics"
)

// volumeSection reads a byte range of a volume's .dat. fasthttp closes it
// after sending; Close runs release once, if set.
type volumeSection struct {
	v        *engine.Volume
	off, end int64
	release  func()
	// sent, when set (a plain-TCP connection), counts the bytes handed to
	// the kernel with sendfile.
	sent *metrics.Metrics
}

func (r *volumeSection) Close() error {
	if r.release != nil {
		r.release()
		r.release = nil
	}
	return nil
}

// sendfileMin is the length from which a section is handed to the kernel
// as a file and an offset (sendfile) instead of being copied through
// user-space buffers.
const sendfileMin = 64 << 10

// copyBufs holds the buffers of the copying path, large enough that a
// megabyte takes a few system calls rather than hundreds.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// SupportsBodyWriteTo tells fasthttp that WriteTo may replace Read.
func (r *volumeSection) SupportsBodyWriteTo() bool { return true }

// WriteTo sends the section to w. When w can take a reader of its own
// (fasthttp's body writer over a TCP connection), it gets a pooled .dat
// descriptor positioned at the section, which the net package sends with
// sendfile: the bytes go from the page cache to the socket without passing
// through this process. Otherwise they are copied in large chunks.
func (r *volumeSection) WriteTo(w io.Writer) (int64, error) {
	var total int64
	if rf, ok := w.(io.ReaderFrom); ok && r.end-r.off >= sendfileMin {
		if f, done, err := r.v.DatReader(); err == nil {
			if _, err := f.Seek(r.off, io.SeekStart); err != nil {
				done()
				return 0, err
			}
			n, err := rf.ReadFrom(&io.LimitedReader{R: f, N: r.end - r.off})
			done()
			if r.sent != nil {
				r.sent.AddSendfileBytes(n)
			}
			r.off += n
			total += n
			if err != nil || r.off >= r.end {
				return total, err
			}
		}
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	for r.off < r.end {
		n, err := r.Read(*bp)
		if n > 0 {
			m, werr := w.Write((*bp)[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, io.ErrUnexpectedEOF
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
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
func (s *Server) writeStream(ctx *fasthttp.RequestCtx, filename []byte, mimeType string, v *engine.Volume, off, size int64, release func()) bool {
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
			sniffSection(ctx, mimeType, v, off+r.start, r.length)
			ctx.SetBodyStream(&volumeSection{v: v, off: off + r.start, end: off + r.start + r.length, release: release, sent: s.sendfileCounter(ctx)}, int(r.length))
			return true
		}
		body, ok := writeMultipartRanges(ctx, ranges, mimeType, size, func(w io.Writer, r httpRange) error {
			_, err := io.Copy(w, &volumeSection{v: v, off: off + r.start, end: off + r.start + r.length})
			return err
		})
		if !ok {
			return false
		}
		ctx.Response.SetBodyRaw(body)
		ctx.SetStatusCode(fasthttp.StatusPartialContent)
		return false
	}
	sniffSection(ctx, mimeType, v, off, size)
	ctx.SetBodyStream(&volumeSection{v: v, off: off, end: off + size, release: release, sent: s.sendfileCounter(ctx)}, int(size))
	return true
}

// sniffSection is sniffType for a body streamed from v's .dat at off.
func sniffSection(ctx *fasthttp.RequestCtx, mimeType string, v *engine.Volume, off, size int64) {
	if mimeType != "" || size == 0 {
		return
	}
	hp := sniffHeads.Get().(*[sniffLen]byte) // owned here until Put
	n, _ := v.ReadAt(hp[:min(size, sniffLen)], off)
	sniffType(ctx, mimeType, hp[:n])
	sniffHeads.Put(hp)
}

// sniffHeads recycles the buffers sniffSection reads a body's start into
// (a stack array would escape through the I/O engine's interface).
var sniffHeads = sync.Pool{New: func() any { return new([sniffLen]byte) }}

// sendfileCounter is where a streamed body on ctx's connection counts its
// sendfile bytes: nowhere over TLS, where the bytes are copied and
// encrypted in user space.
func (s *Server) sendfileCounter(ctx *fasthttp.RequestCtx) *metrics.Metrics {
	if ctx.IsTLS() {
		return nil
	}
	return s.m
}
