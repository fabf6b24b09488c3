package httpfast

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

// httpRange is one satisfiable byte range.
type httpRange struct{ start, length int64 }

func (r httpRange) contentRange(size int64) string {
	return "bytes " + strconv.FormatInt(r.start, 10) + "-" + strconv.FormatInt(r.start+r.length-1, 10) + "/" + strconv.FormatInt(size, 10)
}

var (
	errInvalidRange = errors.New("invalid range")
	errNoOverlap    = errors.New("invalid range: failed to overlap")
)

// parseRange parses a Range header against a body of size bytes with the
// semantics of Go's net/http (which upstream uses): ranges that start past
// the end are dropped, and if none is left the result is errNoOverlap.
func parseRange(header []byte, size int64) ([]httpRange, error) {
	s := string(header)
	const prefix = "bytes="
	if !strings.HasPrefix(s, prefix) {
		return nil, errInvalidRange
	}
	var out []httpRange
	noOverlap := false
	for _, ra := range strings.Split(s[len(prefix):], ",") {
		ra = strings.TrimSpace(ra)
		if ra == "" {
			continue
		}
		startStr, endStr, ok := strings.Cut(ra, "-")
		if !ok {
			return nil, errInvalidRange
		}
		startStr, endStr = strings.TrimSpace(startStr), strings.TrimSpace(endStr)
		var r httpRange
		if startStr == "" {
			if endStr == "" || endStr[0] == '-' {
				return nil, errInvalidRange
			}
			n, err := strconv.ParseInt(endStr, 10, 64)
			if err != nil || n < 0 {
				return nil, errInvalidRange
			}
			n = min(n, size)
			r.start = size - n
			if r.start >= size {
				noOverlap = true
				continue
			}
			r.length = size - r.start
		} else {
			start, err := strconv.ParseInt(startStr, 10, 64)
			if err != nil || start < 0 {
				return nil, errInvalidRange
			}
			if start >= size {
				noOverlap = true
				continue
			}
			r.start = start
			if endStr == "" {
				r.length = size - start
			} else {
				end, err := strconv.ParseInt(endStr, 10, 64)
				if err != nil || start > end {
					return nil, errInvalidRange
				}
				end = min(end, size-1)
				r.length = end - start + 1
			}
		}
		out = append(out, r)
	}
	if noOverlap && len(out) == 0 {
		return nil, errNoOverlap
	}
	return out, nil
}

func sumRanges(rs []httpRange) int64 {
	var n int64
	for _, r := range rs {
		n += r.length
	}
	return n
}

// rangeError writes the 416 reply net/http's http.Error would.
func rangeError(ctx *fasthttp.RequestCtx, err error, total int64) {
	if errors.Is(err, errNoOverlap) {
		ctx.Response.Header.Set("Content-Range", fmt.Sprintf("bytes */%d", total))
	}
	plainError(ctx, fasthttp.StatusRequestedRangeNotSatisfiable, err.Error())
}

// plainError answers as net/http's http.Error: the message and a newline
// as plain text, nosniff, other headers kept.
func plainError(ctx *fasthttp.RequestCtx, status int, msg string) {
	ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	ctx.SetStatusCode(status)
	ctx.SetBodyString(msg + "\n")
}

// writeMultipartRanges renders a multipart/byteranges body and sets its
// Content-Type. When a part cannot be read it aborts the connection, as
// upstream's streamed answer breaks off, rather than answer with fewer
// parts than asked for; the caller then writes nothing more.
func writeMultipartRanges(ctx *fasthttp.RequestCtx, ranges []httpRange, mimeType string, total int64, write func(io.Writer, httpRange) error) ([]byte, bool) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, r := range ranges {
		part, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Range": {r.contentRange(total)},
			"Content-Type":  {mimeType},
		})
		if err == nil {
			err = write(part, r)
		}
		if err != nil {
			abortConnection(ctx)
			return nil, false
		}
	}
	mw.Close()
	ctx.Response.Header.SetContentType("multipart/byteranges; boundary=" + mw.Boundary())
	return buf.Bytes(), true
}

// abortConnection ends the request by closing its connection without an
// answer (net/http's ErrAbortHandler): for failures past the point where
// upstream has committed its answer.
func abortConnection(ctx *fasthttp.RequestCtx) {
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(net.Conn) {})
}
