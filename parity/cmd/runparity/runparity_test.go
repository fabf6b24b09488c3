package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseList(t *testing.T) {
	got, err := parseList("x", "# header\n\nhttp TestA # why\ngrpc  TestB\nhttp TestA\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []result{{pkg: "http", name: "TestA"}, {pkg: "grpc", name: "TestB"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for _, bad := range []string{"http", "http TestA extra", "http NotATest", "http TestA/sub"} {
		if _, err := parseList("x", bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if got, err := parseList("x", "# only a header\n"); err != nil || len(got) != 0 {
		t.Fatalf("header only: %v %v", got, err)
	}
}

func TestRatchetPlan(t *testing.T) {
	plan := ratchetPlan([]result{{pkg: "http", name: "TestA"}, {pkg: "grpc", name: "TestB"}, {pkg: "http", name: "TestC"}})
	want := map[string]string{"http": "^(TestA|TestC)$", "grpc": "^(TestB)$"}
	if !reflect.DeepEqual(plan, want) {
		t.Fatalf("got %v, want %v", plan, want)
	}
}

func TestCheckRatchet(t *testing.T) {
	expected := []result{{pkg: "http", name: "TestA"}, {pkg: "http", name: "TestB"}, {pkg: "grpc", name: "TestC"}}
	results := []result{{pkg: "http", name: "TestA", action: "pass"}, {pkg: "http", name: "TestB", action: "fail"}}
	if p, f := checkRatchet(expected, results); p != 1 || f != 2 {
		t.Fatalf("passed %d failed %d, want 1 2", p, f)
	}
}

func TestShimArgs(t *testing.T) {
	tests := []struct {
		in, want []string
	}{
		{
			in:   []string{"--port", "8080", "--securityFile", "/c/security.toml", "--volume.allowUntrustedRemoteEndpoints", "--max", "16"},
			want: []string{"/w", "-config_dir=/c", "volume", "--port", "8080", "--volume.allowUntrustedRemoteEndpoints", "--max", "16"},
		},
		{
			in:   []string{"-securityFile=/d/security.toml", "--dir", "/v"},
			want: []string{"/w", "-config_dir=/d", "volume", "--dir", "/v"},
		},
	}
	for _, tt := range tests {
		if got := shimArgs("/w", tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("shimArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestModulePath(t *testing.T) {
	if got := modulePath([]byte("// c\nmodule weedvol.dev/parity\n\ngo 1.26\n")); got != parityModule {
		t.Fatalf("got %q", got)
	}
}

func TestParseEvents(t *testing.T) {
	stream := strings.Join([]string{
		`{"Action":"start"}`,
		`{"Action":"run","Test":"TestA"}`,
		`{"Action":"run","Test":"TestA/sub"}`,
		`{"Action":"output","Test":"TestA","Output":"    a_test.go:9: allocated volume 1\n"}`,
		`{"Action":"output","Test":"TestA/sub","Output":"    a_test.go:12: want 200, got 404\n"}`,
		`{"Action":"output","Test":"TestA/sub","Output":"        log tail line\n"}`,
		`{"Action":"output","Test":"TestA","Output":"    cluster.go:9: logs kept at /tmp/x\n"}`,
		`{"Action":"fail","Test":"TestA/sub","Elapsed":0.1}`,
		`{"Action":"fail","Test":"TestA","Elapsed":0.2}`,
		`{"Action":"run","Test":"TestB"}`,
		`{"Action":"pass","Test":"TestB","Elapsed":1}`,
		`{"Action":"run","Test":"TestC"}`,
		`{"Action":"output","Test":"TestC","Output":"    c_test.go:5: skipping: rust only\n"}`,
		`{"Action":"skip","Test":"TestC"}`,
		`not json`,
		`{"Action":"run","Test":"TestD"}`,
		`{"Action":"output","Output":"panic: test timed out after 1s\n"}`,
		`{"Action":"fail","Elapsed":2}`,
	}, "\n")
	got, out := parseEvents("http", strings.NewReader(stream), nil)
	want := []result{
		{pkg: "http", name: "TestA", action: "fail", elapsed: 0.2, note: "a_test.go:12: want 200, got 404"},
		{pkg: "http", name: "TestB", action: "pass", elapsed: 1},
		{pkg: "http", name: "TestC", action: "skip", note: "c_test.go:5: skipping: rust only"},
		{pkg: "http", name: "TestD", action: "fail", note: "no result: the test binary crashed or timed out"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if !strings.Contains(out, "timed out") {
		t.Fatalf("package output %q", out)
	}
}

func TestCell(t *testing.T) {
	if got := cell("a|b`c"); got != "a\\|b'c" {
		t.Fatalf("got %q", got)
	}
	long := strings.Repeat("é", 100)
	if got := cell(long); !strings.HasSuffix(got, "…") || len(got) > 164 {
		t.Fatalf("got %q", got)
	}
}
