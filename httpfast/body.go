package httpfast

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/valyala/fasthttp"
)

// multipartSlack is how far a request body may exceed the file size limit
// before it is refused unread: room for a multipart envelope around a file
// of exactly the limit. parseUpload checks the file itself.
const multipartSlack = 1 << 20

// bodyBufs recycles the buffers streamed request bodies are read into.
var bodyBufs = sync.Pool{New: func() any { return new([]byte) }}

// errBodyTooLarge is refused before the body is read.
type errBodyTooLarge struct{ limit int64 }

func (e errBodyTooLarge) Error() string {
	return fmt.Sprintf("file over the limited %d bytes", e.limit)
}

// readBody makes the whole request body available to ctx.Request.Body().
//
// The server streams request bodies (fasthttp StreamRequestBody) so that a
// handler runs as soon as the headers are in: an upload is counted against
// -concurrentUploadLimitMB while its body is still arriving, as upstream
// counts it. readBody then reads the rest of the body, at most limit plus
// multipartSlack bytes (no limit when limit <= 0), into a pooled buffer. A
// body that breaks off is an error, never a shorter body. The caller must
// call the returned release once it no longer uses the body.
func readBody(ctx *fasthttp.RequestCtx, limit int64) (release func(), err error) {
	nop := func() {}
	max := int64(-1)
	if limit > 0 {
		max = limit + multipartSlack
	}
	if cl := int64(ctx.Request.Header.ContentLength()); max >= 0 && cl > max {
		return nop, errBodyTooLarge{limit}
	}
	if !ctx.Request.IsBodyStream() {
		return nop, nil
	}
	stream := ctx.RequestBodyStream()
	bp := bodyBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	if cl := ctx.Request.Header.ContentLength(); cl > 0 && cap(buf) < cl {
		buf = make([]byte, 0, cl)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, rerr := stream.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if max >= 0 && int64(len(buf)) > max {
			err = errBodyTooLarge{limit}
			break
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			err = fmt.Errorf("reading request body: %w", rerr)
			break
		}
	}
	if cl := ctx.Request.Header.ContentLength(); err == nil && cl >= 0 && len(buf) != cl {
		err = fmt.Errorf("reading request body: %d of %d bytes", len(buf), cl)
	}
	release = func() {
		if cap(buf) <= 16<<20 {
			*bp = buf[:0]
			bodyBufs.Put(bp)
		}
	}
	if err != nil {
		release()
		return nop, err
	}
	// the stream is drained: hand the bytes to the request, so that
	// Body() and everything built on it see them
	ctx.Request.SetBodyRaw(buf)
	return release, nil
}
