package httpfast

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// writeJSON renders obj as upstream's writeJson does: indented when the
// query has a non-empty "pretty", with nosniff, and no body for statuses
// that cannot carry one.
func writeJSON(ctx *fasthttp.RequestCtx, status int, obj any) {
	b, err := json.Marshal(obj)
	if err != nil {
		ctx.SetStatusCode(status)
		return
	}
	writeJSONBody(ctx, status, b)
}

// writeJSONBody replies with status and the compact JSON document b,
// indented when the request asks for ?pretty. b may be scratch memory: it
// is copied into the response.
func writeJSONBody(ctx *fasthttp.RequestCtx, status int, b []byte) {
	ctx.SetStatusCode(status)
	if status == fasthttp.StatusNoContent || status == fasthttp.StatusNotModified || status < 200 {
		return
	}
	ctx.Response.Header.SetContentType("application/json")
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	if len(ctx.QueryArgs().Peek("pretty")) > 0 {
		var indented bytes.Buffer
		if json.Indent(&indented, b, "", "  ") == nil {
			b = indented.Bytes()
		}
	}
	ctx.SetBody(b)
}

// writeJSONError writes {"error": msg}.
func writeJSONError(ctx *fasthttp.RequestCtx, status int, msg string) {
	writeJSON(ctx, status, map[string]string{"error": msg})
}

const hexUpper = "0123456789ABCDEF"

// setRequestID gives the reply a fresh server-generated x-amz-request-id:
// the time in ns and 32 random bits in upper-case hex, as upstream does.
func (s *Server) setRequestID(ctx *fasthttp.RequestCtx) {
	var buf [24]byte
	b := strconv.AppendUint(buf[:0], uint64(time.Now().UnixNano()), 16)
	for i := range b {
		if b[i] >= 'a' {
			b[i] -= 'a' - 'A'
		}
	}
	r := rand.Uint32()
	for i := 28; i >= 0; i -= 4 {
		b = append(b, hexUpper[(r>>uint(i))&15])
	}
	ctx.Response.Header.SetBytesV("x-amz-request-id", b)
}

// appendUploadResult appends the upload reply, byte for byte what
// json.Marshal gives for uploadResult{Name: name, Size: size, ETag: the
// checksum as 8 lower-case hex digits, Mime: mime, ContentMd5: md5}, with
// no allocation for names and types that need no escaping.
func appendUploadResult(dst, name []byte, size, checksum uint32, mime []byte, md5 string) []byte {
	dst = append(dst, '{')
	first := true
	field := func(key string) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(append(append(dst, '"'), key...), `":`...)
	}
	if len(name) > 0 {
		field("name")
		dst = appendJSONString(dst, name)
	}
	if size != 0 {
		field("size")
		dst = strconv.AppendUint(dst, uint64(size), 10)
	}
	field("eTag")
	const hexLower = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 28; i >= 0; i -= 4 {
		dst = append(dst, hexLower[(checksum>>uint(i))&15])
	}
	dst = append(dst, '"')
	if len(mime) > 0 {
		field("mime")
		dst = appendJSONString(dst, mime)
	}
	if md5 != "" {
		field("contentMd5")
		dst = appendJSONString(dst, []byte(md5))
	}
	return append(dst, '}')
}

// appendJSONString appends s as encoding/json writes a string. Printable
// ASCII other than the characters json escapes is copied as is; anything
// else takes the library path.
func appendJSONString(dst, s []byte) []byte {
	for _, c := range s {
		if c < ' ' || c > '~' || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(string(s))
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
