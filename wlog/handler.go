package wlog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options are upstream's logging flags (Register binds them to a flag set).
type Options struct {
	Dir             string   // -logdir: "" is the temp dir
	ToStderr        bool     // -logtostderr: stderr only, no files
	AlsoToStderr    bool     // -alsologtostderr: stderr as well as files
	StderrThreshold Severity // -stderrthreshold: this and above go to stderr too
	V               int      // -v
	VModule         string   // -vmodule: pattern=N,... on file names without .go
	MaxSizeMB       uint64   // -log_max_size_mb: 0 is 1800
	MaxFiles        int      // -log_max_files per severity: 0 is 5
	RotateHours     int      // -log_rotate_hours: 0 rotates by size only
	Compress        bool     // -log_compress: gzip rotated files
	JSON            bool     // -log_json

	Program string    // file name prefix: "" is the base name of os.Args[0]
	Stderr  io.Writer // nil is os.Stderr

	maxBytes uint64           // tests: overrides MaxSizeMB
	clock    func() time.Time // tests: the time of records and file names
}

// Defaults are upstream's flag defaults.
func Defaults() Options {
	return Options{AlsoToStderr: true, StderrThreshold: Error, MaxSizeMB: 1800, MaxFiles: 5, RotateHours: 168}
}

// Handler is a slog.Handler writing glog lines (or upstream's JSON lines)
// to stderr and the severity files. Handlers made by WithAttrs and
// WithGroup share their parent's outputs.
type Handler struct {
	*sink
	prefix string // preformatted " key=value" attributes
	group  string // "g." prefix of attribute keys
}

// sink is the state the Handlers of one New share.
type sink struct {
	opts      Options
	stderr    io.Writer
	verbosity atomic.Int32
	vmodule   []modulePat // nil when -vmodule is unset; never changed after New
	clock     func() time.Time

	vmu  sync.Mutex
	vmap map[uintptr]int // caller pc -> -vmodule level

	mu          sync.Mutex // serialises every write
	files       [numSeverity]*logFile
	fileFailed  bool // a file could not be made: stderr only from then on
	compressing sync.WaitGroup
	rmu         sync.Mutex // between removing old files and finishing a compression
	ident       ident
}

// New checks o and returns a Handler writing as o says. Files are made on
// the first line of their severity, as glog does; a -logdir that is not a
// directory is an error now rather than a silent stderr-only server.
func New(o Options) (*Handler, error) {
	if o.MaxSizeMB == 0 {
		o.MaxSizeMB = 1800
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = 5
	}
	if o.RotateHours < 0 {
		return nil, fmt.Errorf("-log_rotate_hours %d is negative", o.RotateHours)
	}
	if o.Program == "" {
		o.Program = filepath.Base(os.Args[0])
	}
	if o.Dir == "" {
		o.Dir = os.TempDir()
	}
	if !o.ToStderr {
		if st, err := os.Stat(o.Dir); err != nil {
			return nil, fmt.Errorf("-logdir: %w", err)
		} else if !st.IsDir() {
			return nil, fmt.Errorf("-logdir %s is not a directory", o.Dir)
		}
	}
	vm, err := parseVModule(o.VModule)
	if err != nil {
		return nil, err
	}
	s := &sink{opts: o, stderr: o.Stderr, vmodule: vm, clock: o.clock, ident: currentIdent(o.Program)}
	if s.stderr == nil {
		s.stderr = os.Stderr
	}
	if vm != nil {
		s.vmap = make(map[uintptr]int)
	}
	s.verbosity.Store(int32(o.V))
	return &Handler{sink: s}, nil
}

// Close closes the files after waiting for rotated ones being compressed.
func (h *Handler) Close() error {
	h.compressing.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	var first error
	for i, f := range h.files {
		if f != nil {
			if err := f.f.Close(); err != nil && first == nil {
				first = err
			}
			h.files[i] = nil
		}
	}
	h.fileFailed = true // a line after Close goes to stderr only
	return first
}

// SetV changes -v while running.
func (h *Handler) SetV(n int) { h.verbosity.Store(int32(n)) }

// WithAttrs is slog's: the attributes follow every message as key=value.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	b := []byte(h.prefix)
	for _, a := range as {
		b = appendAttr(b, h.group, a)
	}
	return &Handler{sink: h.sink, prefix: string(b), group: h.group}
}

// WithGroup is slog's: later attribute keys are prefixed with name and a dot.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &Handler{sink: h.sink, prefix: h.prefix, group: h.group + name + "."}
}

func appendAttr(b []byte, group string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return b
	}
	if a.Value.Kind() == slog.KindGroup {
		g := group
		if a.Key != "" {
			g += a.Key + "."
		}
		for _, ga := range a.Value.Group() {
			b = appendAttr(b, g, ga)
		}
		return b
	}
	b = append(b, ' ')
	b = append(b, group...)
	b = append(b, a.Key...)
	b = append(b, '=')
	v := a.Value.String()
	if strings.ContainsAny(v, " \"=\n") || v == "" {
		return strconv.AppendQuote(b, v)
	}
	return append(b, v...)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Handle writes r: one line to each output its severity reaches.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	file, line := "???", 1
	if r.PC != 0 {
		fr, _ := runtime.CallersFrames([]uintptr{r.PC}).Next()
		if fr.File != "" {
			file, line = filepath.Base(fr.File), fr.Line
		}
	}
	msg := r.Message
	if len(h.prefix) > 0 || r.NumAttrs() > 0 {
		b := append([]byte(msg), h.prefix...)
		r.Attrs(func(a slog.Attr) bool { b = appendAttr(b, h.group, a); return true })
		msg = string(b)
	}
	msg = bound(strings.TrimRight(msg, "\n"))
	t := r.Time
	if t.IsZero() {
		t = h.now()
	}
	s := severityOf(r.Level)
	bp := bufPool.Get().(*[]byte)
	b := (*bp)[:0]
	if h.opts.JSON {
		b = appendJSON(b, s, t, file, line, msg)
	} else {
		b = appendHeader(b, s, t, file, line)
		b = append(b, msg...)
		b = append(b, '\n')
	}
	h.output(s, b, t)
	if cap(b) <= 64<<10 {
		*bp = b
		bufPool.Put(bp)
	}
	return nil
}

// appendHeader appends upstream's "Lmmdd hh:mm:ss.uuuuuu file:line ".
func appendHeader(b []byte, s Severity, t time.Time, file string, line int) []byte {
	_, month, day := t.Date()
	hh, mm, ss := t.Clock()
	b = append(b, severityChars[s])
	b = two(b, int(month))
	b = two(b, day)
	b = append(b, ' ')
	b = two(b, hh)
	b = append(b, ':')
	b = two(b, mm)
	b = append(b, ':')
	b = two(b, ss)
	b = append(b, '.')
	us := t.Nanosecond() / 1000
	for d := 100000; d > 0; d /= 10 {
		b = append(b, byte('0'+us/d%10))
	}
	b = append(b, ' ')
	b = append(b, file...)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(line), 10)
	return append(b, ' ')
}

func two(b []byte, n int) []byte { return append(b, byte('0'+n/10%10), byte('0'+n%10)) }

// output writes one formatted line where its severity goes. h.mu is taken.
func (h *Handler) output(s Severity, line []byte, t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	o := &h.opts
	if o.ToStderr {
		h.stderr.Write(line)
		return
	}
	toStderr := o.AlsoToStderr || s >= o.StderrThreshold
	if toStderr {
		h.stderr.Write(line)
	}
	if h.fileFailed {
		if !toStderr {
			h.stderr.Write(line) // the line must appear somewhere
		}
		return
	}
	for sev := s; sev >= Info; sev-- {
		if err := h.writeFile(sev, line, t); err != nil {
			h.fileFailed = true
			fmt.Fprintf(h.stderr, "wlog: %v; logging to stderr only from now on\n", err)
			if !toStderr {
				h.stderr.Write(line)
			}
			return
		}
	}
}
