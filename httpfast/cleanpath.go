package httpfast

import (
	"bytes"
	"net"
	"net/url"
	"path"
	"strings"

	"github.com/valyala/fasthttp"
)

// Request paths reach the handlers as upstream's reach its handlers through
// net/http's ServeMux: percent-decoded, and never with a "//" or a dot
// segment. ServeMux answers such a path with a 307 to its cleaned form
// before any handler runs (so a write to "//3,01637037d6" stores nothing),
// and net/http refuses a request-target it cannot parse with a bare 400.
// The server runs fasthttp with path normalisation off so that these
// paths can be seen and answered the same way.

// routePath applies ServeMux's path rules to the request. It reports false
// when it has answered the request itself; otherwise requestPath is the
// path the handlers parse.
//
// The common path (no '%', no "//", no dot segment) costs one scan and
// allocates nothing.
func routePath(ctx *fasthttp.RequestCtx) bool {
	raw := ctx.Request.URI().PathOriginal()
	if !needsCleaning(raw) && bytes.IndexByte(raw, '%') < 0 {
		return true
	}
	u, err := url.ParseRequestURI(string(ctx.Request.Header.RequestURI()))
	if err != nil {
		badRequestAndClose(ctx)
		return false
	}
	escaped := u.EscapedPath()
	if clean := muxCleanPath(escaped); clean != escaped {
		loc := (&url.URL{Path: clean, RawQuery: u.RawQuery}).String()
		redirect(ctx, loc, fasthttp.StatusTemporaryRedirect)
		return false
	}
	return true
}

// requestPath is the request's path as upstream's handlers see it
// (net/http's URL.Path): the raw path, percent-decoded. fasthttp's own
// ctx.Path() also cleans it, which would hide what routePath answers.
// Past routePath the raw path has no "//" or dot segment and decodes
// without error. The result aliases the request unless the path has a
// '%' (then it is a fresh copy).
func requestPath(ctx *fasthttp.RequestCtx) []byte {
	raw := ctx.Request.URI().PathOriginal()
	if bytes.IndexByte(raw, '%') < 0 {
		if len(raw) == 0 {
			return slash
		}
		return raw
	}
	p, err := url.PathUnescape(string(raw))
	if err != nil {
		return raw
	}
	return []byte(p)
}

// needsCleaning reports whether p has a "//" or a "." or ".." segment, or
// does not start with '/'.
func needsCleaning(p []byte) bool {
	if len(p) == 0 || p[0] != '/' {
		return true
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		rest := p[i+1:]
		switch {
		case len(rest) > 0 && rest[0] == '/':
			return true
		case len(rest) > 0 && rest[0] == '.':
			seg := rest
			if j := bytes.IndexByte(rest, '/'); j >= 0 {
				seg = rest[:j]
			}
			if len(seg) == 1 || (len(seg) == 2 && seg[1] == '.') {
				return true
			}
		}
	}
	return false
}

// muxCleanPath is ServeMux's canonical form of a path: path.Clean with a
// trailing slash kept.
func muxCleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// redirect answers as net/http's Redirect does for a path-only target:
// the target cleaned again (keeping a trailing slash), non-ASCII bytes
// escaped in Location, and a short HTML body for GET.
func redirect(ctx *fasthttp.RequestCtx, target string, status int) {
	if target == "" || target[0] == '/' {
		q := ""
		if i := strings.IndexByte(target, '?'); i >= 0 {
			target, q = target[:i], target[i:]
		}
		trailing := strings.HasSuffix(target, "/")
		target = path.Clean(target)
		if trailing && !strings.HasSuffix(target, "/") {
			target += "/"
		}
		target += q
	}
	h := &ctx.Response.Header
	h.Set("Location", hexEscapeNonASCII(target))
	if ctx.IsGet() || ctx.IsHead() {
		h.SetContentType("text/html; charset=utf-8")
	}
	ctx.SetStatusCode(status)
	if ctx.IsGet() {
		ctx.SetBodyString("<a href=\"" + htmlEscaper.Replace(target) + "\">" + fasthttp.StatusMessage(status) + "</a>.\n\n")
	}
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;")

func hexEscapeNonASCII(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 {
			b.WriteByte('%')
			b.WriteByte(hexUpper[c>>4])
			b.WriteByte(hexUpper[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// badRequestAndClose writes, byte for byte, net/http's answer to a request
// it cannot parse, and closes the connection.
func badRequestAndClose(ctx *fasthttp.RequestCtx) {
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(c net.Conn) {
		_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"))
	})
}
