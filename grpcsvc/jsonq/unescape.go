package jsonq

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// unescape decodes the escapes of a string's inner text as gjson does:
// the standard JSON escapes and \uXXXX (surrogate pairs joined); it stops,
// keeping what it decoded so far, at a control byte, an unknown escape or a
// truncated one.
func unescape(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' {
			break
		}
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		switch s[i] {
		case '\\', '/', '"':
			out = append(out, s[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+5 > len(s) {
				return string(out)
			}
			r := hexRune(s[i+1 : i+5])
			i += 5
			if utf16.IsSurrogate(r) && len(s)-i >= 6 && s[i] == '\\' && s[i+1] == 'u' {
				r = utf16.DecodeRune(r, hexRune(s[i+2:i+6]))
				i += 6
			}
			out = utf8.AppendRune(out, r)
			i-- // the loop steps past the last byte read
		default:
			return string(out)
		}
	}
	return string(out)
}

// hexRune reads four hex digits; anything else reads as 0.
func hexRune(s string) rune {
	n, _ := strconv.ParseUint(s, 16, 64)
	return rune(n)
}
