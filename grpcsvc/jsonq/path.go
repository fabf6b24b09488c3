package jsonq

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrUnsupportedPath wraps the refusal of a path that uses gjson syntax
// beyond the supported subset (CheckPath).
var ErrUnsupportedPath = errors.New("unsupported path")

// CheckPath reports whether Get supports path. The subset is gjson's plain
// paths, which are what upstream's Query filter and selections use:
//
//   - keys separated by '.', a backslash escaping the next byte ("a\.b" is
//     the key "a.b"; an empty component is the empty key);
//   - in an array, a decimal index ("items.0.name");
//   - a last component '#' on an array: its length.
//
// Refused, with an error wrapping ErrUnsupportedPath, is the rest of
// gjson's syntax, which upstream would evaluate: wildcards ('*', '?'),
// pipes ('|'), modifiers ('@'), static values ('!' first), multipaths
// ('[' or '{' first, or after a dot), JSON-lines paths (".." first) and
// array queries or mapping ('#' followed by anything, or not last).
func CheckPath(path string) error {
	refuse := func(why string) error {
		return fmt.Errorf("%w %q: %s", ErrUnsupportedPath, path, why)
	}
	if len(path) > 1 {
		switch path[0] {
		case '@':
			return refuse("modifiers are not supported")
		case '!':
			return refuse("static values are not supported")
		case '[', '{':
			return refuse("multipaths are not supported")
		}
		if strings.HasPrefix(path, "..") {
			return refuse("JSON-lines paths are not supported")
		}
	}
	start := true // at the first byte of a component
	hash := false // the current component so far is an unescaped '#'
	for i := 0; i < len(path); i++ {
		c := path[i]
		if hash && c != '.' {
			return refuse("array queries are not supported")
		}
		switch c {
		case '\\':
			i++
			start, hash = false, false
			continue
		case '*', '?':
			return refuse("wildcards are not supported")
		case '|':
			return refuse("pipes are not supported")
		case '.':
			if hash {
				return refuse("'#' is supported only as the last component")
			}
			if i+1 < len(path) {
				switch path[i+1] {
				case '@', '[', '{':
					return refuse("pipes into modifiers or multipaths are not supported")
				}
			}
			start = true
			continue
		case '#':
			hash = start
		}
		start = false
	}
	return nil
}

// Get returns the value at path in json, as gjson.Get does for the paths
// CheckPath accepts (others give what this plain reading finds, which may
// differ from gjson). The first '{' or '[' of json is the root.
func Get(json, path string) Value {
	for i := 0; i < len(json); i++ {
		switch json[i] {
		case '{':
			_, v, _ := inObject(json, i+1, path)
			return v
		case '[':
			_, v, _ := inArray(json, i+1, path)
			return v
		}
	}
	return Value{}
}

// keyPart splits the first component off an object path: backslashes
// escape the next byte and are dropped; more is false for the last one.
func keyPart(path string) (key, rest string, more bool) {
	var b []byte
	for i := 0; i < len(path); i++ {
		switch c := path[i]; c {
		case '.':
			if b == nil {
				return path[:i], path[i+1:], true
			}
			return string(b), path[i+1:], true
		case '\\':
			if b == nil {
				b = append(make([]byte, 0, len(path)), path[:i]...)
			}
			if i++; i < len(path) {
				b = append(b, path[i])
			}
		default:
			if b != nil {
				b = append(b, c)
			}
		}
	}
	if b == nil {
		return path, "", false
	}
	return string(b), "", false
}

// indexPart splits the first component off an array path; escapes are not
// decoded there (gjson does not), so an escaped component matches nothing.
func indexPart(path string) (part, rest string, more bool) {
	if i := strings.IndexByte(path, '.'); i >= 0 {
		return path[:i], path[i+1:], true
	}
	return path, "", false
}

// inObject looks for path in the object whose members start at i. It
// returns where it stopped, the value and whether it was found. Keys are
// the strings in key position; after each key the next value is read
// (whatever lies between is skipped), the way gjson walks.
func inObject(s string, i int, path string) (int, Value, bool) {
	key, rest, more := keyPart(path)
	for i < len(s) {
		// the next key, or the end of the object
		var k string
		var kesc, ok bool
		for ; i < len(s); i++ {
			if s[i] == '}' {
				return i + 1, Value{}, false
			}
			if s[i] == '"' {
				var end int
				end, kesc, ok = stringEnd(s, i+1)
				if !ok {
					return end, Value{}, false
				}
				k, i = s[i+1:end-1], end
				break
			}
		}
		if !ok {
			return i, Value{}, false
		}
		if kesc {
			k = unescape(k)
		}
		matched := k == key
		hit := matched && !more
		var v Value
		var found bool
		i, v, found = member(s, i, matched && more, hit, rest)
		if found {
			return i, v, true
		}
	}
	return i, Value{}, false
}

// member reads the value after a key (or an array element) from i. With
// descend, an object or array value is searched for rest; with hit, the
// value itself is the answer. A value that is neither is stepped over.
func member(s string, i int, descend, hit bool, rest string) (int, Value, bool) {
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			end, esc, ok := stringEnd(s, i+1)
			if !ok {
				return end, Value{}, false
			}
			if hit {
				return end, stringValue(s[i:end], esc), true
			}
			return end, Value{}, false
		case c == '{' || c == '[':
			if descend {
				if c == '{' {
					return inObject(s, i+1, rest)
				}
				return inArray(s, i+1, rest)
			}
			end := squashEnd(s, i)
			if hit {
				return end, Value{Type: JSON, Raw: s[i:min(end, len(s))]}, true
			}
			return end, Value{}, false
		case c == 'n' && i+1 < len(s) && s[i+1] != 'u', startsNumber(c):
			end := numberEnd(s, i)
			if hit {
				return end, numberValue(s[i:end]), true
			}
			return end, Value{}, false
		case c == 'n' || c == 't' || c == 'f':
			end := literalEnd(s, i)
			if hit {
				return end, literalValue(s[i:end]), true
			}
			return end, Value{}, false
		}
	}
	return i, Value{}, false
}

// inArray looks for path in the array whose elements start at i: a decimal
// first component picks an element by position, a last component "#" is
// the number of elements (counted as values read, as gjson counts), and
// anything else matches nothing.
func inArray(s string, i int, path string) (int, Value, bool) {
	part, rest, more := indexPart(path)
	want, numeric := parseIndex(part)
	count := part == "#" && !more
	for n := 0; i <= len(s); n++ {
		matched := numeric && want == n
		// the next element, or the end of the array
		for ; i < len(s) && !startsValue(s, i) && s[i] != ']'; i++ {
		}
		if i >= len(s) || s[i] == ']' {
			if count {
				return i + 1, Value{Type: Number, Raw: itoa(n), Num: float64(n)}, true
			}
			return i + 1, Value{}, false
		}
		if s[i] == '"' {
			// an unterminated string element ends the search, count or not
			if end, _, ok := stringEnd(s, i+1); !ok {
				return end, Value{}, false
			}
		}
		var v Value
		var found bool
		i, v, found = member(s, i, matched && more, matched && !more, rest)
		if found {
			return i, v, true
		}
	}
	return i, Value{}, false
}

// startsValue reports whether a value starts at s[i] (for member).
func startsValue(s string, i int) bool {
	switch c := s[i]; c {
	case '"', '{', '[', 'n', 't', 'f':
		return true
	default:
		return startsNumber(c)
	}
}

// parseIndex parses a decimal array index; one too large for an int
// matches no element.
func parseIndex(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (maxInt-int(c-'0'))/10 {
			return -1, true
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

const maxInt = int(^uint(0) >> 1)

func itoa(n int) string { return strconv.Itoa(n) }
