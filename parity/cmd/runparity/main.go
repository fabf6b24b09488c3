// Command runparity runs upstream's volume server integration suite
// (github.com/seaweedfs/seaweedfs/test/volume_server/{http,grpc,rust,merge})
// against weedvol or upstream's own `weed volume`, writes a status report,
// and in ratchet mode fails when a test listed as passing does not pass.
//
//	go run ./cmd/runparity -impl=weedvol -weedvol=../bin/weedvol -weed=../bin/weed -status=STATUS.md
//	go run ./cmd/runparity -ratchet=expected-pass.txt ...
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

const suite = "github.com/seaweedfs/seaweedfs/test/volume_server/"

// result is one top-level test's outcome.
type result struct {
	pkg, name, action string
	elapsed           float64
}

func main() {
	impl := flag.String("impl", "weedvol", "volume server under test: weedvol or upstream")
	weedvol := flag.String("weedvol", "../bin/weedvol", "weedvol binary")
	weed := flag.String("weed", "../bin/weed", "pinned upstream weed binary (master, and volume server for -impl=upstream)")
	pkgs := flag.String("packages", "http,grpc,rust,merge", "suite packages to run")
	run := flag.String("run", "", "only tests matching this regexp")
	ratchet := flag.String("ratchet", "", "file of `<pkg> <Test>` lines that must pass; only they are run")
	status := flag.String("status", "", "write a Markdown report here")
	timeout := flag.Duration("timeout", 40*time.Minute, "go test timeout per package")
	flag.Parse()

	env, err := suiteEnv(*impl, *weedvol, *weed)
	if err != nil {
		fatal(err)
	}
	plan := map[string]string{} // package -> -run regexp
	var expected []result
	if *ratchet != "" {
		expected, err = readList(*ratchet)
		if err != nil {
			fatal(err)
		}
		byPkg := map[string][]string{}
		for _, e := range expected {
			byPkg[e.pkg] = append(byPkg[e.pkg], regexp.QuoteMeta(e.name))
		}
		for p, names := range byPkg {
			plan[p] = "^(" + strings.Join(names, "|") + ")$"
		}
	} else {
		for _, p := range strings.Split(*pkgs, ",") {
			if p = strings.TrimSpace(p); p != "" {
				plan[p] = *run
			}
		}
	}

	var results []result
	pkgNames := make([]string, 0, len(plan))
	for p := range plan {
		pkgNames = append(pkgNames, p)
	}
	sort.Strings(pkgNames)
	start := time.Now()
	for _, p := range pkgNames {
		rs, err := runPackage(p, plan[p], env, *timeout)
		if err != nil {
			fatal(err)
		}
		results = append(results, rs...)
	}

	if *status != "" {
		if err := writeStatus(*status, *impl, results, time.Since(start)); err != nil {
			fatal(err)
		}
	}
	if *ratchet != "" {
		got := map[string]string{}
		for _, r := range results {
			got[r.pkg+" "+r.name] = r.action
		}
		passed, failed := 0, 0
		for _, e := range expected {
			if got[e.pkg+" "+e.name] == "pass" {
				passed++
				continue
			}
			failed++
			fmt.Printf("RATCHET: %s %s listed as passing but %s\n", e.pkg, e.name, orNone(got[e.pkg+" "+e.name]))
		}
		fmt.Printf("%d passed, %d failed\n", passed, failed)
		if failed > 0 {
			os.Exit(1)
		}
		return
	}
	counts := map[string]int{}
	for _, r := range results {
		counts[r.action]++
	}
	fmt.Printf("%d passed, %d failed, %d skipped\n", counts["pass"], counts["fail"], counts["skip"])
}

func orNone(s string) string {
	if s == "" {
		return "did not run"
	}
	return s
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "runparity:", err)
	os.Exit(2)
}

// suiteEnv is the environment upstream's harness reads to pick and find
// the volume server binary.
func suiteEnv(impl, weedvol, weed string) ([]string, error) {
	weedAbs, err := filepath.Abs(weed)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(weedAbs); err != nil {
		return nil, fmt.Errorf("upstream weed: %w (run `make bin/weed`)", err)
	}
	env := append(os.Environ(), "WEED_BINARY="+weedAbs, "PATH="+filepath.Dir(weedAbs)+string(os.PathListSeparator)+os.Getenv("PATH"))
	switch impl {
	case "weedvol":
		abs, err := filepath.Abs(weedvol)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("weedvol: %w (run `make build`)", err)
		}
		env = append(env, "VOLUME_SERVER_IMPL=rust", "RUST_VOLUME_BINARY="+abs)
	case "upstream":
	default:
		return nil, fmt.Errorf("-impl must be weedvol or upstream, not %q", impl)
	}
	return env, nil
}

// readList parses `<pkg> <TestName>` lines; '#' starts a comment.
func readList(path string) ([]result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []result
	seen := map[string]bool{}
	for i, line := range strings.Split(string(b), "\n") {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("%s:%d: want `<package> <Test>`", path, i+1)
		}
		if key := f[0] + " " + f[1]; !seen[key] {
			seen[key] = true
			out = append(out, result{pkg: f[0], name: f[1]})
		}
	}
	return out, nil
}

// testEvent is one line of `go test -json`.
type testEvent struct {
	Action  string
	Test    string
	Elapsed float64
	Output  string
}

// runPackage runs one suite package and returns its top-level results.
func runPackage(pkg, run string, env []string, timeout time.Duration) ([]result, error) {
	args := []string{"test", "-json", "-count=1", "-p=1", "-timeout=" + timeout.String()}
	if run != "" {
		args = append(args, "-run="+run)
	}
	args = append(args, suite+pkg)
	cmd := exec.Command("go", args...)
	cmd.Env = env
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var results []result
	var failOutput bytes.Buffer
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev testEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		if ev.Test == "" || strings.Contains(ev.Test, "/") {
			if ev.Action == "output" && ev.Test == "" && strings.Contains(ev.Output, "[setup failed]") {
				failOutput.WriteString(ev.Output)
			}
			continue
		}
		switch ev.Action {
		case "pass", "fail", "skip":
			results = append(results, result{pkg: pkg, name: ev.Test, action: ev.Action, elapsed: ev.Elapsed})
			fmt.Printf("%-5s %s %s (%.1fs)\n", strings.ToUpper(ev.Action), pkg, ev.Test, ev.Elapsed)
		}
	}
	io.Copy(io.Discard, out)
	werr := cmd.Wait()
	if len(results) == 0 && werr != nil {
		return nil, fmt.Errorf("go test %s: %v %s", pkg, werr, failOutput.String())
	}
	return results, nil
}

func writeStatus(path, impl string, results []result, took time.Duration) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Upstream volume server suite against %s\n\n", impl)
	fmt.Fprintf(&b, "Generated by `make parity` on %s in %s. Suite: `%s{http,grpc,rust,merge}` at the pinned upstream version.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), took.Round(time.Second), suite)
	type tot struct{ pass, fail, skip int }
	totals := map[string]*tot{}
	var pkgs []string
	for _, r := range results {
		t := totals[r.pkg]
		if t == nil {
			t = &tot{}
			totals[r.pkg] = t
			pkgs = append(pkgs, r.pkg)
		}
		switch r.action {
		case "pass":
			t.pass++
		case "fail":
			t.fail++
		case "skip":
			t.skip++
		}
	}
	b.WriteString("| package | pass | fail | skip |\n|---|---:|---:|---:|\n")
	var all tot
	for _, p := range pkgs {
		t := totals[p]
		fmt.Fprintf(&b, "| %s | %d | %d | %d |\n", p, t.pass, t.fail, t.skip)
		all.pass, all.fail, all.skip = all.pass+t.pass, all.fail+t.fail, all.skip+t.skip
	}
	fmt.Fprintf(&b, "| **total** | **%d** | **%d** | **%d** |\n\n", all.pass, all.fail, all.skip)
	sort.Slice(results, func(i, j int) bool {
		if results[i].pkg != results[j].pkg {
			return results[i].pkg < results[j].pkg
		}
		return results[i].name < results[j].name
	})
	b.WriteString("| package | test | result |\n|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.pkg, r.name, r.action)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
