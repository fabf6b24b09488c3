// Package httpfast serves the volume server's HTTP API on fasthttp: reads,
// uploads and deletes of needles by file id on the admin port, reads only
// on the public port, and the status and health endpoints, with upstream's
// status codes, headers and bodies.
//
// Handlers follow fasthttp's rules: a *fasthttp.RequestCtx and every byte
// slice taken from it are valid only until the handler returns.
package httpfast

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/guard"
	"github.com/weedvol/weedvol/metrics"
	"github.com/weedvol/weedvol/nodestate"
	"github.com/weedvol/weedvol/wlog"
)

// Config configures a Server.
type Config struct {
	Store *engine.Store
	State *nodestate.State
	// ReadMode is local, proxy or redirect: what a read of a volume this
	// node does not hold does.
	ReadMode string
	// FileSizeLimit caps an upload's body, in bytes.
	FileSizeLimit int64
	// ConcurrentUploadLimit and ConcurrentDownloadLimit cap in-flight bytes
	// (0: unlimited); requests over it wait up to the timeouts, then get 429.
	ConcurrentUploadLimit, ConcurrentDownloadLimit int64
	InflightUploadTimeout, InflightDownloadTimeout time.Duration
	// WhiteList, when not empty, holds the IPs and CIDR ranges allowed to
	// write and delete (the same list guards the admin gRPC calls).
	WhiteList *guard.WhiteList
	// SigningKey and ReadSigningKey, from security.toml, make writes and
	// reads require a JWT naming the file id; empty means no check.
	SigningKey, ReadSigningKey []byte
	// Lookup finds the holders of a volume through the master, for
	// -readMode proxy and redirect; SelfURL (ip:port) is this node.
	Lookup  LookupFunc
	SelfURL string
	// UI exposes /ui/index.html; upstream does when no JWT signing key is
	// set or security.toml has access.ui = true.
	UI bool
	// PeerTLS, when set ([https.client] enabled), makes the HTTP calls to
	// other volume servers (replication, proxied reads, chunks) use HTTPS
	// with it.
	PeerTLS *tls.Config
	// FixJpgOrientation turns uploaded JPEGs upright by their EXIF
	// orientation before they are stored (-images.fix.orientation).
	FixJpgOrientation bool

	// Masters are the seed masters the UI lists (-master).
	Masters []string

	// Pprof, when set (-pprof), serves /debug/pprof/ on the admin port, as
	// upstream's -pprof does.
	Pprof http.Handler

	// Logf receives errors worth an operator's attention.
	Logf func(format string, args ...any)
	// Metrics receives upstream's volume server request metrics; nil
	// means metrics.Discard.
	Metrics *metrics.Metrics
}

// Server is the HTTP front end.
type Server struct {
	cfg Config
	m   *metrics.Metrics // cfg.Metrics, never nil
	// pprof adapts cfg.Pprof; nil when it is.
	pprof fasthttp.RequestHandler

	inflightUpload   atomic.Int64
	inflightDownload atomic.Int64
	// limitMu guards the two conditions, signalled when in-flight bytes drop.
	limitMu      sync.Mutex
	uploadCond   *sync.Cond
	downloadCond *sync.Cond

	bufPool sync.Pool // *[]byte record buffers for reads

	repl *replicator // forwards writes and deletes to other replicas

	keys atomic.Pointer[signingKeys]

	// chunkClient and proxyClient call other volume servers, with
	// peerScheme ("http://", or "https://" under [https.client]).
	chunkClient, proxyClient *fasthttp.Client
	peerScheme               string
}

// New returns a Server.
func New(cfg Config) *Server {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.FileSizeLimit <= 0 {
		cfg.FileSizeLimit = 256 << 20
	}
	if cfg.ReadMode == "" {
		cfg.ReadMode = "proxy"
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.Discard
	}
	s := &Server{cfg: cfg, m: cfg.Metrics, repl: newReplicator(cfg.PeerTLS),
		chunkClient: newChunkClient(cfg.PeerTLS), proxyClient: newProxyClient(cfg.PeerTLS), peerScheme: "http://"}
	if cfg.Pprof != nil {
		s.pprof = fasthttpadaptor.NewFastHTTPHandler(cfg.Pprof)
	}
	if cfg.PeerTLS != nil {
		s.peerScheme = "https://"
	}
	s.SetSigningKeys(cfg.SigningKey, cfg.ReadSigningKey)
	s.uploadCond = sync.NewCond(&s.limitMu)
	s.downloadCond = sync.NewCond(&s.limitMu)
	s.bufPool.New = func() any { b := make([]byte, 0, 64<<10); return &b }
	s.m.SetLimits(cfg.ConcurrentUploadLimit, cfg.ConcurrentDownloadLimit)
	s.m.SetInflight(s.InflightBytes)
	return s
}

// InflightBytes reports the upload and download bytes in flight now, as
// -concurrentUploadLimitMB and -concurrentDownloadLimitMB count them.
func (s *Server) InflightBytes() (upload, download int64) {
	return s.inflightUpload.Load(), s.inflightDownload.Load()
}

// FastServer is the fasthttp server for handler (Admin or Public), set up
// as upstream's net/http server behaves where clients can tell:
//
//   - handlers run as soon as the headers are in, and bodies are read as
//     streams (readBody), so an upload counts against
//     -concurrentUploadLimitMB while its body is still arriving, as upstream
//     counts it; fasthttp pre-reads min(MaxRequestBodySize, 8 KB) of a body
//     before calling the handler, so the size limit is 1 byte here and the
//     real one is readBody's (-fileSizeLimitMB);
//   - handlers read the raw path (requestPath), not fasthttp's normalised
//     one: routePath applies ServeMux's rules (a 307 to the cleaned path);
//   - no default Content-Type: sniffType guesses one as net/http does.
func FastServer(handler fasthttp.RequestHandler, idleTimeout time.Duration) *fasthttp.Server {
	return &fasthttp.Server{
		Handler: handler, NoDefaultServerHeader: true,
		MaxRequestBodySize: 1, IdleTimeout: idleTimeout,
		DisablePreParseMultipartForm: true, NoDefaultContentType: true,
		ReadBufferSize:    16 << 10,
		WriteBufferSize:   64 << 10,
		StreamRequestBody: true,
	}
}

var (
	hdrServer   = []byte("Server")
	pprofPrefix = []byte("/debug/pprof/")
)

// Admin serves the admin (private) port.
func (s *Server) Admin(ctx *fasthttp.RequestCtx) {
	s.admin(ctx)
	if ctx.Response.StatusCode() >= 500 {
		logErrorAnswer(ctx)
	}
}

// Public serves the public port: reads only.
func (s *Server) Public(ctx *fasthttp.RequestCtx) {
	s.public(ctx)
	if ctx.Response.StatusCode() >= 500 {
		logErrorAnswer(ctx)
	}
}

// logErrorAnswer writes the one line a 5xx answer gets, at ERROR, with
// the answer's x-amz-request-id and the start of its error text.
func logErrorAnswer(ctx *fasthttp.RequestCtx) {
	var body []byte
	if !ctx.Response.IsBodyStream() {
		body = ctx.Response.Body()
		if len(body) > 512 {
			body = body[:512]
		}
	}
	wlog.Errorf("request_id:%s response method:%s URL:%s from %s with httpStatus:%d and error:%s",
		ctx.Response.Header.Peek("x-amz-request-id"), ctx.Method(), requestPath(ctx), ctx.RemoteIP(), ctx.Response.StatusCode(), bytes.TrimSpace(body))
}

func (s *Server) admin(ctx *fasthttp.RequestCtx) {
	if !routePath(ctx) {
		return
	}
	ctx.Response.Header.SetBytesKV(hdrServer, s.cfg.State.ServerHeader())
	s.setRequestID(ctx)
	path := requestPath(ctx)
	switch string(path) { // the conversion does not allocate in a switch
	case "/status":
		s.status(ctx)
		return
	case "/healthz", "/readyz":
		s.healthz(ctx)
		return
	case "/ui/index.html":
		if s.cfg.UI {
			s.ui(ctx)
			return
		}
	}
	if s.pprof != nil && bytes.HasPrefix(path, pprofPrefix) {
		s.pprof(ctx)
		return
	}
	if s.static(ctx) {
		return
	}
	// upstream times and counts the requests its "/" handler serves, and
	// counts the admin port's in in_flight_requests
	req := s.m.Begin(metrics.TypeOf(ctx.Method()), true)
	s.cors(ctx)
	switch {
	case ctx.IsGet(), ctx.IsHead():
		s.get(ctx)
	case ctx.IsDelete():
		if s.allowed(ctx) {
			s.delete(ctx)
		}
	case ctx.IsPut(), ctx.IsPost():
		s.upload(ctx)
	case ctx.IsOptions():
		ctx.Response.Header.Add("Access-Control-Allow-Methods", "PUT, POST, GET, DELETE, OPTIONS")
		ctx.Response.Header.Add("Access-Control-Allow-Headers", "*")
	default:
		writeJSONError(ctx, fasthttp.StatusBadRequest, "unsupported method "+string(ctx.Method()))
	}
	req.End(ctx.Response.StatusCode())
}

func (s *Server) public(ctx *fasthttp.RequestCtx) {
	if !routePath(ctx) {
		return
	}
	ctx.Response.Header.SetBytesKV(hdrServer, s.cfg.State.ServerHeader())
	s.setRequestID(ctx)
	if s.static(ctx) {
		return
	}
	req := s.m.Begin(metrics.TypeOf(ctx.Method()), false)
	s.cors(ctx)
	switch {
	case ctx.IsGet(), ctx.IsHead():
		s.get(ctx)
	case ctx.IsOptions():
		ctx.Response.Header.Add("Access-Control-Allow-Methods", "GET, OPTIONS")
		ctx.Response.Header.Add("Access-Control-Allow-Headers", "*")
	}
	req.End(ctx.Response.StatusCode())
}

func (s *Server) cors(ctx *fasthttp.RequestCtx) {
	if len(ctx.Request.Header.Peek("Origin")) > 0 {
		ctx.Response.Header.Set("Access-Control-Allow-Origin", "*")
		ctx.Response.Header.Set("Access-Control-Allow-Credentials", "true")
	}
}

// allowed applies the white list to writes and deletes as upstream's
// guard does: a refused request gets a bare 401.
func (s *Server) allowed(ctx *fasthttp.RequestCtx) bool {
	if s.cfg.WhiteList.Empty() || s.cfg.WhiteList.AllowsIP(ctx.RemoteIP()) {
		return true
	}
	s.cfg.Logf("Not in whitelist: %s", ctx.RemoteIP())
	ctx.SetStatusCode(fasthttp.StatusUnauthorized)
	return false
}
