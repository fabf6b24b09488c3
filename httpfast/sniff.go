package httpfast

import "bytes"

// A request's header block is classified before fasthttp reads it (see
// front.go): a plain one, which fasthttp parses exactly as net/http would,
// goes to fasthttp; any other goes, with the rest of its connection, to
// net/http itself, the parser upstream runs. So fasthttp serves the common
// case fast, and every request net/http would parse differently (bare LF
// line ends, headers over fasthttp's buffer, transfer codings other than
// chunked, HTTP versions other than 1.0 and 1.1, a missing or repeated Host,
// unusual Expect, obsolete line folding, control bytes, ...) gets
// upstream's answer because upstream's parser gives it.

// blockKind is what classifyBlock found.
type blockKind int

const (
	// blockIncomplete: no end of the header block yet.
	blockIncomplete blockKind = iota
	// blockPlain: fasthttp may parse it; a body of bodyLen bytes follows.
	blockPlain
	// blockChunked: plain, with a chunked body, which chunkScanner follows
	// to find the next request.
	blockChunked
	// blockOdd: net/http must parse it.
	blockOdd
)

// maxPlainBlock is the largest header block handed to fasthttp: well
// inside its read buffer (FastServer's ReadBufferSize), which caps the
// headers it can parse. Larger ones go to net/http, which takes up to
// upstream's 1 MB.
const maxPlainBlock = 8 << 10

// classifyBlock looks at the start of a request, b, and returns the kind of
// its header block, its length including the empty line that ends it, and
// for a plain block the length of the body that follows.
//
// A block is plain when every line ends in CRLF with no other CR, the
// request line is "<token> /<target> HTTP/1.1" (or 1.0) with single spaces
// and a target of visible ASCII, every header line is "<token>:<value>"
// with no control byte but HTAB in the value, and the framing headers are
// unambiguous: Host once (HTTP/1.1 requires it), Content-Length at most
// once and all digits, Transfer-Encoding only as a lone "chunked" on
// HTTP/1.1 without Content-Length, Expect only "100-continue", and a POST
// or PUT states its length one of the two ways. Anything else is odd, as
// is a block longer than maxPlainBlock.
func classifyBlock(b []byte) (kind blockKind, blockLen int, bodyLen int64) {
	end := headerEnd(b)
	if end < 0 {
		if len(b) > maxPlainBlock {
			return blockOdd, 0, 0
		}
		return blockIncomplete, 0, 0
	}
	if end > maxPlainBlock {
		return blockOdd, 0, 0
	}
	block := b[:end]
	if !bytes.HasSuffix(block, crlfEnd) {
		return blockOdd, 0, 0 // ends in a bare LF, which fasthttp does not see
	}
	nl := bytes.IndexByte(block, '\n')
	method, http11, ok := requestLine(block[:nl+1])
	if !ok {
		return blockOdd, 0, 0
	}
	var hosts, lengths, encodings int
	chunked := false
	bodyLen = 0
	for rest := block[nl+1:]; len(rest) > 2; {
		i := bytes.IndexByte(rest, '\n')
		line := rest[:i+1]
		rest = rest[i+1:]
		name, value, ok := headerLine(line)
		if !ok {
			return blockOdd, 0, 0
		}
		switch {
		case asciiEqualFold(name, "host"):
			hosts++
			if !validHost(value) {
				return blockOdd, 0, 0
			}
		case asciiEqualFold(name, "content-length"):
			lengths++
			n, ok := parseDigits(trimOWS(value))
			if !ok {
				return blockOdd, 0, 0
			}
			bodyLen = n
		case asciiEqualFold(name, "transfer-encoding"):
			encodings++
			chunked = asciiEqualFold(trimOWS(value), "chunked")
		case asciiEqualFold(name, "expect"):
			if !asciiEqualFold(trimOWS(value), "100-continue") {
				return blockOdd, 0, 0
			}
		}
	}
	switch {
	case hosts > 1 || (http11 && hosts == 0):
		return blockOdd, 0, 0
	case lengths > 1 || encodings > 1:
		return blockOdd, 0, 0
	case encodings == 1:
		if !chunked || !http11 || lengths > 0 {
			return blockOdd, 0, 0
		}
		return blockChunked, end, 0
	case lengths == 0 && (method == "POST" || method == "PUT"):
		// net/http reads no body here; fasthttp's reading differs
		return blockOdd, 0, 0
	}
	return blockPlain, end, bodyLen
}

var crlfEnd = []byte("\n\r\n")

// headerEnd returns the length of the header block at the start of b, up
// to and including the empty line that ends it, or -1 when b holds no end
// yet. Line ends are LF with an optional CR, as net/http reads them, so a
// block with bare LFs ends where net/http says it does (and is then odd).
func headerEnd(b []byte) int {
	at := 0
	for first := true; ; first = false {
		i := bytes.IndexByte(b[at:], '\n')
		if i < 0 {
			return -1
		}
		line := b[at : at+i]
		at += i + 1
		if !first && (len(line) == 0 || (len(line) == 1 && line[0] == '\r')) {
			return at
		}
		if first && (len(line) == 0 || (len(line) == 1 && line[0] == '\r')) {
			return at // a leading empty line: odd, net/http decides
		}
	}
}

// requestLine checks "<method> <target> HTTP/1.x\r\n".
func requestLine(line []byte) (method string, http11, ok bool) {
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return "", false, false
	}
	line = line[:len(line)-2]
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return "", false, false
	}
	m := line[:sp1]
	for _, c := range m {
		if !isTokenChar(c) {
			return "", false, false
		}
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 || rest[0] != '/' {
		return "", false, false
	}
	for _, c := range rest[:sp2] {
		if c <= ' ' || c >= 0x7f {
			return "", false, false
		}
	}
	switch string(rest[sp2+1:]) {
	case "HTTP/1.1":
		http11 = true
	case "HTTP/1.0":
	default:
		return "", false, false
	}
	switch string(m) { // no allocation: only the matched constants escape
	case "GET":
		method = "GET"
	case "HEAD":
		method = "HEAD"
	case "POST":
		method = "POST"
	case "PUT":
		method = "PUT"
	case "DELETE":
		method = "DELETE"
	default:
		method = "other"
	}
	return method, http11, true
}

// headerLine splits "<name>:<value>\r\n".
func headerLine(line []byte) (name, value []byte, ok bool) {
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, nil, false
	}
	line = line[:len(line)-2]
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return nil, nil, false
	}
	name = line[:colon]
	for _, c := range name {
		if !isTokenChar(c) {
			return nil, nil, false
		}
	}
	value = line[colon+1:]
	for _, c := range value {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return nil, nil, false
		}
	}
	return name, value, true
}

// tokenChars marks RFC 9110's tchar.
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isTokenChar(c byte) bool { return tokenChars[c] }

// validHost accepts the bytes net/http's Host check does, conservatively.
func validHost(v []byte) bool {
	v = trimOWS(v)
	if len(v) == 0 {
		return false // net/http takes it, fasthttp refuses it
	}
	for _, c := range v {
		if !(isTokenChar(c) || c == ':' || c == '[' || c == ']' || c == '@' || c == '(' || c == ')' || c == ',' || c == ';' || c == '=') {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// parseDigits parses 1 to 18 decimal digits.
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// asciiEqualFold compares b with the lower-case ASCII s, ignoring case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// chunkScanner follows a chunked body as it passes, so that the sniffer
// knows where the next request starts. It accepts only the strict form
// ("<hex>[;ext]\r\n<data>\r\n" ..., "0\r\n", trailer lines, "\r\n"); on
// anything else it gives up (lost), and the connection is then left to
// fasthttp alone.
type chunkScanner struct {
	state   int
	size    uint64 // the chunk size being read, or data bytes left
	lineLen int    // bytes of the current size or trailer line
	inExt   bool   // past the ';' of a size line, or the ':' of a trailer
}

const (
	csSize = iota
	csSizeLF
	csData
	csDataCR
	csDataLF
	csTrailer
	csTrailerLF
	csDone
	csLost
)

func (c *chunkScanner) reset() { *c = chunkScanner{} }

// scan consumes the body bytes at the start of b and returns how many
// there are; done once the body's last byte is consumed, lost when the
// framing is not the strict form.
func (c *chunkScanner) scan(b []byte) (n int, done, lost bool) {
	for n < len(b) {
		ch := b[n]
		switch c.state {
		case csSize:
			c.lineLen++
			switch {
			case c.lineLen > 4096:
				c.state = csLost
			case ch == '\n' || (ch < ' ' && ch != '\t' && ch != '\r'):
				c.state = csLost
			case ch == '\r':
				if c.lineLen == 1 {
					c.state = csLost // no digits
				} else {
					c.state = csSizeLF
				}
			case c.inExt:
			case ch == ';':
				c.inExt = c.lineLen > 1
				if !c.inExt {
					c.state = csLost
				}
			default:
				d, ok := hexDigit(ch)
				if !ok || c.size > 1<<56 {
					c.state = csLost
				}
				c.size = c.size<<4 | uint64(d)
			}
		case csSizeLF:
			if ch != '\n' {
				c.state = csLost
				break
			}
			c.lineLen, c.inExt = 0, false
			if c.size == 0 {
				c.state = csTrailer
			} else {
				c.state = csData
			}
		case csData:
			k := int(min(uint64(len(b)-n), c.size))
			c.size -= uint64(k)
			n += k
			if c.size == 0 {
				c.state = csDataCR
			}
			continue
		case csDataCR:
			if ch != '\r' {
				c.state = csLost
				break
			}
			c.state = csDataLF
		case csDataLF:
			if ch != '\n' {
				c.state = csLost
				break
			}
			c.state = csSize
		case csTrailer:
			// a trailer line is a header line: a token, ':', a value
			c.lineLen++
			switch {
			case c.lineLen > 4096 || ch == '\n':
				c.state = csLost
			case ch == '\r':
				if c.lineLen > 1 && !c.inExt {
					c.state = csLost // no colon
				} else {
					c.state = csTrailerLF
				}
			case c.inExt: // past the colon
				if ch < ' ' && ch != '\t' || ch == 0x7f {
					c.state = csLost
				}
			case ch == ':':
				c.inExt = c.lineLen > 1
				if !c.inExt {
					c.state = csLost
				}
			case !isTokenChar(ch):
				c.state = csLost
			}
		case csTrailerLF:
			if ch != '\n' {
				c.state = csLost
				break
			}
			if c.lineLen == 1 {
				c.state = csDone
				return n + 1, true, false
			}
			c.lineLen, c.inExt, c.state = 0, false, csTrailer
		}
		if c.state == csLost {
			return n, false, true
		}
		n++
	}
	return n, false, false
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
