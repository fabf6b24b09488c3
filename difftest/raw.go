package difftest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// rawCase is a request only a hand-written client sends: its bytes go to
// both sides on a fresh connection, and every response that comes back
// before the connection ends (or rawWait passes) is compared.
type rawCase struct {
	name string
	raw  func(live, fresh *Entry) string
	// follow, when set, is a request compared right after (on the normal
	// connection), to see what the raw one stored.
	follow func(live, fresh *Entry) *Request
}

const rawWait = 3 * time.Second

func rawCases() []rawCase {
	get := func(fid, eol string) string {
		return "GET /" + fid + " HTTP/1.1" + eol + "Host: h" + eol + "Connection: close" + eol + eol
	}
	readBack := func(live, fresh *Entry) *Request { return &Request{Method: "GET", Target: "/" + fresh.Fid} }
	upload := func(fid, eol, extra, body string) string {
		return "POST /" + fid + " HTTP/1.1" + eol + "Host: h" + eol + "Content-Type: text/plain" + eol + extra +
			fmt.Sprintf("Content-Length: %d", len(body)) + eol + eol + body
	}
	long := func(n int) string { return strings.Repeat("x", n) }
	return []rawCase{
		{name: "Transfer-Encoding identity on a POST", raw: func(l, f *Entry) string {
			return "POST /" + f.Fid + " HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nTransfer-Encoding: identity\r\n\r\nnot stored"
		}, follow: readBack},
		{name: "Transfer-Encoding gzip", raw: func(l, f *Entry) string {
			return "POST /" + f.Fid + " HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\nabc"
		}, follow: readBack},
		{name: "bare LF GET", raw: func(l, f *Entry) string { return get(l.Fid, "\n") }},
		{name: "bare LF only at the end", raw: func(l, f *Entry) string {
			return "GET /" + l.Fid + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\n"
		}},
		{name: "bare LF upload", raw: func(l, f *Entry) string { return upload(f.Fid, "\n", "", "stored with bare LFs") }, follow: readBack},
		{name: "20 KB header on a GET", raw: func(l, f *Entry) string {
			return "GET /" + l.Fid + " HTTP/1.1\r\nHost: h\r\nX-Long: " + long(20<<10) + "\r\nConnection: close\r\n\r\n"
		}},
		{name: "long Content-Disposition on a raw PUT", raw: func(l, f *Entry) string {
			body := "named by a long header"
			return "PUT /" + f.Fid + " HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"" + long(30<<10) + ".txt\"\r\n" +
				fmt.Sprintf("Content-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
		}, follow: readBack},
		{name: "header just under 1 MB", raw: func(l, f *Entry) string {
			return "GET /" + l.Fid + " HTTP/1.1\r\nHost: h\r\nX-Long: " + long(1<<20-200) + "\r\nConnection: close\r\n\r\n"
		}},
		{name: "header over 1 MB", raw: func(l, f *Entry) string {
			return "GET /" + l.Fid + " HTTP/1.1\r\nHost: h\r\nX-Long: " + long(1<<20+8192) + "\r\n\r\n"
		}},
		{name: "HTTP/9.9", raw: func(l, f *Entry) string {
			return "GET /" + l.Fid + " HTTP/9.9\r\nHost: h\r\n\r\n"
		}},
		{name: "HTTP/1.0", raw: func(l, f *Entry) string { return "GET /" + l.Fid + " HTTP/1.0\r\n\r\n" }},
		{name: "HTTP/1.0 keep-alive", raw: func(l, f *Entry) string {
			return "GET /" + l.Fid + " HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /" + l.Fid + " HTTP/1.0\r\n\r\n"
		}},
		{name: "malformed version", raw: func(l, f *Entry) string { return "GET /" + l.Fid + " HTTP/1\r\nHost: h\r\n\r\n" }},
		{name: "no Host", raw: func(l, f *Entry) string { return "GET /" + l.Fid + " HTTP/1.1\r\n\r\n" }},
		{name: "two Hosts", raw: func(l, f *Entry) string { return "GET /" + l.Fid + " HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" }},
		{name: "space in the target", raw: func(l, f *Entry) string { return "GET /" + l.Fid + " x HTTP/1.1\r\nHost: h\r\n\r\n" }},
		{name: "bad percent-encoding", raw: func(l, f *Entry) string { return get(l.Fid+"%zz", "\r\n") }},
		{name: "absolute-form target", raw: func(l, f *Entry) string {
			return "GET http://h/" + l.Fid + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
		}},
		{name: "OPTIONS *", raw: func(l, f *Entry) string { return "OPTIONS * HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" }},
		{name: "lower-case method", raw: func(l, f *Entry) string {
			return "get /" + l.Fid + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
		}},
		{name: "two Content-Lengths", raw: func(l, f *Entry) string {
			return "POST /" + f.Fid + " HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
		}, follow: readBack},
		{name: "Content-Length and chunked", raw: func(l, f *Entry) string {
			return "POST /" + f.Fid + " HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
		}, follow: readBack},
		{name: "chunked upload with extension and trailer", raw: func(l, f *Entry) string {
			return "PUT /" + f.Fid + " HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
		}, follow: readBack},
		{name: "Expect 100-continue", raw: func(l, f *Entry) string {
			return upload(f.Fid, "\r\n", "Expect: 100-continue\r\nConnection: close\r\n", "expected")
		}, follow: readBack},
		{name: "unknown Expect", raw: func(l, f *Entry) string {
			return upload(f.Fid, "\r\n", "Expect: magic\r\n", "not expected")
		}, follow: readBack},
		{name: "pipelined GETs", raw: func(l, f *Entry) string {
			return "GET /" + l.Fid + " HTTP/1.1\r\nHost: h\r\n\r\nHEAD /" + l.Fid + " HTTP/1.1\r\nHost: h\r\n\r\n" + get(l.Fid, "\r\n")
		}},
		{name: "leading CRLF", raw: func(l, f *Entry) string { return "\r\n" + get(l.Fid, "\r\n") }},
		{name: "folded header", raw: func(l, f *Entry) string {
			return "GET /" + l.Fid + " HTTP/1.1\r\nHost: h\r\nX-A: one\r\n two\r\nConnection: close\r\n\r\n"
		}},
		{name: "space before colon", raw: func(l, f *Entry) string {
			return "GET /" + l.Fid + " HTTP/1.1\r\nHost: h\r\nX-A : one\r\nConnection: close\r\n\r\n"
		}},
		{name: "control byte in a value", raw: func(l, f *Entry) string {
			return "GET /" + l.Fid + " HTTP/1.1\r\nHost: h\r\nX-A: o\x01ne\r\nConnection: close\r\n\r\n"
		}},
		{name: "POST without a length", raw: func(l, f *Entry) string {
			return "POST /" + f.Fid + " HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
		}, follow: readBack},
		{name: "body cut short", raw: func(l, f *Entry) string {
			return "POST /" + f.Fid + " HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nonly this"
		}, follow: readBack},
	}
}

// RunRaw runs every raw case once.
func (h *Harness) RunRaw(phase string, seed uint64) {
	w := newWriter(seed^0x7a7a, h.Corpus)
	for _, rc := range rawCases() {
		live, fresh := w.live(), w.fresh()
		raw := rc.raw(live, fresh)
		req := &Request{Method: "RAW", Target: rc.name, Label: fmt.Sprintf("%.200q", raw)}
		if rc.follow != nil {
			// a case that writes: both sides stamp the needle with the
			// second it arrives in (its Last-Modified), as in RunWrites
			alignToSecond()
		}
		var up, wv exchange
		done := make(chan struct{})
		go func() { up = rawExchange(h.Up.Addr(), raw); close(done) }()
		wv = rawExchange(h.Wv.Addr(), raw)
		<-done
		h.Res.add(phase, req, compareExchanges(withoutSelfAll(up, h.Up.Addr()), withoutSelfAll(wv, h.Wv.Addr())), "")
		if rc.follow != nil {
			h.Do(phase+" (after "+rc.name+")", rc.follow(live, fresh))
		}
	}
}

// exchange is what one raw connection gave: the responses, and how it
// ended.
type exchange struct {
	resps []Response
	end   string // "closed", "timeout" or an error
}

func rawExchange(addr, raw string) exchange {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return exchange{end: err.Error()}
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(rawWait))
	go func() { _, _ = io.WriteString(c, raw) }() // a server may answer before reading it all
	br := bufio.NewReader(c)
	var ex exchange
	methods := requestMethods(raw)
	for i := 0; ; i++ {
		if _, err := br.Peek(1); err != nil {
			ex.end = endOf(err)
			return ex
		}
		m := "GET"
		if i < len(methods) {
			m = methods[i]
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: m})
		if err != nil {
			ex.end = "unreadable: " + endOf(err)
			return ex
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		r := Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
		if err != nil {
			r.Err = err
		}
		ex.resps = append(ex.resps, r)
		if resp.StatusCode == http.StatusContinue {
			i--
		}
	}
}

// requestMethods lists the methods of the requests in raw, in order (for
// reading HEAD answers right).
func requestMethods(raw string) []string {
	var out []string
	for _, line := range strings.Split(raw, "\n") {
		for _, m := range []string{"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS "} {
			if strings.HasPrefix(line, m) && strings.Contains(line, " HTTP/") {
				out = append(out, strings.TrimSpace(m))
			}
		}
	}
	return out
}

func endOf(err error) string {
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return "timeout (no more answers)"
	}
	if err == io.EOF {
		return "closed"
	}
	if strings.Contains(err.Error(), "connection reset") {
		return "reset"
	}
	return err.Error()
}

func withoutSelfAll(ex exchange, addr string) exchange {
	for i := range ex.resps {
		ex.resps[i] = withoutSelf(ex.resps[i], addr)
	}
	return ex
}

func compareExchanges(up, wv exchange) []Diff {
	var diffs []Diff
	if len(up.resps) != len(wv.resps) {
		diffs = append(diffs, Diff{"responses", fmt.Sprint(len(up.resps), " then ", up.end), fmt.Sprint(len(wv.resps), " then ", wv.end)})
	}
	for i := 0; i < min(len(up.resps), len(wv.resps)); i++ {
		for _, d := range compareResponses(up.resps[i], wv.resps[i]) {
			d.What = fmt.Sprintf("response %d: %s", i+1, d.What)
			diffs = append(diffs, d)
		}
	}
	if len(diffs) == 0 && up.end != wv.end && !(bytes.Contains([]byte(up.end+wv.end), []byte("reset"))) {
		diffs = append(diffs, Diff{"connection end", up.end, wv.end})
	}
	return diffs
}
