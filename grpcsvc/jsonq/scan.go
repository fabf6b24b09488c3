package jsonq

import "strconv"

// The scanners below walk JSON text the lenient way upstream's evaluator
// (tidwall/gjson, which weed/query/json calls) does: nothing is validated,
// bytes that cannot start a value are stepped over, and a value ends where
// its first byte's kind says it ends. On well-formed JSON this is plain JSON;
// on anything else it gives the answers gjson gives for the same bytes, so
// a needle that is not JSON matches what it matches upstream.

// Type is the kind of a value, numbered as gjson numbers its types.
type Type int

const (
	Null Type = iota
	False
	Number
	String
	True
	JSON // an object or an array
)

// Value is one value found in JSON text. Raw is its text as written (a
// string with its quotes and escapes); Str is a string's unescaped text;
// Num a number's value.
type Value struct {
	Type Type
	Raw  string
	Str  string
	Num  float64
}

// Exists reports whether the value was found: a missing value is a Null
// with no text (a null literal has the text "null").
func (v Value) Exists() bool { return v.Type != Null || v.Raw != "" }

// Each calls fn with every top-level value of data in turn, JSON lines or
// one document alike, until fn returns false: gjson.ForEachLine. Bytes
// between values that cannot start one (commas, garbage) are skipped; an
// unterminated string ends the walk.
func Each(data string, fn func(Value) bool) {
	for i := 0; ; {
		var v Value
		i, v = nextValue(data, i)
		if !v.Exists() || !fn(v) {
			return
		}
	}
}

// nextValue returns the first value at or after i and where it ends; a
// zero Value when there is none.
func nextValue(s string, i int) (int, Value) {
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '{' || c == '[':
			end := squashEnd(s, i)
			return end, Value{Type: JSON, Raw: s[i:min(end, len(s))]}
		case c == '"':
			end, esc, ok := stringEnd(s, i+1)
			if !ok {
				return end, Value{}
			}
			return end, stringValue(s[i:end], esc)
		case c == 'n' && i+1 < len(s) && s[i+1] != 'u', startsNumber(c):
			end := numberEnd(s, i)
			return end, numberValue(s[i:end])
		case c == 'n' || c == 't' || c == 'f':
			end := literalEnd(s, i)
			return end, literalValue(s[i:end])
		}
	}
	return i, Value{}
}

// startsNumber reports the bytes gjson reads a number from (it leaves the
// checking to strconv.ParseFloat, which also takes Inf and NaN).
func startsNumber(c byte) bool {
	return c == '+' || c == '-' || (c >= '0' && c <= '9') || c == 'i' || c == 'I' || c == 'N'
}

// stringEnd scans the string whose first byte after the opening quote is
// at i. It returns the index after the closing quote (the first quote
// preceded by an even number of backslashes), whether the string has
// escapes, and false, with the end of s, when it never closes.
func stringEnd(s string, i int) (end int, escaped bool, ok bool) {
	for ; i < len(s); i++ {
		switch s[i] {
		case '"':
			if escaped && oddBackslashesBefore(s, i) {
				continue
			}
			return i + 1, escaped, true
		case '\\':
			escaped = true
			i++ // the escaped byte, whatever it is
		}
	}
	return len(s), escaped, false
}

// oddBackslashesBefore reports whether the run of backslashes right before
// i is of odd length (the byte at i is escaped).
func oddBackslashesBefore(s string, i int) bool {
	n := 0
	for j := i - 1; j > 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// squashEnd returns the index after the bracket closing the object or
// array opening at i, or len(s) when it never closes. Strings are stepped
// over; '(' and ')' count as brackets too, as in gjson. The value's text is
// s[i:min(end, len(s))]: when a string inside never closes, end is
// len(s)+1, where gjson's scan stops too (an enclosing array then counts
// no length).
func squashEnd(s string, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		switch s[i] {
		case '{', '[', '(':
			depth++
		case '}', ']', ')':
			depth--
			if depth == 0 {
				return i + 1
			}
		case '"':
			end, _, ok := stringEnd(s, i+1)
			if !ok {
				return len(s) + 1
			}
			i = end - 1
		}
	}
	return len(s)
}

// numberEnd returns where the number starting at i ends: at whitespace,
// a comma, ']' or '}'.
func numberEnd(s string, i int) int {
	for i++; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == ',' || c == ']' || c == '}' {
			break
		}
	}
	return i
}

// literalEnd returns where the literal (true, false, null) starting at i
// ends: at the first byte that is not a lower-case letter.
func literalEnd(s string, i int) int {
	for i++; i < len(s) && s[i] >= 'a' && s[i] <= 'z'; i++ {
	}
	return i
}

func stringValue(raw string, escaped bool) Value {
	v := Value{Type: String, Raw: raw, Str: raw[1 : len(raw)-1]}
	if escaped {
		v.Str = unescape(v.Str)
	}
	return v
}

func numberValue(raw string) Value {
	n, _ := strconv.ParseFloat(raw, 64)
	return Value{Type: Number, Raw: raw, Num: n}
}

// literalValue types a literal by its first byte: 't' true, 'f' false,
// anything else ("null", "nul") null with its text.
func literalValue(raw string) Value {
	switch raw[0] {
	case 't':
		return Value{Type: True, Raw: raw}
	case 'f':
		return Value{Type: False, Raw: raw}
	}
	return Value{Type: Null, Raw: raw}
}
