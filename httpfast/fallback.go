package httpfast

import (
	"io"
	"log"
	"net"
	"net/http"
	"strconv"

	"github.com/valyala/fasthttp"
)

// discardLog keeps net/http's own connection errors (a client that goes
// away, a TLS handshake that fails) out of the server log, as upstream's
// log shows none of them at its default level.
var discardLog = log.New(io.Discard, "", 0)

// adaptHandler serves net/http requests (the connections Front hands
// over) with the fasthttp handler: the request is copied into a fresh
// RequestCtx, its body streamed, and the handler's response written back
// through net/http, which adds what net/http adds (Date, framing).
func adaptHandler(handler fasthttp.RequestHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req fasthttp.Request
		req.Header.SetMethod(r.Method)
		req.Header.SetRequestURI(r.RequestURI)
		req.Header.SetProtocol(r.Proto)
		req.Header.SetHost(r.Host)
		for k, vs := range r.Header {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		var remote net.Addr
		if ap, err := net.ResolveTCPAddr("tcp", r.RemoteAddr); err == nil {
			remote = ap
		}
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, remote, nil)
		ctx.Response.Header.SetNoDefaultContentType(true) // as FastServer's
		if r.ContentLength != 0 {
			// -1 (chunked) reads to the end of the stream
			ctx.Request.SetBodyStream(r.Body, int(r.ContentLength))
		}
		handler(&ctx)
		if ctx.Hijacked() {
			// the handler aborted the request (abortConnection)
			panic(http.ErrAbortHandler)
		}
		writeAdapted(w, r, &ctx.Response)
	})
}

// writeAdapted writes a fasthttp response through net/http.
func writeAdapted(w http.ResponseWriter, r *http.Request, resp *fasthttp.Response) {
	h := w.Header()
	for k, v := range resp.Header.All() {
		key := string(k)
		if key == "Content-Length" || key == "Connection" {
			continue
		}
		h.Add(key, string(v))
	}
	status := resp.StatusCode()
	if resp.IsBodyStream() {
		if cl := resp.Header.ContentLength(); cl >= 0 {
			h.Set("Content-Length", strconv.Itoa(cl))
		}
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			_ = resp.BodyWriteTo(w)
		} else {
			_ = resp.CloseBodyStream()
		}
		return
	}
	body := resp.Body()
	switch {
	case r.Method == http.MethodHead || resp.SkipBody:
		if cl := resp.Header.ContentLength(); cl >= 0 {
			h.Set("Content-Length", strconv.Itoa(cl))
		} else if len(body) > 0 {
			h.Set("Content-Length", strconv.Itoa(len(body)))
		}
		w.WriteHeader(status)
	default:
		if bodyAllowed(status) {
			h.Set("Content-Length", strconv.Itoa(len(body)))
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

func bodyAllowed(status int) bool {
	return !(status >= 100 && status < 200) && status != http.StatusNoContent && status != http.StatusNotModified
}
