package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// runPackage runs one suite package with `go test -json` in the parity
// module and returns its top-level results in the order the tests started.
func runPackage(dir, pkg, run string, env []string, timeout time.Duration) ([]result, error) {
	args := []string{"test", "-json", "-count=1", "-timeout=" + timeout.String()}
	if run != "" {
		args = append(args, "-run="+run)
	}
	args = append(args, suite+pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	fmt.Printf("=== go %s\n", strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	results, pkgOutput := parseEvents(pkg, out, func(r result) {
		fmt.Printf("%-4s %s %s (%.1fs)\n", strings.ToUpper(r.action), pkg, r.name, r.elapsed)
	})
	io.Copy(io.Discard, out)
	werr := cmd.Wait()
	if len(results) == 0 && werr != nil {
		return nil, fmt.Errorf("go test %s: %v\n%s", pkg, werr, pkgOutput)
	}
	return results, nil
}

// testEvent is one line of `go test -json` (cmd/test2json).
type testEvent struct {
	Action  string
	Test    string
	Elapsed float64
	Output  string
}

// verbose echoes every test output line (-v).
var verbose bool

// fileLine matches the `file.go:NN: message` lines of t.Error, t.Fatal and t.Skip.
var fileLine = regexp.MustCompile(`^\s*[\w.-]+\.go:\d+: `)

// parseEvents folds subtests into their top-level test and returns the
// top-level results plus the package-level output (build errors, panics).
// A failed or skipped test's note is the last `file.go:NN:` line it printed.
// done is called as each top-level test finishes. A test that started but
// never finished (the binary crashed or timed out) is reported as failed.
func parseEvents(pkg string, r io.Reader, done func(result)) ([]result, string) {
	var (
		order    []string
		started  = map[string]bool{}
		finished = map[string]*result{}
		notes    = map[string]string{}
		pkgOut   strings.Builder
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev testEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		if ev.Test == "" {
			if ev.Action == "output" || ev.Action == "build-output" {
				pkgOut.WriteString(ev.Output)
			}
			continue
		}
		top, _, sub := strings.Cut(ev.Test, "/")
		switch ev.Action {
		case "run":
			if !sub && !started[top] {
				started[top] = true
				order = append(order, top)
			}
		case "output":
			// The last such line is the t.Fatal (or a cleanup error); earlier
			// ones are usually t.Log progress.
			line := strings.TrimRight(ev.Output, "\n")
			if fileLine.MatchString(line) && !strings.Contains(line, "logs kept at") {
				notes[top] = strings.TrimSpace(line)
			}
			if verbose {
				fmt.Print(ev.Output)
			}
		case "pass", "fail", "skip":
			if sub {
				continue
			}
			res := &result{pkg: pkg, name: top, action: ev.Action, elapsed: ev.Elapsed}
			if ev.Action != "pass" {
				res.note = notes[top]
			}
			finished[top] = res
			if done != nil {
				done(*res)
			}
		}
	}
	results := make([]result, 0, len(order))
	for _, name := range order {
		if res := finished[name]; res != nil {
			results = append(results, *res)
			continue
		}
		res := result{pkg: pkg, name: name, action: "fail", note: "no result: the test binary crashed or timed out"}
		if done != nil {
			done(res)
		}
		results = append(results, res)
	}
	return results, pkgOut.String()
}
