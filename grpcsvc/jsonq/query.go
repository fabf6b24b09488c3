// Package jsonq evaluates upstream's needle Query over JSON: the filter
// (one field, an operand, a value) and the selections (projected fields)
// of weed/query/json, on the lenient JSON reading of tidwall/gjson that
// upstream uses, for the subset of gjson paths CheckPath accepts.
//
// It is weedvol's own code; its tests compare it with upstream's package
// on the same inputs.
package jsonq

import (
	"cmp"
	"strconv"
)

// Filter is a Query's filter. An empty Op keeps every value whose Field
// exists; Ops are =, !=, <, <=, >, >= on strings (byte order), numbers
// (Value parsed as a float, 0 when it does not parse) and booleans
// (false < true), and % / !% (wildcard match, strings only: '*' any run,
// '?' one character, '\' escapes). Anything else keeps nothing.
type Filter struct {
	Field, Op, Value string
}

// Check reports the first of the filter field and the selections that
// CheckPath refuses.
func Check(f Filter, selections []string) error {
	if err := CheckPath(f.Field); err != nil {
		return err
	}
	for _, s := range selections {
		if err := CheckPath(s); err != nil {
			return err
		}
	}
	return nil
}

// Records appends to dst one record per top-level value of data (JSON
// lines or a document, Each) that passes f: "{" then, for each selection,
// the selection as given, ':' and the selected value's raw text ("" when
// it is missing or null), comma-separated, then "}". Records are not
// separated, and the names are not quoted: upstream's format.
func Records(dst []byte, data string, selections []string, f Filter) []byte {
	Each(data, func(line Value) bool {
		if !Passes(line.Raw, f) {
			return true
		}
		dst = append(dst, '{')
		for i, sel := range selections {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, sel...)
			dst = append(dst, ':')
			if v := Get(line.Raw, sel); v.Type != Null {
				dst = append(dst, v.Raw...)
			}
		}
		dst = append(dst, '}')
		return true
	})
	return dst
}

// Passes reports whether the JSON value json passes f.
func Passes(json string, f Filter) bool {
	v := Get(json, f.Field)
	if !v.Exists() {
		return false
	}
	if f.Op == "" {
		return true
	}
	want := f.Value
	switch v.Type {
	case String:
		switch f.Op {
		case "%":
			return Match(v.Str, want)
		case "!%":
			return !Match(v.Str, want)
		}
		return compare(v.Str, want, f.Op)
	case Number:
		n, _ := strconv.ParseFloat(want, 64)
		return compare(v.Num, n, f.Op)
	case True:
		switch f.Op {
		case "=":
			return want == "true"
		case "!=":
			return want != "true"
		case ">":
			return want == "false"
		case ">=":
			return true
		}
	case False:
		switch f.Op {
		case "=":
			return want == "false"
		case "!=":
			return want != "false"
		case "<":
			return want == "true"
		case "<=":
			return true
		}
	}
	return false
}

// compare applies the comparison operator op to a and b; any other op
// is false.
func compare[T cmp.Ordered](a, b T, op string) bool {
	switch op {
	case "=":
		return a == b
	case "!=":
		return a != b
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	case ">=":
		return a >= b
	}
	return false
}
