package httpfast

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Front serves one HTTP handler on a listener with two parsers: fasthttp
// for requests it parses as net/http would (classifyBlock), and net/http,
// upstream's own server, for a connection from the first request that is
// not such. Each connection is read through a sniffer that holds back a
// request's header block until it is complete, classifies it, and either
// lets fasthttp read it or ends fasthttp's view of the connection (an EOF
// at a request boundary, which fasthttp answers with nothing) and hands the
// connection, with the bytes held back, to net/http.
//
// INVARIANT: a connection is handed over only at a request boundary,
// before fasthttp has read any byte of the request, so every request is
// parsed whole by exactly one of the two.
type Front struct {
	fast     *fasthttp.Server
	slow     *http.Server
	slowLn   *chanListener
	closing  atomic.Bool
	serveErr chan error
	// idle is -idleTimeout: as upstream's, a connection is closed when
	// neither side moves a byte for that long (reads and writes push the
	// deadline on), and a request's header must arrive within it.
	idle time.Duration
}

// NewFront returns a Front for handler; idle is -idleTimeout.
func NewFront(handler fasthttp.RequestHandler, idle time.Duration) *Front {
	f := &Front{fast: FastServer(handler, idle), slowLn: newChanListener(), idle: idle}
	f.slow = &http.Server{Handler: adaptHandler(handler), IdleTimeout: idle, ReadHeaderTimeout: idle, ErrorLog: discardLog}
	go f.slow.Serve(f.slowLn)
	return f
}

// Serve serves ln until Shutdown.
func (f *Front) Serve(ln net.Listener) error {
	return f.fast.Serve(&sniffListener{Listener: ln, front: f})
}

// Shutdown stops both servers, waiting (up to ctx) for requests in flight.
func (f *Front) Shutdown(ctx context.Context) error {
	f.closing.Store(true)
	return errors.Join(f.fast.ShutdownWithContext(ctx), f.slow.Shutdown(ctx))
}

// sniffListener wraps accepted connections in sniffers.
type sniffListener struct {
	net.Listener
	front *Front
}

func (l *sniffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		// the TCP connection stays visible, so fasthttp's sendfile path
		// (ReadFrom) keeps working
		s := &sniffTCPConn{TCPConn: tc}
		s.sn.init(tc, l.front)
		return s, nil
	}
	s := &sniffConn{Conn: c}
	s.sn.init(c, l.front)
	return s, nil
}

type sniffTCPConn struct {
	*net.TCPConn
	sn sniffer
}

func (c *sniffTCPConn) Read(p []byte) (int, error) { return c.sn.read(p) }
func (c *sniffTCPConn) Close() error               { return c.sn.close() }

func (c *sniffTCPConn) Write(p []byte) (int, error) {
	c.sn.extendWrite()
	return c.TCPConn.Write(p)
}

// activityStep is how much a body sent with sendfile may take before the
// write deadline is pushed on again.
const activityStep = 4 << 20

// ReadFrom keeps the TCP connection's sendfile path, in steps so that the
// activity deadline moves on as the bytes go out.
func (c *sniffTCPConn) ReadFrom(r io.Reader) (int64, error) {
	if c.sn.front.idle <= 0 {
		return c.TCPConn.ReadFrom(r)
	}
	lr, ok := r.(*io.LimitedReader)
	if !ok {
		c.sn.extendWrite()
		return c.TCPConn.ReadFrom(r)
	}
	var total int64
	for lr.N > 0 {
		c.sn.extendWrite()
		step := &io.LimitedReader{R: lr.R, N: min(lr.N, activityStep)}
		n, err := c.TCPConn.ReadFrom(step)
		total += n
		lr.N -= n
		if err != nil || n == 0 {
			return total, err
		}
	}
	return total, nil
}

type sniffConn struct {
	net.Conn
	sn sniffer
}

func (c *sniffConn) Read(p []byte) (int, error) { return c.sn.read(p) }
func (c *sniffConn) Close() error               { return c.sn.close() }

func (c *sniffConn) Write(p []byte) (int, error) {
	c.sn.extendWrite()
	return c.Conn.Write(p)
}

// sniffer is the read side of a connection as fasthttp sees it.
//
// It is used by the connection's one fasthttp goroutine only, except
// close, which may also run from Shutdown; handedOver makes the handover
// and the close exclusive.
type sniffer struct {
	conn  net.Conn
	front *Front
	// buf (pooled, owned by the sniffer from fill to releaseBuf) holds
	// bytes read from conn and not yet given to fasthttp: buf[off:].
	buf *[]byte
	off int
	// clear is how many coming bytes fasthttp may have without a look: the
	// rest of a plain header block and its body. At 0 the next byte starts
	// a request. transparent: no more looking (after a chunked body whose
	// framing the sniffer could not follow, or a read error).
	clear       int64
	transparent bool
	// chunked: a chunked body is passing; chunks follows its framing.
	chunked bool
	chunks  chunkScanner
	// divert is set by the reader when net/http must take the connection;
	// close reads it.
	divert     atomic.Bool
	handedOver atomic.Bool
	// headerStart is when the header block being gathered began (zero
	// when none is).
	headerStart time.Time
}

var sniffBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func (s *sniffer) init(c net.Conn, f *Front) { s.conn, s.front = c, f }

// pending is what was read and not yet delivered.
func (s *sniffer) pending() []byte {
	if s.buf == nil {
		return nil
	}
	return (*s.buf)[s.off:]
}

func (s *sniffer) read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.clear == 0 && s.chunked && !s.transparent {
		if err := s.followChunks(); err != nil && len(s.pending()) == 0 {
			return 0, err
		}
	}
	if s.clear == 0 && !s.transparent && !s.divert.Load() && s.buf == nil {
		// The common case: the whole request arrives in one read and is
		// plain. It is read straight into fasthttp's buffer and classified
		// there; anything else is moved to the sniffer's own buffer.
		s.extendRead()
		n, err := s.conn.Read(p)
		if n == 0 {
			return 0, err
		}
		kind, blockLen, bodyLen := classifyBlock(p[:n])
		if kind == blockPlain && int64(n) <= int64(blockLen)+bodyLen {
			s.clear = int64(blockLen) + bodyLen - int64(n)
			return n, err
		}
		// what was read is classified first; a read error comes again
		s.buf, s.off = sniffBufs.Get().(*[]byte), 0
		*s.buf = append((*s.buf)[:0], p[:n]...)
	}
	if s.clear == 0 && !s.transparent && !s.divert.Load() {
		if err := s.classify(); err != nil {
			var ne net.Error
			if len(s.pending()) == 0 || (errors.As(err, &ne) && ne.Timeout()) {
				return 0, err
			}
			// a request cut off mid-header: net/http says what that is
			s.divert.Store(true)
		}
	}
	if s.divert.Load() {
		return 0, io.EOF
	}
	want := len(p)
	if !s.transparent && int64(want) > s.clear {
		want = int(s.clear)
	}
	var n int
	var err error
	if pend := s.pending(); len(pend) > 0 {
		n = copy(p[:want], pend)
		s.off += n
		if s.off == len(*s.buf) {
			s.releaseBuf()
		}
	} else {
		s.extendRead()
		n, err = s.conn.Read(p[:want])
	}
	if !s.transparent {
		s.clear -= int64(n)
	}
	return n, err
}

// extendRead and extendWrite push the connection's deadline on by the idle
// timeout, as upstream's connections do on every read and write.
func (s *sniffer) extendRead() {
	if s.front.idle > 0 {
		_ = s.conn.SetReadDeadline(time.Now().Add(s.front.idle))
	}
}

func (s *sniffer) extendWrite() {
	if s.front.idle > 0 {
		_ = s.conn.SetWriteDeadline(time.Now().Add(s.front.idle))
	}
}

// classify reads until the header block at the start of the pending bytes
// is complete and decides who parses it.
func (s *sniffer) classify() error {
	for {
		kind, blockLen, bodyLen := classifyBlock(s.pending())
		switch kind {
		case blockPlain:
			s.clear = int64(blockLen) + bodyLen
			s.headerStart = time.Time{}
			return nil
		case blockChunked:
			s.headerStart = time.Time{}
			s.clear, s.chunked = int64(blockLen), true
			s.chunks.reset()
			return nil
		case blockOdd:
			s.divert.Store(true)
			return nil
		}
		if err := s.fill(true); err != nil {
			return err
		}
	}
}

// followChunks clears the next stretch of a chunked body: the body bytes
// among those read so far (reading more when none are pending). When the
// body ends the next byte starts a request again; when its framing is not
// the strict form the connection is left to fasthttp (transparent).
func (s *sniffer) followChunks() error {
	if len(s.pending()) == 0 {
		if err := s.fill(false); err != nil {
			s.chunked, s.transparent = false, true
			return err
		}
	}
	n, done, lost := s.chunks.scan(s.pending())
	switch {
	case lost:
		s.chunked, s.transparent = false, true
	case done:
		s.chunked = false
	}
	s.clear = int64(n)
	return nil
}

// fill appends one read from the connection to the pending bytes; header
// says whether they belong to a header block (bounded in time) or to a
// body (pushed on by activity).
func (s *sniffer) fill(header bool) error {
	if s.buf == nil {
		s.buf, s.off = sniffBufs.Get().(*[]byte), 0
	}
	b := *s.buf
	if s.off > 0 {
		b = b[:copy(b, b[s.off:])]
		s.off = 0
	}
	if len(b) == cap(b) {
		b = append(b, make([]byte, len(b))...)[:len(b)]
	}
	// a header block must be whole within the idle timeout of its first
	// byte (headerDeadline), whatever trickles in meanwhile
	if s.front.idle > 0 && header {
		if s.headerStart.IsZero() {
			s.headerStart = time.Now()
		}
		_ = s.conn.SetReadDeadline(s.headerStart.Add(s.front.idle))
	} else {
		s.extendRead()
	}
	n, err := s.conn.Read(b[len(b):cap(b)])
	*s.buf = b[:len(b)+n]
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

func (s *sniffer) releaseBuf() {
	if s.buf != nil {
		if cap(*s.buf) <= 64<<10 {
			*s.buf = (*s.buf)[:0]
			sniffBufs.Put(s.buf)
		}
		s.buf, s.off = nil, 0
	}
}

// close closes the connection, or hands it to net/http when the sniffer
// ended fasthttp's view of it for an odd request. fasthttp calls it from
// the connection's goroutine once the reader has returned, or from
// Shutdown's for an idle connection; a diverted connection is only ever
// closed the first way, as fasthttp is done with it by then.
func (s *sniffer) close() error {
	if !s.handedOver.CompareAndSwap(false, true) {
		return nil
	}
	if !s.divert.Load() || s.front.closing.Load() {
		// Shutdown closes idle connections from its own goroutine while
		// their reader may be in fill: the buffer is left to the reader
		// (or the collector)
		return s.conn.Close()
	}
	prefix := append([]byte(nil), s.pending()...)
	s.releaseBuf()
	_ = s.conn.SetDeadline(time.Time{})
	if !s.front.slowLn.deliver(&prefixConn{Conn: s.conn, prefix: prefix, idle: s.front.idle}) {
		return s.conn.Close()
	}
	return nil
}

// prefixConn reads prefix before the connection's own bytes.
type prefixConn struct {
	net.Conn
	prefix []byte
	idle   time.Duration // as Front.idle
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	// read deadlines are net/http's own (ReadHeaderTimeout, and the past
	// deadline it sets to interrupt a background read): never pushed here
	return c.Conn.Read(p)
}

func (c *prefixConn) Write(p []byte) (int, error) {
	if c.idle > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.idle))
	}
	return c.Conn.Write(p)
}

// chanListener is the listener net/http serves: connections handed over.
type chanListener struct {
	conns  chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) deliver(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
