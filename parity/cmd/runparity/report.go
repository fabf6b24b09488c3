package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

type counts struct{ pass, fail, skip int }

func (c *counts) add(a outcome) {
	switch a {
	case "pass":
		c.pass++
	case "fail":
		c.fail++
	case "skip":
		c.skip++
	}
}

func tally(results []result) counts {
	var c counts
	for _, r := range results {
		c.add(r.action)
	}
	return c
}

// writeStatus writes the Markdown report: when, against what, totals per
// package, then every top-level test with its result and, for failures
// and skips, the first `file.go:NN:` line it printed.
func writeStatus(path, impl, args string, results []result, took time.Duration) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Upstream volume server suite against %s\n\n", impl)
	fmt.Fprintf(&b, "Run on %s, wall time %s: `go run ./cmd/runparity %s`.\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), took.Round(time.Second), args)
	fmt.Fprintf(&b, "Suite: `%s{http,grpc,rust,merge}` at the version pinned in go.mod.\n\n", suite)

	byPkg := map[string]*counts{}
	var pkgs []string
	for _, r := range results {
		c := byPkg[r.pkg]
		if c == nil {
			c = &counts{}
			byPkg[r.pkg] = c
			pkgs = append(pkgs, r.pkg)
		}
		c.add(r.action)
	}
	sort.Strings(pkgs)
	b.WriteString("| package | pass | fail | skip |\n|---|---:|---:|---:|\n")
	for _, p := range pkgs {
		c := byPkg[p]
		fmt.Fprintf(&b, "| %s | %d | %d | %d |\n", p, c.pass, c.fail, c.skip)
	}
	all := tally(results)
	fmt.Fprintf(&b, "| **total** | **%d** | **%d** | **%d** |\n\n", all.pass, all.fail, all.skip)

	sorted := append([]result(nil), results...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].pkg != sorted[j].pkg {
			return sorted[i].pkg < sorted[j].pkg
		}
		return sorted[i].name < sorted[j].name
	})
	b.WriteString("| package | test | result | note |\n|---|---|---|---|\n")
	for _, r := range sorted {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.pkg, r.name, r.action, cell(r.note))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// cell makes s safe and short for one Markdown table cell.
func cell(s string) string {
	const max = 160
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "`", "'")
	if len(s) > max {
		n := max
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return s
}
