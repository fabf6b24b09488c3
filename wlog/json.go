package wlog

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// appendJSON appends upstream's -log_json line:
// {"ts":"<RFC 3339, ns, UTC>","level":"INFO","file":"f.go","line":N,"msg":"..."}
func appendJSON(b []byte, s Severity, t time.Time, file string, line int, msg string) []byte {
	b = append(b, `{"ts":"`...)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"`...)
	b = append(b, severityNames[s]...)
	b = append(b, `","file":"`...)
	b = appendJSONEscaped(b, file)
	b = append(b, `","line":`...)
	b = strconv.AppendInt(b, int64(line), 10)
	b = append(b, `,"msg":"`...)
	b = appendJSONEscaped(b, msg)
	return append(b, "\"}\n"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONEscaped appends s as the inside of a JSON string: quotes,
// backslashes and control characters escaped, invalid UTF-8 as U+FFFD.
func appendJSONEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		i++
	}
	return b
}
