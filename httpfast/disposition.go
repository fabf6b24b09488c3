package httpfast

import "mime"

// appendDisposition appends the Content-Disposition value for disposition
// ("inline" or "attachment") and filename, byte for byte what
// mime.FormatMediaType(disposition, {"filename": filename}) returns (the
// form upstream sends), without allocating in the common cases: a token is
// written bare, anything else printable ASCII as a quoted string. Names that
// need RFC 2231 encoding (control or non-ASCII bytes) take the library path.
func appendDisposition(dst []byte, disposition string, filename []byte) []byte {
	quoted := false
	for i := 0; i < len(filename); i++ {
		c := filename[i]
		if (c < ' ' || c > '~') && c != '\t' {
			return append(dst, mime.FormatMediaType(disposition, map[string]string{"filename": string(filename)})...)
		}
		if !isTokenByte(c) {
			quoted = true
		}
	}
	dst = append(dst, disposition...)
	dst = append(dst, "; filename="...)
	if !quoted && len(filename) > 0 {
		return append(dst, filename...)
	}
	dst = append(dst, '"')
	for i := 0; i < len(filename); i++ {
		if c := filename[i]; c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, filename[i])
	}
	return append(dst, '"')
}

// isTokenByte reports whether c may appear in an RFC 2045 token.
func isTokenByte(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	switch c {
	case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=':
		return false
	}
	return true
}
