// Package wlog is weedvol's leveled log, written as upstream's glog fork
// writes it so that tools reading `weed volume` logs read weedvol's too:
//
//   - lines "Lmmdd hh:mm:ss.uuuuuu file:line msg" (L is I, W or E), or with
//     -log_json one JSON object a line with upstream's fields
//     ts, level, file, line and msg;
//   - files <program>.<host>.<user>.log.<SEVERITY>.<yyyymmdd-hhmmss>.<pid>
//     under -logdir (default the temp dir) with the <program>.<SEVERITY>
//     symlink to the newest; a file receives its severity and the ones above;
//   - -logtostderr, -alsologtostderr (default true, as upstream),
//     -stderrthreshold, -v and -vmodule with glog's meaning;
//   - rotation by size, by age and count of files kept, and gzip of rotated
//     files as upstream's -log_max_size_mb, -log_rotate_hours,
//     -log_max_files and -log_compress.
//
// Underneath is log/slog: Handler is a slog.Handler, and Infof, Warningf,
// Errorf and V(n).Infof build slog records for the default Handler. There
// is no Fatal: only cmd/weedvol exits.
//
// Invariants: a message is cut to MaxLine bytes (requests and peers' answers
// reach the log and none may make the server write an unbounded line);
// everything is safe for concurrent use; V(n) is two atomic loads and
// allocates nothing when level n is off (with -vmodule set it also looks
// its caller up in a small map under a lock).
package wlog

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Severity is glog's: a file of one severity receives that severity and
// the ones above it.
type Severity int32

// The severities, in increasing order, as glog numbers them (FATAL is
// accepted by -stderrthreshold but never logged).
const (
	Info Severity = iota
	Warning
	Error
	Fatal
	numSeverity
)

var severityNames = [numSeverity]string{"INFO", "WARNING", "ERROR", "FATAL"}

const severityChars = "IWEF"

func (s Severity) String() string {
	if s < 0 || s >= numSeverity {
		return strconv.Itoa(int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads a severity as -stderrthreshold takes it: a name in
// any case or its number.
func ParseSeverity(v string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(v, n) {
			return Severity(i), nil
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("severity %q is none of INFO, WARNING, ERROR, FATAL or a number", v)
	}
	return Severity(n), nil
}

// slogLevel maps a severity onto slog's levels; V(n) messages are INFO
// records at level -n.
func (s Severity) slogLevel() slog.Level {
	switch s {
	case Info:
		return slog.LevelInfo
	case Warning:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

// severityOf is the severity a slog level is written at: below WARN is
// INFO, below ERROR is WARNING, the rest ERROR.
func severityOf(l slog.Level) Severity {
	switch {
	case l < slog.LevelWarn:
		return Info
	case l < slog.LevelError:
		return Warning
	default:
		return Error
	}
}

// MaxLine bounds a message: longer ones are cut and end with
// "... (N more bytes)".
const MaxLine = 4096

// bound cuts msg to MaxLine bytes on a character boundary.
func bound(msg string) string {
	if len(msg) <= MaxLine {
		return msg
	}
	cut := MaxLine
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "... (" + strconv.Itoa(len(msg)-cut) + " more bytes)"
}

// std is the default Handler; until Setup replaces it, lines go to stderr.
var std atomic.Pointer[Handler]

func init() {
	h, _ := New(Options{ToStderr: true})
	std.Store(h)
}

// Default returns the Handler Infof and friends write to.
func Default() *Handler { return std.Load() }

// SetDefault makes h the Handler Infof and friends write to and returns
// the one it replaces (which the caller closes when it is done with it).
func SetDefault(h *Handler) *Handler { return std.Swap(h) }

// Logger is a slog.Logger on the default Handler at the time of the call.
func Logger() *slog.Logger { return slog.New(Default()) }

// Infof logs at INFO, as glog.Infof (and glog.V(0).Infof).
func Infof(format string, args ...any) { Default().printf(Info, 0, format, args) }

// Warningf logs at WARNING.
func Warningf(format string, args ...any) { Default().printf(Warning, 0, format, args) }

// Errorf logs at ERROR.
func Errorf(format string, args ...any) { Default().printf(Error, 0, format, args) }

// Verbose is V's answer: whether its level is on at the call site.
type Verbose bool

// V reports whether verbosity level n is on for the caller, from -v or
// from the caller's file in -vmodule. Use it as glog.V: V(2).Infof(...),
// or `if wlog.V(3) { ... }` where building the arguments costs.
func V(n int) Verbose {
	h := std.Load()
	if h.verbosity.Load() >= int32(n) {
		return true
	}
	if h.vmodule == nil {
		return false
	}
	var pcs [1]uintptr
	if runtime.Callers(2, pcs[:]) == 0 {
		return false
	}
	return h.vmoduleLevel(pcs[0]) >= n
}

// Infof logs at INFO when v is true.
func (v Verbose) Infof(format string, args ...any) {
	if v {
		Default().printf(Info, 0, format, args)
	}
}

// Enabled is slog's question: records below INFO are V levels (-1 is
// V(1)), on when -v reaches them.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || int32(-l) <= h.verbosity.Load()
}

// printf formats and writes one record; skip counts frames above the
// exported function that called it.
func (h *Handler) printf(s Severity, skip int, format string, args []any) {
	var pcs [1]uintptr
	runtime.Callers(3+skip, pcs[:])
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	r := slog.NewRecord(h.now(), s.slogLevel(), msg, pcs[0])
	_ = h.Handle(context.Background(), r)
}

// Flush is kept for glog's callers: lines are written as they are logged,
// so there is nothing buffered; it waits for rotated files still being
// compressed.
func Flush() { Default().compressing.Wait() }

func (h *Handler) now() time.Time {
	if h.clock != nil {
		return h.clock()
	}
	return time.Now()
}
