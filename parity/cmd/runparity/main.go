// Command runparity runs upstream's volume server integration suite
// (github.com/seaweedfs/seaweedfs/test/volume_server/{http,grpc,rust,merge})
// against weedvol or upstream's own `weed volume`, writes a status report,
// and in ratchet mode fails when a test listed as passing does not pass.
//
//	cd parity
//	go run ./cmd/runparity -impl=weedvol -weedvol=../bin/weedvol -weed=../bin/weed -status=STATUS.md
//	go run ./cmd/runparity -impl=upstream -weed=../bin/weed -status=STATUS-upstream.md
//	go run ./cmd/runparity -ratchet=expected-pass.txt -weedvol=../bin/weedvol -weed=../bin/weed
//
// The last line printed is always `N passed, N failed` (plus `, N skipped`
// outside ratchet mode). Only ratchet mode exits non-zero on failed tests;
// any mode exits 2 when the suite cannot be run at all.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// suite is the import path prefix of upstream's test packages.
const suite = "github.com/seaweedfs/seaweedfs/test/volume_server/"

// outcome is a top-level test's result: "pass", "fail" or "skip".
type outcome = string

// result is one top-level test's outcome; subtests are folded into it.
type result struct {
	pkg, name string
	action    outcome
	elapsed   float64
	note      string // first failure line, for the report
}

func main() {
	if weed := os.Getenv(shimEnv); weed != "" {
		execShim(weed, os.Args[1:]) // does not return
	}

	impl := flag.String("impl", "weedvol", "volume server under test: weedvol or upstream")
	weedvol := flag.String("weedvol", "../bin/weedvol", "weedvol binary (for -impl=weedvol)")
	weed := flag.String("weed", "../bin/weed", "pinned upstream weed binary: the master, and the volume server for -impl=upstream")
	pkgs := flag.String("packages", "http,grpc,rust,merge", "comma-separated suite packages to run")
	run := flag.String("run", "", "only tests matching this regexp (go test -run)")
	ratchet := flag.String("ratchet", "", "file of `<package> <Test>` lines that must pass; only they are run")
	status := flag.String("status", "", "write a Markdown report to this file")
	timeout := flag.Duration("timeout", 40*time.Minute, "go test -timeout per package")
	flag.BoolVar(&verbose, "v", false, "echo test output")
	flag.Parse()

	var expected []result
	plan := map[string]string{} // package -> go test -run regexp
	if *ratchet != "" {
		var err error
		if expected, err = readList(*ratchet); err != nil {
			fatal(err)
		}
		if len(expected) == 0 {
			fmt.Println("0 passed, 0 failed")
			return
		}
		plan = ratchetPlan(expected)
	} else {
		for _, p := range strings.Split(*pkgs, ",") {
			if p = strings.TrimSpace(p); p != "" {
				plan[p] = *run
			}
		}
	}

	dir, err := moduleDir()
	if err != nil {
		fatal(err)
	}
	env, err := suiteEnv(*impl, *weedvol, *weed)
	if err != nil {
		fatal(err)
	}

	names := make([]string, 0, len(plan))
	for p := range plan {
		names = append(names, p)
	}
	sort.Strings(names)
	start := time.Now()
	var results []result
	for _, p := range names {
		rs, err := runPackage(dir, p, plan[p], env, *timeout)
		if err != nil {
			fatal(err)
		}
		results = append(results, rs...)
	}
	took := time.Since(start)

	if *status != "" {
		if err := writeStatus(*status, *impl, strings.Join(os.Args[1:], " "), results, took); err != nil {
			fatal(err)
		}
	}
	fmt.Printf("wall time %s\n", took.Round(time.Second))

	if *ratchet != "" {
		passed, failed := checkRatchet(expected, results)
		fmt.Printf("%d passed, %d failed\n", passed, failed)
		if failed > 0 {
			os.Exit(1)
		}
		return
	}
	t := tally(results)
	fmt.Printf("%d passed, %d failed, %d skipped\n", t.pass, t.fail, t.skip)
}

// ratchetPlan builds one anchored -run regexp per package from the list.
func ratchetPlan(expected []result) map[string]string {
	byPkg := map[string][]string{}
	for _, e := range expected {
		byPkg[e.pkg] = append(byPkg[e.pkg], regexp.QuoteMeta(e.name))
	}
	plan := make(map[string]string, len(byPkg))
	for p, names := range byPkg {
		plan[p] = "^(" + strings.Join(names, "|") + ")$"
	}
	return plan
}

// checkRatchet counts listed tests that passed and reports the others.
func checkRatchet(expected, results []result) (passed, failed int) {
	got := make(map[string]outcome, len(results))
	for _, r := range results {
		got[r.pkg+" "+r.name] = r.action
	}
	for _, e := range expected {
		a := got[e.pkg+" "+e.name]
		if a == "pass" {
			passed++
			continue
		}
		if a == "" {
			a = "did not run"
		}
		failed++
		fmt.Printf("RATCHET: %s %s is listed as passing but %s\n", e.pkg, e.name, a)
	}
	return passed, failed
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "runparity:", err)
	os.Exit(2)
}
