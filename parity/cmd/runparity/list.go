package main

import (
	"fmt"
	"os"
	"strings"
)

// readList parses an expected-pass file: `<package> <TestName>` per line,
// '#' starts a comment, blank lines and duplicates are ignored.
func readList(path string) ([]result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseList(path, string(b))
}

func parseList(name, text string) ([]result, error) {
	var out []result
	seen := map[string]bool{}
	for i, line := range strings.Split(text, "\n") {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 || !strings.HasPrefix(f[1], "Test") || strings.Contains(f[1], "/") {
			return nil, fmt.Errorf("%s:%d: want `<package> <TestName>`", name, i+1)
		}
		if key := f[0] + " " + f[1]; !seen[key] {
			seen[key] = true
			out = append(out, result{pkg: f[0], name: f[1]})
		}
	}
	return out, nil
}
