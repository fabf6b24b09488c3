package jsonq

import (
	"testing"

	uq "github.com/seaweedfs/seaweedfs/weed/query/json"
	"github.com/tidwall/gjson"
	"github.com/tidwall/match"
)

// The reference side of the differential tests: upstream's own packages
// (weed/query/json over tidwall/gjson and tidwall/match, test-only
// dependencies), driven the way weed/server/volume_grpc_query.go drives
// them for one needle.

// upstreamRecords is the Records of one needle's data as upstream's Query
// builds them. panicked reports an upstream panic (then out is nil).
func upstreamRecords(data string, selections []string, f Filter) (out []byte, panicked bool) {
	defer func() {
		if recover() != nil {
			out, panicked = nil, true
		}
	}()
	q := uq.Query{Field: f.Field, Op: f.Op, Value: f.Value}
	gjson.ForEachLine(data, func(line gjson.Result) bool {
		ok, values := uq.QueryJson(line.Raw, selections, q)
		if ok {
			out = uq.ToJson(out, selections, values)
		}
		return true
	})
	return out, false
}

// upstreamLines is the Raw of every value gjson.ForEachLine yields.
func upstreamLines(data string) []string {
	var out []string
	gjson.ForEachLine(data, func(line gjson.Result) bool {
		out = append(out, line.Raw)
		return true
	})
	return out
}

func ourLines(data string) []string {
	var out []string
	Each(data, func(v Value) bool {
		out = append(out, v.Raw)
		return true
	})
	return out
}

// sameValue compares a Value with gjson's Result field by field (a NaN
// number equals a NaN number).
func sameValue(v Value, r gjson.Result) bool {
	if int(v.Type) != int(r.Type) || v.Raw != r.Raw || v.Str != r.Str {
		return false
	}
	return v.Num == r.Num || (v.Num != v.Num && r.Num != r.Num)
}

// upstreamMatch is match.MatchLimit with Match's bound: what Match must
// answer.
func upstreamMatch(str, pattern string) (matched, stopped bool) {
	return match.MatchLimit(str, pattern, matchWork)
}

func compareRecords(t *testing.T, data string, selections []string, f Filter) {
	t.Helper()
	want, panicked := upstreamRecords(data, selections, f)
	got := Records(nil, data, selections, f)
	if panicked {
		return // upstream has no answer; ours must only not panic
	}
	if string(got) != string(want) {
		t.Errorf("Records(%q, %q, %+v)\n got %q\nwant %q", data, selections, f, got, want)
	}
}
