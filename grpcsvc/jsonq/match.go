package jsonq

import "unicode/utf8"

// matchWork bounds the work of one Match, in steps per byte of the
// string: a pattern of many stars against a long string would otherwise
// take exponential time. A match that runs out counts as no match (upstream
// does not bound it; gjson's own wildcard keys use the same bound).
const matchWork = 10000

// Match reports whether str matches the wildcard pattern as upstream's
// '%' operand does (tidwall/match.Match): '*' matches any run of
// characters, '?' one character (a UTF-8 rune, or one invalid byte), '\'
// makes the next character literal, and every other character matches
// itself. A pattern ending in a lone '\' matches nothing, except after a
// star, where, as upstream, the trailing characters are compared from the
// end first and a lone '\' is then a literal backslash.
func Match(str, pattern string) bool {
	if pattern == "*" {
		return true
	}
	steps := 0
	return globMatch(str, pattern, len(str)*matchWork, &steps) == globMatched
}

type globResult int

const (
	globFailed globResult = iota
	globMatched
	globStopped
)

func globMatch(str, pat string, limit int, steps *int) globResult {
	if *steps > limit {
		return globStopped
	}
	*steps++
	for len(pat) > 0 {
		pc, pn := decodeRune(pat)
		sc, sn := decodeRune(str)
		switch pc {
		case '?':
			if sn == 0 {
				return globFailed
			}
			str, pat = str[sn:], pat[pn:]
			continue
		case '*':
			for len(pat) > 1 && pat[1] == '*' {
				pat = pat[1:]
			}
			if len(pat) == 1 {
				return globMatched
			}
			var ok bool
			if str, pat, ok = trimSuffix(str, pat); !ok {
				return globFailed
			}
			if len(pat) == 1 {
				return globMatched
			}
			// the star takes nothing more, or one more character
			if r := globMatch(str, pat[1:], limit, steps); r != globFailed {
				return r
			}
			if str == "" {
				return globFailed
			}
			_, sn = decodeRune(str)
			str = str[sn:]
			continue
		}
		if sn == 0 {
			return globFailed
		}
		if pc == '\\' {
			pat = pat[pn:]
			if pc, pn = decodeRune(pat); pn == 0 {
				return globFailed
			}
		}
		if sc != pc {
			return globFailed
		}
		str, pat = str[sn:], pat[pn:]
	}
	if str == "" {
		return globMatched
	}
	return globFailed
}

// trimSuffix compares the characters after pat's last star (pat starts
// with a star and is longer than one byte) with the end of str, from the
// end, and drops the matching ones from both. A character is escaped when
// an odd run of backslashes precedes it. ok is false on a mismatch.
func trimSuffix(str, pat string) (string, string, bool) {
	for len(str) > 0 && len(pat) > 1 {
		pc, pn := utf8.DecodeLastRuneInString(pat)
		run := 0
		for pat[len(pat)-pn-run-1] == '\\' {
			run++
		}
		esc := run%2 == 1
		if esc {
			pn++
		}
		if pc == '*' && !esc {
			break
		}
		sc, sn := utf8.DecodeLastRuneInString(str)
		if !(pc == '?' && !esc) && pc != sc {
			return str, pat, false
		}
		str, pat = str[:len(str)-sn], pat[:len(pat)-pn]
	}
	return str, pat, true
}

// decodeRune decodes the first character of s: an ASCII byte as itself,
// else a UTF-8 rune (RuneError, size 1, for an invalid byte); size 0 for
// an empty s.
func decodeRune(s string) (rune, int) {
	if s == "" {
		return 0, 0
	}
	if s[0] < utf8.RuneSelf {
		return rune(s[0]), 1
	}
	return utf8.DecodeRuneInString(s)
}
