// Package layering holds the tests that keep the project's architecture:
// the engine (with its leaf packages mmapidx and atomicfile) is the only
// code that creates, renames, rewrites or deletes files in a data
// directory, and httpfast and grpcsvc never import each other.
package layering

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/weedvol/weedvol"

// fileOwners may change files: the engine and the leaf packages it uses.
var fileOwners = []string{"engine", "mmapidx", "atomicfile"}

// harnesses are test tools that build data directories of their own
// (corpora, crash runs, benchmarks) and are not part of the server.
var harnesses = []string{"difftest", "reliability", "bench", "parity", "internal", "tools", "bin"}

// allowed lists the calls outside the engine that change files and why.
var allowed = map[string]string{
	"cmd/weedvol/profile.go:os.Create": "-cpuprofile and -memprofile name files the operator chose, outside the data directories",
	// upstream's glog files: made, rotated, compressed and pruned under -logdir, outside the data directories
	"wlog/file.go:os.OpenFile": "log files under -logdir",
	"wlog/file.go:os.Create":   "the .gz.tmp of a rotated log file being compressed",
	"wlog/file.go:os.Rename":   "a compressed log file taking its .gz name",
	"wlog/file.go:os.Remove":   "log files past -log_max_files, and compressed originals",
	"wlog/file.go:os.Symlink":  "the <program>.<SEVERITY> link to the newest log file",
}

// changers are the functions that create, move, rewrite or remove files.
var changers = map[string]*regexp.Regexp{
	"os":   regexp.MustCompile(`^(Create|CreateTemp|OpenFile|Rename|Remove|RemoveAll|Mkdir|MkdirAll|MkdirTemp|WriteFile|Symlink|Link|Truncate|Chmod|Chown|Lchown|Chtimes|OpenRoot)$`),
	"unix": regexp.MustCompile(`^(Open|Openat|Openat2|Creat|Rename|Renameat|Renameat2|Unlink|Unlinkat|Mkdir|Mkdirat|Link|Linkat|Symlink|Symlinkat|Truncate|Ftruncate|Fallocate)$`),
}

func under(rel string, dirs []string) bool {
	for _, d := range dirs {
		if rel == d || strings.HasPrefix(rel, d+"/") {
			return true
		}
	}
	return false
}

// sources parses every non-test Go file of the module outside the
// harnesses and calls f with its path relative to the module root.
func sources(t *testing.T, f func(rel string, file *ast.File)) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	n := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || under(rel, harnesses)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		n++
		f(rel, file)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("found only %d source files under %s", n, root)
	}
}

// importName maps each import of file to the name it is used by.
func importNames(file *ast.File) map[string]string {
	names := map[string]string{}
	for _, im := range file.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		name := p[strings.LastIndex(p, "/")+1:]
		if im.Name != nil {
			name = im.Name.Name
		}
		names[name] = p
	}
	return names
}

func TestOnlyTheEngineChangesFiles(t *testing.T) {
	sources(t, func(rel string, file *ast.File) {
		if under(rel, fileOwners) {
			return
		}
		names := importNames(file)
		for name, p := range names {
			if p == module+"/atomicfile" {
				t.Errorf("%s imports %s (name %s): file replacement belongs in engine/", rel, p, name)
			}
		}
		ast.Inspect(file, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			id, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			p := names[id.Name]
			pkg := map[string]string{"os": "os", "golang.org/x/sys/unix": "unix", "syscall": "unix"}[p]
			re := changers[pkg]
			if re == nil || !re.MatchString(sel.Sel.Name) {
				return true
			}
			key := rel + ":" + pkg + "." + sel.Sel.Name
			if _, ok := allowed[key]; ok {
				return true
			}
			t.Errorf("%s: %s.%s changes files (file changes belong in engine/)", rel, id.Name, sel.Sel.Name)
			return true
		})
	})
}

func TestFrontEndsDoNotImportEachOther(t *testing.T) {
	sources(t, func(rel string, file *ast.File) {
		for a, b := range map[string]string{"httpfast": "grpcsvc", "grpcsvc": "httpfast"} {
			if !under(rel, []string{a}) {
				continue
			}
			for _, p := range importNames(file) {
				if p == module+"/"+b || strings.HasPrefix(p, module+"/"+b+"/") {
					t.Errorf("%s imports %s: what both need lives in a package beneath both", rel, p)
				}
			}
		}
	})
}

// TestCheckerSeesViolations makes sure the checks above can fail.
func TestCheckerSeesViolations(t *testing.T) {
	src := "package x\nimport (\n\tos2 \"os\"\n\t\"golang.org/x/sys/unix\"\n)\nfunc f() { os2.Rename(\"a\", \"b\"); unix.Unlinkat(0, \"a\", 0) }\n"
	file, err := parser.ParseFile(token.NewFileSet(), "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	names := importNames(file)
	found := 0
	ast.Inspect(file, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				pkg := map[string]string{"os": "os", "golang.org/x/sys/unix": "unix"}[names[id.Name]]
				if re := changers[pkg]; re != nil && re.MatchString(sel.Sel.Name) {
					found++
				}
			}
		}
		return true
	})
	if found != 2 {
		t.Fatalf("found %d of 2 file changes in %q", found, src)
	}
}

// TestEngineDoesNotImportPrometheus keeps the metrics library out of the
// storage packages: they count in plain atomics that metrics/ reads.
func TestEngineDoesNotImportPrometheus(t *testing.T) {
	sources(t, func(rel string, file *ast.File) {
		if !under(rel, []string{"engine", "iouring", "mmapidx", "atomicfile"}) {
			return
		}
		for _, p := range importNames(file) {
			if strings.HasPrefix(p, "github.com/prometheus/") || p == module+"/metrics" {
				t.Errorf("%s imports %s: the engine keeps atomic counters that metrics/ reads", rel, p)
			}
		}
	})
}
