package httpfast

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// echoFront serves a handler that answers "<parser> <method> <path> <body
// length> <body sha256 prefix>", reading the body as the real handlers do
// (readBody). The parser is "fast" for fasthttp and "slow" for requests
// net/http parsed (their context was made by the adapter: no local address).
func echoFront(t *testing.T) string {
	t.Helper()
	h := func(ctx *fasthttp.RequestCtx) {
		release, err := readBody(ctx, 64<<20)
		if err != nil {
			ctx.SetStatusCode(400)
			ctx.SetBodyString(err.Error())
			return
		}
		defer release()
		body := ctx.Request.Body()
		sum := sha256.Sum256(body)
		parser := "fast"
		if a, ok := ctx.LocalAddr().(*net.TCPAddr); ok && a.Port == 0 {
			parser = "slow" // the adapter's context has no real connection
		}
		fmt.Fprintf(ctx, "%s %s %s %d %x", parser, ctx.Method(), requestPath(ctx), len(body), sum[:4])
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := NewFront(h, 5*time.Second)
	go f.Serve(l)
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	return l.Addr().String()
}

func echoLine(parser, method, path string, body []byte) string {
	sum := sha256.Sum256(body)
	return fmt.Sprintf("%s %s %s %d %x", parser, method, path, len(body), sum[:4])
}

// exchange writes raw on one connection and reads n responses.
func exchange(t *testing.T, addr string, raw string, n int) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out []*http.Response
	for i := 0; i < n; i++ {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d of %d: %v", i+1, n, err)
		}
		if resp.StatusCode == http.StatusContinue {
			i--
			continue
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("response %d body: %v", i+1, err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		out = append(out, resp)
	}
	return out
}

func bodyOf(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

func TestFrontParsers(t *testing.T) {
	addr := echoFront(t)
	tricky := []byte("a\r\n\r\nb\n\nc\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n\r\n")
	bigHeader := strings.Repeat("v", 20<<10)
	tests := []struct {
		name string
		raw  string
		want []string // echo lines, in order
	}{
		{"keep-alive GETs", "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nDELETE /3 HTTP/1.1\r\nHost: x\r\n\r\n",
			[]string{echoLine("fast", "GET", "/1", nil), echoLine("fast", "GET", "/2", nil), echoLine("fast", "DELETE", "/3", nil)}},
		{"body with header-like bytes, then a request", "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: " + fmt.Sprint(len(tricky)) + "\r\n\r\n" + string(tricky) + "GET /next HTTP/1.1\r\nHost: x\r\n\r\n",
			[]string{echoLine("fast", "POST", "/up", tricky), echoLine("fast", "GET", "/next", nil)}},
		{"HTTP/1.0", "GET /old HTTP/1.0\r\n\r\n", []string{echoLine("fast", "GET", "/old", nil)}},
		{"Expect 100-continue", "PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
			[]string{echoLine("fast", "PUT", "/e", []byte("abc"))}},
		{"chunked, then a request", "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n",
			[]string{echoLine("fast", "POST", "/c", []byte("abcde")), echoLine("fast", "GET", "/after", nil)}},
		{"chunked, then bare LF", "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\nGET /lf HTTP/1.1\nHost: x\n\n",
			[]string{echoLine("fast", "POST", "/c", []byte("abc")), echoLine("slow", "GET", "/lf", nil)}},
		{"bare LF", "GET /lf HTTP/1.1\nHost: x\n\n", []string{echoLine("slow", "GET", "/lf", nil)}},
		{"bare LF ending only", "GET /lf2 HTTP/1.1\r\nHost: x\r\n\n", []string{echoLine("slow", "GET", "/lf2", nil)}},
		{"plain, then bare LF, then plain (net/http keeps the connection)", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\nHost: x\nContent-Length: 2\n\nhiGET /c HTTP/1.1\r\nHost: x\r\n\r\n",
			[]string{echoLine("fast", "GET", "/a", nil), echoLine("slow", "POST", "/b", []byte("hi")), echoLine("slow", "GET", "/c", nil)}},
		{"20 KB header", "GET /big HTTP/1.1\r\nHost: x\r\nX-Long: " + bigHeader + "\r\n\r\n", []string{echoLine("slow", "GET", "/big", nil)}},
		{"percent-encoded path", "GET /a%2Cb HTTP/1.1\r\nHost: x\r\n\r\n", []string{echoLine("fast", "GET", "/a,b", nil)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resps := exchange(t, addr, tc.raw, len(tc.want))
			for i, r := range resps {
				if r.StatusCode != 200 {
					t.Fatalf("response %d: %d %q", i, r.StatusCode, bodyOf(r))
				}
				if got := bodyOf(r); got != tc.want[i] {
					t.Fatalf("response %d: %q, want %q", i, got, tc.want[i])
				}
			}
		})
	}
}

// TestFrontRefusesAsNetHTTP: requests net/http refuses get net/http's own
// bytes, as upstream's clients see them.
func TestFrontRefusesAsNetHTTP(t *testing.T) {
	addr := echoFront(t)
	tests := []struct {
		name, raw, want string
	}{
		{"transfer-encoding identity", "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\nabc",
			"HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nUnsupported transfer encoding"},
		{"HTTP/9.9", "GET /x HTTP/9.9\r\nHost: x\r\n\r\n",
			"HTTP/1.1 505 HTTP Version Not Supported: unsupported protocol version\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n505 HTTP Version Not Supported: unsupported protocol version"},
		{"missing Host", "GET /x HTTP/1.1\r\n\r\n",
			"HTTP/1.1 400 Bad Request: missing required Host header\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: missing required Host header"},
		{"header over 1 MB", "GET /x HTTP/1.1\r\nHost: x\r\nX-Long: " + strings.Repeat("v", 1<<20+8192) + "\r\n\r\n",
			"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large"},
		{"space in target", "GET /a b/c HTTP/1.1\r\nHost: x\r\n\r\n",
			"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			go io.WriteString(c, tc.raw) // the server may answer before reading it all
			got, _ := io.ReadAll(c)
			if string(got) != tc.want {
				t.Fatalf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestFrontCutOffHeader: a client that stops mid-header and closes gets no
// hang: the connection ends.
func TestFrontCutOffHeader(t *testing.T) {
	addr := echoFront(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /x HTTP/1.1\r\nHost: x\r\nX-Half")
	c.(*net.TCPConn).CloseWrite()
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("connection did not end cleanly: %v", err)
	}
}

// TestFrontManyRequests runs plain and diverted connections side by side
// (with -race this checks the sniffer's handover and buffer ownership).
func TestFrontManyRequests(t *testing.T) {
	addr := echoFront(t)
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		go func(w int) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			br := bufio.NewReader(c)
			for i := 0; i < 200; i++ {
				body := bytes.Repeat([]byte{byte(w), byte(i)}, i*7)
				eol := "\r\n"
				parser := "fast"
				if w%2 == 1 && i >= 100 {
					eol, parser = "\n", "slow" // from the 100th request on, net/http's
				}
				req := fmt.Sprintf("POST /w%d/%d HTTP/1.1%sHost: x%sContent-Length: %d%s%s", w, i, eol, eol, len(body), eol, eol)
				if _, err := c.Write(append([]byte(req), body...)); err != nil {
					errs <- err
					return
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					errs <- fmt.Errorf("worker %d request %d: %v", w, i, err)
					return
				}
				got, _ := io.ReadAll(resp.Body)
				if want := echoLine(parser, "POST", fmt.Sprintf("/w%d/%d", w, i), body); string(got) != want {
					errs <- fmt.Errorf("worker %d request %d: %q, want %q", w, i, got, want)
					return
				}
			}
			errs <- nil
		}(w)
	}
	for w := 0; w < 8; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestFrontIdleTimeout: as upstream's -idleTimeout, a connection that moves
// no byte for the timeout is closed, a header that trickles in is cut off
// the timeout after its first byte, and a body that keeps moving is not
// cut however long it takes.
func TestFrontIdleTimeout(t *testing.T) {
	const idle = 700 * time.Millisecond
	h := func(ctx *fasthttp.RequestCtx) {
		release, err := readBody(ctx, 64<<20)
		if err != nil {
			ctx.SetStatusCode(400)
			return
		}
		defer release()
		fmt.Fprintf(ctx, "%d", len(ctx.Request.Body()))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := NewFront(h, idle)
	go f.Serve(l)
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	dial := func() net.Conn {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(20 * time.Second))
		return c
	}
	closedWithin := func(c net.Conn, d time.Duration) bool {
		start := time.Now()
		io.ReadAll(c)
		return time.Since(start) < d
	}

	t.Run("silent connection", func(t *testing.T) {
		if !closedWithin(dial(), 5*idle) {
			t.Fatal("a connection that sent nothing was kept")
		}
	})
	t.Run("trickling header", func(t *testing.T) {
		c := dial()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for _, b := range []byte("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa") {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(idle / 5)
			}
		}()
		if !closedWithin(c, 4*idle) {
			t.Fatal("a header trickling in for longer than the timeout was kept")
		}
		<-done
	})
	t.Run("slow but moving body", func(t *testing.T) {
		c := dial()
		body := bytes.Repeat([]byte("z"), 12)
		fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(body))
		for _, b := range body { // 12 x idle/3: four times the timeout in all
			time.Sleep(idle / 3)
			if _, err := c.Write([]byte{b}); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("a body that kept moving was cut: %v", err)
		}
		if got := bodyOf(resp); got != "12" {
			t.Fatalf("got %q", got)
		}
	})
}
