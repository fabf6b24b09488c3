package wlog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// glogLine is upstream's line: severity, mmdd, time to the microsecond,
// file:line, message.
var glogLine = regexp.MustCompile(`^([IWEF])(\d\d)(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6}) ([^ :]+):(\d+) (.*)$`)

// lockedBuffer is a concurrency-safe stderr for tests.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return splitLines(l.b.String())
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// install makes a Handler from o the default for the test.
func install(t *testing.T, o Options) *Handler {
	t.Helper()
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	old := SetDefault(h)
	t.Cleanup(func() { SetDefault(old); h.Close() })
	return h
}

func here() int { _, _, line, _ := runtime.Caller(1); return line }

func TestLineFormat(t *testing.T) {
	var errOut lockedBuffer
	install(t, Options{ToStderr: true, Stderr: &errOut})
	before := time.Now()
	var lines []int
	Infof("info %d", 1)
	lines = append(lines, here()-1)
	Warningf("warning %s", "two")
	lines = append(lines, here()-1)
	Errorf("error %v", 3.5)
	lines = append(lines, here()-1)
	V(0).Infof("v0 %q", "x")
	lines = append(lines, here()-1)
	Infof("no args %d")
	lines = append(lines, here()-1)

	want := []struct{ sev, msg string }{
		{"I", "info 1"}, {"W", "warning two"}, {"E", "error 3.5"}, {"I", `v0 "x"`}, {"I", "no args %d"},
	}
	got := errOut.lines()
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d: %q", len(got), len(want), got)
	}
	for i, w := range want {
		m := glogLine.FindStringSubmatch(got[i])
		if m == nil {
			t.Fatalf("line %q is not a glog line", got[i])
		}
		if m[1] != w.sev || m[10] != w.msg {
			t.Errorf("line %d: severity %s message %q, want %s %q", i, m[1], m[10], w.sev, w.msg)
		}
		if m[8] != "wlog_test.go" || m[9] != strconv.Itoa(lines[i]) {
			t.Errorf("line %d: at %s:%s, want wlog_test.go:%d", i, m[8], m[9], lines[i])
		}
		if m[2] != fmt.Sprintf("%02d", before.Month()) || m[3] != fmt.Sprintf("%02d", before.Day()) {
			t.Errorf("line %d: date %s%s, want today", i, m[2], m[3])
		}
	}
}

func TestBound(t *testing.T) {
	cases := []struct {
		name string
		msg  string
		want string
	}{
		{"short", "abc", "abc"},
		{"exact", strings.Repeat("a", MaxLine), strings.Repeat("a", MaxLine)},
		{"long", strings.Repeat("a", MaxLine+10), strings.Repeat("a", MaxLine) + "... (10 more bytes)"},
		{"rune boundary", strings.Repeat("a", MaxLine-1) + "é" + "b", strings.Repeat("a", MaxLine-1) + "... (3 more bytes)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var errOut lockedBuffer
			install(t, Options{ToStderr: true, Stderr: &errOut})
			Infof("%s", c.msg)
			m := glogLine.FindStringSubmatch(errOut.lines()[0])
			if m == nil || m[10] != c.want {
				t.Fatalf("logged %d bytes, want %d", len(m[10]), len(c.want))
			}
		})
	}
}

// logFiles lists dir's regular files of program, by severity.
func logFiles(t *testing.T, dir, program string) map[string][]string {
	t.Helper()
	id := currentIdent(program)
	pat := regexp.MustCompile(`^` + regexp.QuoteMeta(program+"."+id.host+"."+id.user) + `\.log\.(INFO|WARNING|ERROR)\.\d{8}-\d{6}\.` + strconv.Itoa(os.Getpid()) + `(\.gz)?$`)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, e := range entries {
		if e.Type()&os.ModeSymlink != 0 {
			continue
		}
		m := pat.FindStringSubmatch(e.Name())
		if m == nil {
			t.Fatalf("unexpected file %s", e.Name())
		}
		out[m[1]] = append(out[m[1]], e.Name())
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

// bodyLines are a log file's lines after its four header lines.
func bodyLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := splitLines(string(b))
	if len(lines) < 4 || !strings.HasPrefix(lines[0], "Log file created at: ") || !strings.HasPrefix(lines[3], "Log line format: ") {
		t.Fatalf("%s: no glog header: %q", path, lines)
	}
	return lines[4:]
}

func TestFilesAndSymlinks(t *testing.T) {
	dir := t.TempDir()
	var errOut lockedBuffer
	h := install(t, Options{Dir: dir, Program: "weedtest", StderrThreshold: Error, MaxFiles: 5, Stderr: &errOut})
	Infof("one")
	Warningf("two")
	Errorf("three")
	h.Close()
	files := logFiles(t, dir, "weedtest")
	want := map[string][]string{"INFO": {"one", "two", "three"}, "WARNING": {"two", "three"}, "ERROR": {"three"}}
	for sev, msgs := range want {
		if len(files[sev]) != 1 {
			t.Fatalf("%s: files %v, want one", sev, files[sev])
		}
		target, err := os.Readlink(filepath.Join(dir, "weedtest."+sev))
		if err != nil || target != files[sev][0] {
			t.Errorf("symlink weedtest.%s -> %q (%v), want %s", sev, target, err, files[sev][0])
		}
		var got []string
		for _, l := range bodyLines(t, filepath.Join(dir, files[sev][0])) {
			m := glogLine.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("%s: %q is not a glog line", sev, l)
			}
			got = append(got, m[10])
		}
		if fmt.Sprint(got) != fmt.Sprint(msgs) {
			t.Errorf("%s file holds %q, want %q", sev, got, msgs)
		}
	}
	if len(files) != 3 {
		t.Errorf("files %v, want INFO, WARNING and ERROR only", files)
	}
}

func TestNoFileBeforeItsSeverity(t *testing.T) {
	dir := t.TempDir()
	h := install(t, Options{Dir: dir, Program: "weedtest", MaxFiles: 5, Stderr: io.Discard})
	Infof("info only")
	h.Close()
	if files := logFiles(t, dir, "weedtest"); len(files) != 1 || len(files["INFO"]) != 1 {
		t.Fatalf("files %v, want one INFO file", files)
	}
}

func TestStderr(t *testing.T) {
	cases := []struct {
		name      string
		o         Options
		onStderr  []string
		wantFiles bool
	}{
		{"upstream defaults", Options{AlsoToStderr: true, StderrThreshold: Error}, []string{"I", "W", "E"}, true},
		{"threshold error", Options{StderrThreshold: Error}, []string{"E"}, true},
		{"threshold warning", Options{StderrThreshold: Warning}, []string{"W", "E"}, true},
		{"threshold info", Options{StderrThreshold: Info}, []string{"I", "W", "E"}, true},
		{"threshold fatal", Options{StderrThreshold: Fatal}, nil, true},
		{"logtostderr", Options{ToStderr: true, StderrThreshold: Fatal}, []string{"I", "W", "E"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var errOut lockedBuffer
			dir := t.TempDir()
			o := c.o
			o.Dir, o.Program, o.Stderr = dir, "weedtest", &errOut
			h := install(t, o)
			Infof("i")
			Warningf("w")
			Errorf("e")
			h.Close()
			var got []string
			for _, l := range errOut.lines() {
				got = append(got, l[:1])
			}
			if fmt.Sprint(got) != fmt.Sprint(c.onStderr) {
				t.Errorf("stderr has %v, want %v", got, c.onStderr)
			}
			if files := logFiles(t, dir, "weedtest"); (len(files) > 0) != c.wantFiles {
				t.Errorf("files %v, want files: %v", files, c.wantFiles)
			}
		})
	}
}

func TestVerbosity(t *testing.T) {
	cases := []struct {
		v       int
		vmodule string
		on      []int // of V(1), V(2), V(3)
	}{
		{0, "", nil},
		{1, "", []int{1}},
		{2, "", []int{1, 2}},
		{0, "wlog_test=2", []int{1, 2}},
		{1, "wlog_*=3", []int{1, 2, 3}},
		{0, "other=4", nil},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("v=%d,vmodule=%s", c.v, c.vmodule), func(t *testing.T) {
			var errOut lockedBuffer
			install(t, Options{ToStderr: true, V: c.v, VModule: c.vmodule, Stderr: &errOut})
			for n := 1; n <= 3; n++ {
				V(n).Infof("level %d", n)
			}
			var on []int
			for _, l := range errOut.lines() {
				m := glogLine.FindStringSubmatch(l)
				n, _ := strconv.Atoi(strings.TrimPrefix(m[10], "level "))
				on = append(on, n)
			}
			if fmt.Sprint(on) != fmt.Sprint(c.on) {
				t.Errorf("logged levels %v, want %v", on, c.on)
			}
		})
	}
}

func TestVOffAllocatesNothing(t *testing.T) {
	for _, vmodule := range []string{"", "other=4"} {
		install(t, Options{ToStderr: true, VModule: vmodule, Stderr: io.Discard})
		n := testing.AllocsPerRun(100, func() {
			V(2).Infof("off %d %s", 7, "x")
			if V(3) {
				Infof("never")
			}
		})
		if n != 0 {
			t.Errorf("vmodule %q: %v allocations per V call that is off", vmodule, n)
		}
	}
}

func TestRotationBySizeKeepsMaxFilesAndCompresses(t *testing.T) {
	dir := t.TempDir()
	h := install(t, Options{Dir: dir, Program: "weedtest", MaxFiles: 3, Compress: true, StderrThreshold: Fatal, Stderr: io.Discard, maxBytes: 2000})
	msg := strings.Repeat("x", 100)
	const n = 100 // ~13 KB of lines: about seven files of 2000 bytes
	for i := range n {
		Infof("%04d %s", i, msg)
	}
	h.Close() // waits for the compressions
	files := logFiles(t, dir, "weedtest")["INFO"]
	if len(files) != 3 {
		t.Fatalf("INFO files %v, want 3 (-log_max_files)", files)
	}
	target, _ := os.Readlink(filepath.Join(dir, "weedtest.INFO"))
	if target != files[2] || strings.HasSuffix(target, ".gz") {
		t.Errorf("symlink -> %s, want the newest, uncompressed file %s", target, files[2])
	}
	last := -1
	for i, f := range files {
		path := filepath.Join(dir, f)
		if gz := strings.HasSuffix(f, ".gz"); gz != (i < 2) {
			t.Fatalf("%s: compressed %v, want rotated files compressed and the current one not", f, gz)
		}
		if st, _ := os.Stat(path); !strings.HasSuffix(f, ".gz") && st.Size() >= 2000 {
			t.Errorf("%s has %d bytes, over the rotation size", f, st.Size())
		}
		if strings.HasSuffix(f, ".gz") {
			raw, _ := os.ReadFile(path)
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			plain, _ := io.ReadAll(zr)
			path = filepath.Join(t.TempDir(), "plain")
			os.WriteFile(path, plain, 0o644)
		}
		for _, l := range bodyLines(t, path) {
			m := glogLine.FindStringSubmatch(l)
			k, _ := strconv.Atoi(m[10][:4])
			if k != last+1 && last != -1 {
				t.Fatalf("%s: line %d follows %d", f, k, last)
			}
			last = k
		}
	}
	if last != n-1 {
		t.Errorf("the newest file ends with line %d, want %d", last, n-1)
	}
}

func TestRotationByAge(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.Local)
	clock := func() time.Time { return now }
	h := install(t, Options{Dir: dir, Program: "weedtest", MaxFiles: 5, RotateHours: 2, Stderr: io.Discard, clock: clock})
	Infof("first")
	now = now.Add(time.Hour)
	Infof("same file")
	now = now.Add(time.Hour)
	Infof("second file")
	h.Close()
	files := logFiles(t, dir, "weedtest")["INFO"]
	if len(files) != 2 || !strings.Contains(files[0], ".20260304-050607.") || !strings.Contains(files[1], ".20260304-070607.") {
		t.Fatalf("files %v, want ones started at 05:06:07 and 07:06:07", files)
	}
	if got := bodyLines(t, filepath.Join(dir, files[1])); len(got) != 1 || !strings.HasSuffix(got[0], " second file") {
		t.Errorf("second file holds %q", got)
	}
}

func TestJSONLines(t *testing.T) {
	dir := t.TempDir()
	var errOut lockedBuffer
	h := install(t, Options{Dir: dir, Program: "weedtest", JSON: true, AlsoToStderr: true, MaxFiles: 5, Stderr: &errOut})
	Infof("plain")
	line := here() - 1
	Errorf("quote \" backslash \\ newline \n tab \t ctl \x01 bad \xff end")
	h.Close()
	files := logFiles(t, dir, "weedtest")
	raw, err := os.ReadFile(filepath.Join(dir, files["INFO"][0]))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, []byte(strings.Join(errOut.lines(), "\n")+"\n")) {
		t.Errorf("the INFO file and stderr differ:\n%s\n%s", raw, strings.Join(errOut.lines(), "\n"))
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	var recs []map[string]any
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		recs = append(recs, m)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2 (and no header)", len(recs))
	}
	for _, r := range recs {
		if len(r) != 5 {
			t.Errorf("fields %v, want ts, level, file, line, msg", r)
		}
		if _, err := time.Parse(time.RFC3339Nano, r["ts"].(string)); err != nil || !strings.HasSuffix(r["ts"].(string), "Z") {
			t.Errorf("ts %v: %v", r["ts"], err)
		}
	}
	if recs[0]["level"] != "INFO" || recs[0]["file"] != "wlog_test.go" || recs[0]["line"] != float64(line) || recs[0]["msg"] != "plain" {
		t.Errorf("first record %v", recs[0])
	}
	if recs[1]["level"] != "ERROR" || recs[1]["msg"] != "quote \" backslash \\ newline \n tab \t ctl \x01 bad \ufffd end" {
		t.Errorf("second record %v", recs[1])
	}
}

func TestSlog(t *testing.T) {
	var errOut lockedBuffer
	h := install(t, Options{ToStderr: true, V: 1, Stderr: &errOut})
	l := slog.New(h).With("vid", 7).WithGroup("req")
	l.Info("hello", "id", "ABC", "path", "/a b")
	l.Log(nil, slog.Level(-1), "at v1")
	l.Debug("at v4 is off")
	l.Warn("warn")
	got := errOut.lines()
	want := []string{`I hello vid=7 req.id=ABC req.path="/a b"`, "I at v1 vid=7", "W warn vid=7"}
	if len(got) != len(want) {
		t.Fatalf("lines %q, want %d", got, len(want))
	}
	for i, w := range want {
		m := glogLine.FindStringSubmatch(got[i])
		if m == nil || m[1]+" "+m[10] != w {
			t.Errorf("line %q, want %q", got[i], w)
		}
	}
}

func TestConcurrentLinesStayWhole(t *testing.T) {
	dir := t.TempDir()
	h := install(t, Options{Dir: dir, Program: "weedtest", MaxFiles: 50, StderrThreshold: Fatal, Stderr: io.Discard, maxBytes: 20000})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				Warningf("g%d i%d %s", g, i, strings.Repeat("y", 50))
			}
		}()
	}
	wg.Wait()
	h.Close()
	count := 0
	for _, f := range logFiles(t, dir, "weedtest")["WARNING"] {
		for _, l := range bodyLines(t, filepath.Join(dir, f)) {
			if !glogLine.MatchString(l) {
				t.Fatalf("torn line %q", l)
			}
			count++
		}
	}
	if count != 800 {
		t.Errorf("%d lines, want 800", count)
	}
}

func TestFlags(t *testing.T) {
	cases := []struct {
		args    []string
		want    Options
		wantErr bool
	}{
		{nil, Defaults(), false},
		{[]string{"-v=2", "-stderrthreshold=warning", "-vmodule=store=3", "-logdir=/l", "-logtostderr", "-alsologtostderr=false"},
			Options{V: 2, StderrThreshold: Warning, VModule: "store=3", Dir: "/l", ToStderr: true, MaxSizeMB: 1800, MaxFiles: 5, RotateHours: 168}, false},
		{[]string{"-log_dir=/x", "-log_max_size_mb=10", "-log_max_files=2", "-log_rotate_hours=0", "-log_compress", "-log_json", "-stderrthreshold=1"},
			Options{Dir: "/x", MaxSizeMB: 10, MaxFiles: 2, Compress: true, JSON: true, AlsoToStderr: true, StderrThreshold: Warning}, false},
		{[]string{"-vmodule=x"}, Options{}, true},
		{[]string{"-vmodule=x=-1"}, Options{}, true},
		{[]string{"-stderrthreshold=loud"}, Options{}, true},
		{[]string{"-v=many"}, Options{}, true},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var o Options
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			Register(fs, &o)
			err := fs.Parse(c.args)
			if (err != nil) != c.wantErr {
				t.Fatalf("error %v, want error: %v", err, c.wantErr)
			}
			if err == nil && fmt.Sprintf("%+v", o) != fmt.Sprintf("%+v", c.want) {
				t.Errorf("options\n%+v, want\n%+v", o, c.want)
			}
		})
	}
}

func TestBadLogDir(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	for _, d := range []string{f, filepath.Join(f, "missing")} {
		if _, err := New(Options{Dir: d}); err == nil {
			t.Errorf("-logdir %s: no error", d)
		}
	}
}
