package jsonq

import (
	"errors"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// docs are the inputs of the differential tables: well-formed documents,
// JSON lines and text that is not JSON at all.
var docs = []string{
	``,
	`   `,
	`{}`,
	`[]`,
	`{"score":3}`,
	"{\"score\":3}\n{\"score\":12}\n{\"score\":18}\n",
	`{"name":"Bl\"ue","size":6,"quiz":"green","ok":true,"no":false,"nil":null}`,
	`{"a":{"b":{"c":[1,2,{"d":"deep"}]}},"arr":[10,20,30],"e":[]}`,
	`{"s":"tab\there \u00e9 \ud83d\ude00 \\ \/ \b\f\n\r","k\"q":1,"a.b":2,"":3}`,
	`{"n":-1.5e3,"i":12,"z":0,"big":1e400,"inf":Infinity,"nan":NaN,"plus":+5,"h":0x10}`,
	"[{\"x\":1},{\"x\":2}]\n[3,4]\n\"str\"\n42\ntrue\nnull\n",
	`{"x":1} garbage {"x":2},,{"x":"3"}`,
	`{"x":1`,
	`{"x":"unterminated`,
	`{"x":[1,2`,
	`{"x" 1, "y" : : 2}`,
	`{"x":tru,"y":nul,"z":fals}`,
	`{"a":{"b":1},"a":{"b":2}}`,
	`{"a":(1,2),"b":3}`,
	`{"key":"va\\"}`,
	`{"key":"va\\\"lue"}`,
	`not json at all`,
	"\x00\xff{\"x\":\"\xff\xfe\"}",
	`{"friends":[{"name":"a","age":3},{"name":"b","age":40}]}`,
	`{"x":"\u12"}`,
	`{"x":"\ud800"}`,
	`{"x":"\ud800\u0041"}`,
	`{"x":"a\qb"}`,
	"{\"x\":\"a\x01b\"}",
	`{"1":"one","01":"zero-one"}`,
	`[["a","b"],["c"]]`,
	`{"a":[{"b":[1,2]},{"b":[3]}]}`,
	`{"a" : "spaced" , "b":[ 1 , "two" , { "c" : null } ] }`,
	`{"score":"12"}{"score":12}{"score":true}{"score":false}{"score":null}{"score":[12]}`,
}

var paths = []string{
	"", "score", "x", "name", "size", "ok", "no", "nil", "a", "a.b", "a.b.c",
	"a.b.c.2.d", "a.b.c.#", "arr.1", "arr.#", "arr.3", "e.#", "e.0", `a\.b`,
	`k\"q`, "s", "n", "i", "z", "big", "inf", "nan", "plus", "h", "0", "1",
	"0.x", "1.x", "#", "friends.#", "friends.1.name", "friends.01.name",
	"friends.18446744073709551616.name", "a.0.b.1", "a.1.b.0", "y", "key",
	"01", ".", "a.", ".a", "b.1", "b.2.c", `a\`, `\`, "score.0",
}

var filters = []Filter{
	{},
	{Field: "score"},
	{Field: "score", Op: ">", Value: "10"},
	{Field: "score", Op: ">=", Value: "12"},
	{Field: "score", Op: "<", Value: "12"},
	{Field: "score", Op: "<=", Value: "3"},
	{Field: "score", Op: "=", Value: "12"},
	{Field: "score", Op: "!=", Value: "12"},
	{Field: "score", Op: "=", Value: "true"},
	{Field: "score", Op: "!=", Value: "false"},
	{Field: "score", Op: ">", Value: "false"},
	{Field: "score", Op: ">=", Value: "x"},
	{Field: "score", Op: "<", Value: "true"},
	{Field: "score", Op: "<=", Value: ""},
	{Field: "score", Op: "%", Value: "1*"},
	{Field: "score", Op: "!%", Value: "1?"},
	{Field: "score", Op: "~", Value: "1"},
	{Field: "score", Op: ">", Value: "not a number"},
	{Field: "name", Op: "%", Value: `Bl\"*`},
	{Field: "name", Op: "=", Value: `Bl"ue`},
	{Field: "s", Op: "%", Value: "tab*"},
	{Field: "x", Op: "<", Value: "2"},
	{Field: "x", Op: "=", Value: "3"},
	{Field: "friends.1.age", Op: ">", Value: "18"},
	{Field: "nil"},
	{Field: "nil", Op: "=", Value: "null"},
	{Field: "inf", Op: ">", Value: "1e308"},
	{Field: "nan", Op: "!=", Value: "0"},
	{Field: "ok", Op: ">=", Value: ""},
	{Field: "no", Op: "<=", Value: ""},
}

// TestGetMatchesGjson compares Get with gjson.Get on every document and
// every supported path.
func TestGetMatchesGjson(t *testing.T) {
	for _, doc := range docs {
		for _, p := range paths {
			if err := CheckPath(p); err != nil {
				t.Fatalf("CheckPath(%q) = %v, want nil", p, err)
			}
			got, want := Get(doc, p), gjson.Get(doc, p)
			if !sameValue(got, want) {
				t.Errorf("Get(%q, %q) = %+v, gjson %+v", doc, p, got, want)
			}
		}
	}
}

// TestEachMatchesForEachLine compares the top-level values Each yields
// with gjson.ForEachLine's.
func TestEachMatchesForEachLine(t *testing.T) {
	for _, doc := range docs {
		got, want := ourLines(doc), upstreamLines(doc)
		if strings.Join(got, "\x00|") != strings.Join(want, "\x00|") || len(got) != len(want) {
			t.Errorf("Each(%q) = %q, gjson %q", doc, got, want)
		}
	}
}

// TestRecordsMatchUpstream compares Records with upstream's QueryJson and
// ToJson over gjson.ForEachLine for every document, filter and a few
// selection lists.
func TestRecordsMatchUpstream(t *testing.T) {
	selections := [][]string{
		nil,
		{"score"},
		{"name", "size", "missing"},
		{"nil", "ok", "no", "a", "arr.#"},
		{"x", "y", "z", "s"},
		{"friends.0.name", "friends.#", "a.b.c.2"},
	}
	for _, doc := range docs {
		for _, f := range filters {
			for _, sels := range selections {
				compareRecords(t, doc, sels, f)
			}
		}
	}
}

// TestRecordsFormat pins upstream's record format on known answers.
func TestRecordsFormat(t *testing.T) {
	tests := []struct {
		data string
		sels []string
		f    Filter
		want string
	}{
		{"{\"score\":3}\n{\"score\":12}\n{\"score\":18}\n", []string{"score"}, Filter{Field: "score", Op: ">", Value: "10"}, "{score:12}{score:18}"},
		{`{"fruit":"Bl\"ue","size":6,"quiz":"green"}`, []string{"fruit", "size"}, Filter{Field: "quiz", Op: "=", Value: "green"}, `{fruit:"Bl\"ue",size:6}`},
		{`{"a":null,"b":[1, 2]}`, []string{"a", "b", "c"}, Filter{Field: "a"}, "{a:,b:[1, 2],c:}"},
		{`{"a":1}`, nil, Filter{Field: "a"}, "{}"},
		{`{"a":1}`, []string{"a"}, Filter{Field: "b"}, ""},
		{`{"a":1}`, []string{"a"}, Filter{}, ""},
	}
	for _, tt := range tests {
		if got := string(Records(nil, tt.data, tt.sels, tt.f)); got != tt.want {
			t.Errorf("Records(%q, %q, %+v) = %q, want %q", tt.data, tt.sels, tt.f, got, tt.want)
		}
	}
}

// TestCheckPath lists the accepted and the refused gjson syntax.
func TestCheckPath(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"", true}, {"a", true}, {"a.b.0", true}, {"a.#", true}, {"#", true},
		{`a\.b`, true}, {`a\*`, true}, {`a\#.b`, true}, {"a#b", true}, {"@", true},
		{"a.*", false}, {"a?", false}, {"a|b", false}, {"@this", false},
		{"!true", false}, {"[a,b]", false}, {"{a}", false}, {"..0", false},
		{"a.#.b", false}, {"a.#(b>1)", false}, {"#.a", false}, {"a.@reverse", false},
		{"a.[b]", false}, {"a.{b}", false},
	}
	for _, tt := range tests {
		err := CheckPath(tt.path)
		if (err == nil) != tt.ok {
			t.Errorf("CheckPath(%q) = %v, want ok=%v", tt.path, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrUnsupportedPath) {
			t.Errorf("CheckPath(%q) = %v, not ErrUnsupportedPath", tt.path, err)
		}
	}
}

// TestMatchMatchesUpstream compares Match with tidwall/match.
func TestMatchMatchesUpstream(t *testing.T) {
	strs := []string{"", "a", "abc", "héllo", "\xff\xfe", `a\b`, `a*b`, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "12", "1"}
	pats := []string{"", "*", "**", "?", "a*", "*c", "a?c", "h?llo", "*l*o", `a\*b`, `a\\b`, `a\`, `*\`, `*\\`, `\*`, "?\xfe", "*?", "*a*a*a*a*a*a*a*a*a*c", "1*", "1?", `*\?`}
	for _, s := range strs {
		for _, p := range pats {
			want, _ := upstreamMatch(s, p)
			if got := Match(s, p); got != want {
				t.Errorf("Match(%q, %q) = %v, upstream %v", s, p, got, want)
			}
		}
	}
}
