package httpfast

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sendHead opens a connection and sends a POST's headers and the first
// bytes of its body.
func sendHead(t *testing.T, url, path string, length int, first []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", path, length)
	if _, err := c.Write(first); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestUploadCountedWhileBodyArrives: an upload whose body is still
// arriving holds its bytes against -concurrentUploadLimitMB, so another
// upload times out with 429; once the body is in, it is stored whole.
func TestUploadCountedWhileBodyArrives(t *testing.T) {
	ts := newTestServerWith(t, func(c *Config) {
		c.ConcurrentUploadLimit = 1 << 20
		c.InflightUploadTimeout = 300 * time.Millisecond
	})
	data := bytes.Repeat([]byte("abcdefgh"), 2<<20/8)
	c := sendHead(t, ts.url, "/3,0a00000001", len(data), data[:1])
	time.Sleep(200 * time.Millisecond)

	resp, body := ts.do(t, "POST", "/3,0b00000002", bytes.NewReader([]byte("small")), map[string]string{"Content-Type": "application/octet-stream"})
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("upload during a 2 MB body in flight: %d %s, want 429", resp.StatusCode, body)
	}
	if _, err := c.Write(data[1:]); err != nil {
		t.Fatal(err)
	}
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("the slow upload: %d", r.StatusCode)
	}
	if resp, got := ts.do(t, "GET", "/3,0a00000001", nil, nil); resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("read back: %d, %d bytes", resp.StatusCode, len(got))
	}
	// and the limit is free again
	if resp, body := ts.do(t, "POST", "/3,0b00000002", bytes.NewReader([]byte("small")), map[string]string{"Content-Type": "text/plain"}); resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload after: %d %s", resp.StatusCode, body)
	}
}

func TestUploadBodyLimits(t *testing.T) {
	ts := newTestServerWith(t, func(c *Config) { c.FileSizeLimit = 1 << 20 })
	// a declared length past the limit is refused before the body is read
	c := sendHead(t, ts.url, "/3,0c00000003", 64<<20, []byte("x"))
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	var msg bytes.Buffer
	msg.ReadFrom(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(msg.String(), "file over the limited 1048576 bytes") {
		t.Fatalf("oversized: %d %s", r.StatusCode, msg.String())
	}
	// a body that breaks off stores nothing
	c = sendHead(t, ts.url, "/3,0d00000004", 100_000, bytes.Repeat([]byte("y"), 50_000))
	time.Sleep(100 * time.Millisecond)
	c.Close()
	time.Sleep(100 * time.Millisecond)
	if resp, _ := ts.do(t, "GET", "/3,0d00000004", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("cut-off upload was stored: %d", resp.StatusCode)
	}
	// chunked bodies are read whole
	req, _ := http.NewRequest("POST", ts.url+"/3,0e00000005", &chunkyReader{left: 300_000})
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("chunked upload: %d", resp.StatusCode)
	}
	if resp, got := ts.do(t, "GET", "/3,0e00000005", nil, nil); resp.StatusCode != 200 || len(got) != 300_000 {
		t.Fatalf("chunked read back: %d, %d bytes", resp.StatusCode, len(got))
	}
}

// chunkyReader yields left bytes without a known length (so the client
// sends them chunked).
type chunkyReader struct{ left int }

func (r *chunkyReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.left, 7000)
	for i := range p[:n] {
		p[i] = 'z'
	}
	r.left -= n
	return n, nil
}
