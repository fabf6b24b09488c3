package difftest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Request is one HTTP request, sent byte for byte as built here to both
// sides, so that neither client library nor proxy changes it on the way.
type Request struct {
	Method string
	Target string      // the request-target, e.g. "/3,01637037d6?dl=true"
	Header [][2]string // in order; Host is added first
	Body   []byte
	// Label says what the request exercises, for reports.
	Label string
}

// bytes renders the request as HTTP/1.1 with keep-alive.
func (r *Request) bytes(host string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", r.Method, r.Target, host)
	hasLength := false
	for _, h := range r.Header {
		if http.CanonicalHeaderKey(h[0]) == "Content-Length" || http.CanonicalHeaderKey(h[0]) == "Transfer-Encoding" {
			hasLength = true
		}
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	if !hasLength && (len(r.Body) > 0 || r.Method == "POST" || r.Method == "PUT") {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.Body))
	}
	b.WriteString("\r\n")
	b.Write(r.Body)
	return b.Bytes()
}

// Response is what came back.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// Err is set when no complete response arrived (then Status is 0).
	Err error
}

// rawClient keeps one connection to a server and reconnects when the
// server closes it.
type rawClient struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
}

func newRawClient(addr string) *rawClient { return &rawClient{addr: addr} }

func (c *rawClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.br = nil, nil
	}
}

// requestTimeout bounds one request: a server that does not answer within
// it has hung, which is a failure of its own.
const requestTimeout = 20 * time.Second

// Do sends raw (a complete request) and reads one response to method.
func (c *rawClient) Do(method string, raw []byte) Response {
	for attempt := 0; ; attempt++ {
		resp, sent := c.try(method, raw)
		if resp.Err == nil || sent || attempt == 1 {
			if resp.Err != nil || shouldClose(resp) {
				c.close()
			}
			return resp
		}
		// a kept-alive connection the server had closed: retry once fresh
		c.close()
	}
}

// try reports sent=true once the server may have seen the request on a
// fresh connection (so a retry would send it twice).
func (c *rawClient) try(method string, raw []byte) (Response, bool) {
	fresh := false
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return Response{Err: err}, true
		}
		c.conn, c.br, fresh = conn, bufio.NewReaderSize(conn, 64<<10), true
	}
	_ = c.conn.SetDeadline(time.Now().Add(requestTimeout))
	if _, err := c.conn.Write(raw); err != nil {
		return Response{Err: err}, fresh
	}
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		return Response{Err: err}, fresh || !errors.Is(err, io.EOF)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{Err: fmt.Errorf("reading body: %w", err)}, true
	}
	out := Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	if resp.Close {
		out.Header = out.Header.Clone()
		out.Header.Set("Connection", "close")
	}
	// Transfer-Encoding is consumed by ReadResponse; keep it visible.
	if len(resp.TransferEncoding) > 0 {
		out.Header = out.Header.Clone()
		for _, te := range resp.TransferEncoding {
			out.Header.Add("Transfer-Encoding", te)
		}
	}
	return out, true
}

func shouldClose(r Response) bool { return r.Header.Get("Connection") == "close" }
