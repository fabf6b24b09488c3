package httpfast

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"testing"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
)

// rawGetter sends GETs over one keep-alive connection and discards the
// bodies through a fixed buffer, so that it allocates nothing per request
// and a benchmark's allocation figures are the server's.
type rawGetter struct {
	conn net.Conn
	r    *bufio.Reader
	req  []byte
	buf  []byte
}

func newRawGetter(tb testing.TB, addr, path string) *rawGetter {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return &rawGetter{
		conn: c,
		r:    bufio.NewReaderSize(c, 64<<10),
		req:  []byte("GET " + path + " HTTP/1.1\r\nHost: bench\r\n\r\n"),
		buf:  make([]byte, 256<<10),
	}
}

// get returns the status and the body length.
func (g *rawGetter) get() (status int, n int64, err error) {
	if _, err := g.conn.Write(g.req); err != nil {
		return 0, 0, err
	}
	length := int64(-1)
	for first := true; ; first = false {
		line, err := g.r.ReadSlice('\n')
		if err != nil {
			return 0, 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if first {
			if len(line) < 12 {
				return 0, 0, fmt.Errorf("bad status line %q", line)
			}
			status, _ = strconv.Atoi(string(line[9:12]))
			continue
		}
		if len(line) == 0 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			length, _ = strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		}
	}
	if length < 0 {
		return status, 0, fmt.Errorf("no Content-Length")
	}
	for n < length {
		m, err := g.r.Read(g.buf[:min(int64(len(g.buf)), length-n)])
		n += int64(m)
		if err != nil {
			return status, n, err
		}
	}
	return status, n, nil
}

// BenchmarkGet measures GET of stored needles through the real server over
// loopback. B/op and allocs/op are the server's (the client allocates
// nothing per request): small needles are read into the response's pooled
// buffer, large ones are sent from the file without being buffered, so an
// 8 MB GET allocates nowhere near 8 MB.
func BenchmarkGet(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10, 1 << 20, 8 << 20} {
		b.Run(sizeLabel(size), func(b *testing.B) {
			ts := newTestServer(b)
			v, _ := ts.store.Volume(3)
			// as a raw POST stores it: named after the fid, with a time
			n := needle.Needle{ID: 0x99, Cookie: 0x12345678, Data: bytes.Repeat([]byte{'x'}, size)}
			n.SetName([]byte("3,9912345678"))
			n.SetMime([]byte("application/octet-stream"))
			n.SetLastModified(1764000000)
			if _, err := v.Write(&n, engine.WriteOptions{}); err != nil {
				b.Fatal(err)
			}
			g := newRawGetter(b, ts.url[len("http://"):], "/3,9912345678")
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				status, got, err := g.get()
				if err != nil || status != 200 || got != int64(size) {
					b.Fatalf("get: %d, %d bytes, %v", status, got, err)
				}
			}
		})
	}
}

func sizeLabel(n int) string {
	if n >= 1<<20 {
		return strconv.Itoa(n>>20) + "MB"
	}
	return strconv.Itoa(n>>10) + "KB"
}

// BenchmarkUpload measures raw-body POSTs of new needles through the real
// server over loopback (streamed request body, group-committed append).
// B/op and allocs/op are the server's plus a few of the client's header
// formatting.
func BenchmarkUpload(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10, 1 << 20} {
		b.Run(sizeLabel(size), func(b *testing.B) {
			ts := newTestServer(b)
			data := bytes.Repeat([]byte{'u'}, size)
			c, err := net.Dial("tcp", ts.url[len("http://"):])
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			r := bufio.NewReaderSize(c, 64<<10)
			head := []byte("POST /3,")
			tail := []byte(" HTTP/1.1\r\nHost: bench\r\nContent-Type: application/octet-stream\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\n")
			req := make([]byte, 0, 256+size)
			fid := make([]byte, 0, 32)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				fid = needle.FormatKeyCookie(fid[:0], uint64(i)+1, 0x12345678)
				req = append(append(append(append(req[:0], head...), fid...), tail...), data...)
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				status, err := readStatusAndSkip(r)
				if err != nil || status != 201 {
					b.Fatalf("upload %d: status %d, %v", i, status, err)
				}
			}
		})
	}
}

// readStatusAndSkip reads one response with a Content-Length body and
// returns its status.
func readStatusAndSkip(r *bufio.Reader) (int, error) {
	status, length := 0, -1
	for first := true; ; first = false {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if first {
			if len(line) >= 12 {
				status, _ = strconv.Atoi(string(line[9:12]))
			}
			continue
		}
		if len(line) == 0 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if length < 0 {
		return status, fmt.Errorf("no Content-Length")
	}
	_, err := r.Discard(length)
	return status, err
}
