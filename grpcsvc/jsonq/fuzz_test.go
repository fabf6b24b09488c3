package jsonq

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// FuzzRecords feeds hostile data, paths and filters to Records, Get and
// Each: they must never panic, and on every supported path they must
// answer what upstream's packages answer. The seed corpus is the
// differential tables' documents and paths.
func FuzzRecords(f *testing.F) {
	for i, doc := range docs {
		p := paths[i%len(paths)]
		fl := filters[i%len(filters)]
		f.Add(doc, fl.Field, fl.Op, fl.Value, p+"\n"+"score")
	}
	f.Fuzz(func(t *testing.T, data, field, op, value, sels string) {
		selections := strings.Split(sels, "\n")
		if len(selections) > 8 {
			selections = selections[:8]
		}
		flt := Filter{Field: field, Op: op, Value: value}
		got := Records(nil, data, selections, flt) // must not panic
		for _, p := range append([]string{field}, selections...) {
			v := Get(data, p)
			if CheckPath(p) == nil && !sameValue(v, gjson.Get(data, p)) {
				t.Fatalf("Get(%q, %q) = %+v, gjson %+v", data, p, v, gjson.Get(data, p))
			}
		}
		if a, b := ourLines(data), upstreamLines(data); strings.Join(a, "\x00|") != strings.Join(b, "\x00|") || len(a) != len(b) {
			t.Fatalf("Each(%q) = %q, gjson %q", data, a, b)
		}
		if Check(flt, selections) != nil {
			return
		}
		if m, stopped := upstreamMatch(value, value); !stopped && Match(value, value) != m {
			t.Fatalf("Match(%q, %q) differs", value, value)
		}
		want, panicked := upstreamRecords(data, selections, flt)
		if !panicked && string(got) != string(want) {
			t.Fatalf("Records(%q, %q, %+v)\n got %q\nwant %q", data, selections, flt, got, want)
		}
	})
}

// FuzzMatch compares Match with tidwall/match under the same work bound.
func FuzzMatch(f *testing.F) {
	for _, s := range []string{"", "abc", "héllo", `a\*b`, "*a?c*", `*\`, "\xff"} {
		f.Add(s, s)
		f.Add(s, "*"+s+"?")
	}
	f.Fuzz(func(t *testing.T, str, pat string) {
		want, _ := upstreamMatch(str, pat)
		if got := Match(str, pat); got != want {
			t.Fatalf("Match(%q, %q) = %v, upstream %v", str, pat, got, want)
		}
	})
}
