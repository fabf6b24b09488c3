package httpfast

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestClassifyBlock(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		kind    blockKind
		block   int // -1: all of in
		bodyLen int64
	}{
		{"GET", "GET /3,01637037d6 HTTP/1.1\r\nHost: h\r\n\r\n", blockPlain, -1, 0},
		{"GET, more to come", "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET", blockPlain, 27, 0},
		{"POST with length", "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n", blockPlain, -1, 12},
		{"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", blockPlain, -1, 0},
		{"empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", blockOdd, 0, 0},
		{"chunked", "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", blockChunked, -1, 0},
		{"incomplete", "GET / HTTP/1.1\r\nHost: h\r\n", blockIncomplete, 0, 0},
		{"incomplete request line", "GET / HT", blockIncomplete, 0, 0},
		{"bare LF", "GET / HTTP/1.1\nHost: h\n\n", blockOdd, 0, 0},
		{"bare LF at the end", "GET / HTTP/1.1\r\nHost: h\r\n\n", blockOdd, 0, 0},
		{"leading empty line", "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", blockOdd, 0, 0},
		{"HTTP/9.9", "GET / HTTP/9.9\r\nHost: h\r\n\r\n", blockOdd, 0, 0},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", blockOdd, 0, 0},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", blockOdd, 0, 0},
		{"identity", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", blockOdd, 0, 0},
		{"chunked and length", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", blockOdd, 0, 0},
		{"two lengths", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", blockOdd, 0, 0},
		{"signed length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\n", blockOdd, 0, 0},
		{"POST without length", "POST / HTTP/1.1\r\nHost: h\r\n\r\n", blockOdd, 0, 0},
		{"folded header", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", blockOdd, 0, 0},
		{"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", blockOdd, 0, 0},
		{"control byte in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n", blockOdd, 0, 0},
		{"odd Expect", "GET / HTTP/1.1\r\nHost: h\r\nExpect: magic\r\n\r\n", blockOdd, 0, 0},
		{"absolute target", "GET http://h/x HTTP/1.1\r\nHost: h\r\n\r\n", blockOdd, 0, 0},
		{"asterisk target", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", blockOdd, 0, 0},
		{"space in target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", blockOdd, 0, 0},
		{"too long", "GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("a", maxPlainBlock) + "\r\n\r\n", blockOdd, 0, 0},
		{"too long, incomplete", "GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("a", maxPlainBlock), blockOdd, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.block < 0 {
				tc.block = len(tc.in)
			}
			kind, block, body := classifyBlock([]byte(tc.in))
			if kind != tc.kind || block != tc.block || body != tc.bodyLen {
				t.Fatalf("classifyBlock = %d, %d, %d; want %d, %d, %d", kind, block, body, tc.kind, tc.block, tc.bodyLen)
			}
		})
	}
}

// FuzzClassifyBlock: whatever classifyBlock calls plain, fasthttp and
// net/http both parse, to the same end and the same body length; nothing
// panics.
func FuzzClassifyBlock(f *testing.F) {
	for _, s := range []string{
		"GET /3,01637037d6 HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
		"PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.0\r\nX-A: b\r\n\r\n",
		"DELETE /3,01 HTTP/1.1\r\nhost: h:8080\r\nAuthorization: Bearer x.y.z\r\n\r\n",
		"GET / HTTP/1.1\nHost: h\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, blockLen, bodyLen := classifyBlock(b)
		if kind != blockPlain && kind != blockChunked {
			return
		}
		block := b[:blockLen]
		var fh fasthttp.RequestHeader
		br := bufio.NewReader(bytes.NewReader(block))
		if err := fh.Read(br); err != nil {
			t.Fatalf("plain block %q: fasthttp: %v", block, err)
		}
		if br.Buffered() != 0 {
			t.Fatalf("plain block %q: fasthttp left %d bytes", block, br.Buffered())
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(block)))
		if err != nil {
			t.Fatalf("plain block %q: net/http: %v", block, err)
		}
		switch kind {
		case blockPlain:
			if fl := fh.ContentLength(); int64(max(fl, 0)) != bodyLen {
				t.Fatalf("plain block %q: body %d, fasthttp %d", block, bodyLen, fl)
			}
			if req.ContentLength != bodyLen {
				t.Fatalf("plain block %q: body %d, net/http %d", block, bodyLen, req.ContentLength)
			}
		case blockChunked:
			if fh.ContentLength() != -1 || len(req.TransferEncoding) != 1 {
				t.Fatalf("chunked block %q: fasthttp %d, net/http %v", block, fh.ContentLength(), req.TransferEncoding)
			}
		}
	})
}

func BenchmarkClassifyBlock(b *testing.B) {
	get := []byte("GET /3,01637037d6 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(get)))
	for i := 0; i < b.N; i++ {
		if k, _, _ := classifyBlock(get); k != blockPlain {
			b.Fatal(k)
		}
	}
}

func TestChunkScanner(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int // bytes of body consumed
		done bool
		lost bool
	}{
		{"two chunks", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nGET", 20, true, false},
		{"extension and trailer", "3;x=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", 25, true, false},
		{"upper-case hex", "A\r\n0123456789\r\n0\r\n\r\n", 20, true, false},
		{"incomplete", "10\r\nabc", 7, false, false},
		{"bare LF", "3\nabc", 1, false, true},
		{"not hex", "z\r\n", 0, false, true},
		{"no size", "\r\n", 0, false, true},
		{"data without CRLF", "1\r\naXY", 4, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c chunkScanner
			n, done, lost := c.scan([]byte(tc.in))
			if n != tc.n || done != tc.done || lost != tc.lost {
				t.Fatalf("scan = %d, %v, %v; want %d, %v, %v", n, done, lost, tc.n, tc.done, tc.lost)
			}
		})
	}
	// byte by byte gives the same end
	in := "5\r\nhello\r\n1;e\r\n!\r\n0\r\nT: v\r\n\r\n"
	var c chunkScanner
	for i := 0; i < len(in); i++ {
		n, done, lost := c.scan([]byte{in[i]})
		if n != 1 || lost || done != (i == len(in)-1) {
			t.Fatalf("byte %d: %d %v %v", i, n, done, lost)
		}
	}
}

// FuzzChunkScanner: where chunkScanner says a chunked body ends, fasthttp
// reads the request with that body to exactly there.
func FuzzChunkScanner(f *testing.F) {
	for _, s := range []string{"3\r\nabc\r\n0\r\n\r\n", "1;a=b\r\nx\r\n0\r\nT: 1\r\n\r\n", "0\r\n\r\n", "ff\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c chunkScanner
		n, done, _ := c.scan(b)
		if n > len(b) {
			t.Fatalf("consumed %d of %d", n, len(b))
		}
		if !done {
			return
		}
		raw := append([]byte("PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"), b[:n]...)
		var req fasthttp.Request
		br := bufio.NewReader(bytes.NewReader(raw))
		if err := req.Read(br); err != nil {
			t.Fatalf("body %q: fasthttp: %v", b[:n], err)
		}
		if br.Buffered() != 0 {
			t.Fatalf("body %q: fasthttp left %d bytes", b[:n], br.Buffered())
		}
	})
}
