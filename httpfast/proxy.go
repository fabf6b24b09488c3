package httpfast

import (
	"context"
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/weedvol/weedvol/metrics"
)

// LookupFunc returns the HTTP addresses (host:port) of the servers that
// hold volume vid, as the master reports them. When the master answers
// that it knows no holder, the error has a method VolumeNotFound() bool
// that returns true.
type LookupFunc func(ctx context.Context, vid uint32) ([]string, error)

// isVolumeNotFound reports whether a LookupFunc error is the master's
// answer that no server holds the volume.
func isVolumeNotFound(err error) bool {
	var nf interface{ VolumeNotFound() bool }
	return errors.As(err, &nf) && nf.VolumeNotFound()
}

func newProxyClient(peerTLS *tls.Config) *fasthttp.Client {
	return &fasthttp.Client{
		TLSConfig:   peerTLS,
		ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second, MaxIdleConnDuration: 30 * time.Second,
		NoDefaultUserAgentHeader: true, DisableHeaderNamesNormalizing: false,
		DisablePathNormalizing: true,
	}
}

// proxyRead forwards a read over the download limit to another holder of
// the volume, as upstream does for replicated volumes.
func (s *Server) proxyRead(ctx *fasthttp.RequestCtx, vid uint32) {
	lctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	urls, err := s.cfg.Lookup(lctx, vid)
	if err != nil {
		s.m.InternalError()
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		return
	}
	for _, u := range urls {
		if s.cfg.SelfURL == "" || !strings.Contains(u, s.cfg.SelfURL) {
			s.m.Handler(metrics.ReadProxyReq)
			s.proxyTo(ctx, strings.TrimPrefix(u, "http://"))
			return
		}
	}
	s.m.ReadInvalidNeedles.Inc()
	s.m.Handler(metrics.EmptyReadProxyLoc)
	s.m.NotFound()
	ctx.SetStatusCode(fasthttp.StatusNotFound)
}

// notLocal answers a read of a volume this node does not hold, by
// -readMode: local says 404; proxy fetches it from a holder; redirect
// sends the client there with 301. A request already proxied is never
// forwarded again.
func (s *Server) notLocal(ctx *fasthttp.RequestCtx, vid uint32) {
	if s.cfg.ReadMode == "local" || string(ctx.QueryArgs().Peek("proxied")) == "true" || s.cfg.Lookup == nil {
		s.m.ReadInvalidNeedles.Inc()
		s.m.NotFound()
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	lctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	urls, err := s.cfg.Lookup(lctx, vid)
	if err != nil && s.cfg.ReadMode == "proxy" && !isVolumeNotFound(err) {
		// the master could not be asked; a master that knows no holder
		// is a 404, below
		s.m.InternalError()
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		return
	}
	if err != nil || len(urls) == 0 {
		s.m.ReadInvalidNeedles.Inc()
		s.m.NotFound()
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	rand.Shuffle(len(urls), func(i, j int) { urls[i], urls[j] = urls[j], urls[i] })
	target := ""
	for _, u := range urls {
		if !strings.Contains(u, s.cfg.SelfURL) || s.cfg.SelfURL == "" {
			target = strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
			break
		}
	}
	if target == "" {
		s.m.ReadInvalidNeedles.Inc()
		s.m.Handler(metrics.EmptyReadProxyLoc)
		s.m.NotFound()
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	if s.cfg.ReadMode == "proxy" {
		s.m.Handler(metrics.ReadProxyReq)
		s.proxyTo(ctx, target)
		return
	}
	s.m.Handler(metrics.ReadRedirectReq)
	p := parseFidPath(requestPath(ctx))
	loc := s.peerScheme + target + "/" + string(p.vid) + "," + string(p.fid)
	q := "proxied=true"
	if c := ctx.QueryArgs().Peek("collection"); len(c) > 0 {
		q = "collection=" + string(fasthttp.AppendQuotedArg(nil, c)) + "&" + q
	}
	ctx.Response.Header.Set("Location", loc+"?"+q)
	ctx.SetStatusCode(fasthttp.StatusMovedPermanently)
}

// hopByHop lists the headers a proxy must not forward.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Te": true, "Trailer": true, "Upgrade": true,
	"Proxy-Connection": true, "Proxy-Authenticate": true, "Proxy-Authorization": true, "Transfer-Encoding": true,
}

func connectionListed(h []byte) map[string]bool {
	out := map[string]bool{}
	for _, tok := range strings.Split(string(h), ",") {
		if t := textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(tok)); t != "" {
			out[t] = true
		}
	}
	return out
}

// proxyTo forwards the read to target with proxied=true and relays the
// answer, minus hop-by-hop headers and the other server's Server header.
func (s *Server) proxyTo(ctx *fasthttp.RequestCtx, target string) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	args := fasthttp.AcquireArgs()
	defer fasthttp.ReleaseArgs(args)
	ctx.QueryArgs().CopyTo(args)
	args.Set("proxied", "true")
	req.SetRequestURI(s.peerScheme + target + string(requestPath(ctx)) + "?" + string(args.QueryString()))
	req.Header.SetMethodBytes(ctx.Method())
	drop := connectionListed(ctx.Request.Header.Peek("Connection"))
	ctx.Request.Header.VisitAll(func(k, v []byte) {
		name := http.CanonicalHeaderKey(string(k))
		if hopByHop[name] || drop[name] || name == "Host" || name == "Content-Length" {
			return
		}
		req.Header.AddBytesKV(k, v)
	})
	if err := s.proxyClient.DoTimeout(req, resp, 60*time.Second); err != nil {
		s.m.Handler(metrics.FailedReadProxyReq)
		s.m.InternalError()
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		return
	}
	drop = connectionListed(resp.Header.Peek("Connection"))
	resp.Header.VisitAll(func(k, v []byte) {
		name := http.CanonicalHeaderKey(string(k))
		if name == "Server" || hopByHop[name] || drop[name] || name == "Content-Length" {
			return
		}
		ctx.Response.Header.AddBytesKV(k, v)
	})
	ctx.SetStatusCode(resp.StatusCode())
	ctx.SetBody(resp.Body())
	if ctx.IsHead() {
		if cl := resp.Header.ContentLength(); cl >= 0 {
			ctx.Response.Header.Set("Content-Length", strconv.Itoa(cl))
		}
	}
}
