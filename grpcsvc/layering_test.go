package grpcsvc

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestNoFileWritesOutsideEngine keeps the rule that the engine creates,
// renames and rewrites every file of a data directory (so its name checks
// and link rules apply): the service's own code calls no os function that
// creates or moves a file. Removing a file it created itself is allowed.
func TestNoFileWritesOutsideEngine(t *testing.T) {
	banned := regexp.MustCompile(`\bos\.(Create|CreateTemp|OpenFile|Rename|Mkdir|MkdirAll|WriteFile|Symlink|Link|Truncate|Chmod|RemoveAll|OpenRoot)\(`)
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if banned.MatchString(line) {
				t.Errorf("%s:%d: %s (file changes belong in engine/)", f, i+1, strings.TrimSpace(line))
			}
		}
	}
}
