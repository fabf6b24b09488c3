package iouring

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// Engine opens Files; one Engine is shared by all volumes of a process.
type Engine interface {
	// Name is "uring", "sync" or "auto".
	Name() string
	// Open wraps an already-open file. The File owns f from then on:
	// File.Close closes f, and f must not be closed, or used through a raw
	// descriptor after Close, by anyone else. f must not be in O_APPEND
	// mode (positional writes need a positional file).
	Open(f *os.File) (File, error)
	// Close releases the engine's rings. Files opened from it must be
	// closed first; their operations fail with ErrEngineClosed afterwards.
	Close() error
}

// File is safe for concurrent use by many goroutines.
type File interface {
	// ReadAt has io.ReaderAt semantics: n < len(p) only with an error,
	// io.EOF when the file ends before p is full.
	ReadAt(p []byte, off int64) (int, error)
	// WriteAt writes all of p at off or returns an error.
	WriteAt(p []byte, off int64) (int, error)
	// WriteVAt writes bufs back-to-back starting at off, as one submission
	// where the engine can (IORING_OP_WRITEV, pwritev). It writes all
	// bytes or returns an error. Group commit: concurrent appends to one
	// volume are coalesced by the caller into one WriteVAt (and a Sync, or
	// both at once with WriteVAtSync).
	WriteVAt(bufs [][]byte, off int64) (int64, error)
	// Sync flushes written data to stable storage: fdatasync on Linux,
	// fsync elsewhere (F_FULLFSYNC on darwin).
	Sync() error
	// Fd is the file's descriptor, valid until Close.
	Fd() uintptr
	// Close closes the underlying *os.File after in-flight operations
	// finish. Operations after Close fail with an error matching
	// os.ErrClosed.
	Close() error
}

// ErrEngineClosed is returned by operations on Files whose io_uring
// engine has been closed.
var ErrEngineClosed = errors.New("iouring: engine closed")

// New returns the engine named by kind:
//
//   - "sync": pread/pwrite, available everywhere.
//   - "uring": io_uring; an error if a ring cannot be set up here (not
//     Linux, kernel older than 5.6, io_uring disabled by sysctl or seccomp).
//   - "auto" (or ""): routes each kind of operation to whichever engine
//     measured faster (see autoRoutes); everything goes to sync when
//     io_uring is unavailable. Never fails.
func New(kind string) (Engine, error) {
	switch kind {
	case "sync":
		return NewSync(), nil
	case "uring":
		e, err := newUring()
		if err != nil {
			return nil, err
		}
		return e, nil
	case "auto", "":
		return newAuto(autoRoutes), nil
	}
	return nil, fmt.Errorf("iouring: unknown engine %q (want auto, uring or sync)", kind)
}

// UringUnavailableReason reports why io_uring cannot be used in this
// process, or nil when it can. It sets up and tears down one ring the
// first time it is called and remembers the answer.
func UringUnavailableReason() error { return probeOnce() }

var probeOnce = sync.OnceValue(probeUring)

func probeUring() error {
	e, err := newUring()
	if err != nil {
		return err
	}
	return e.Close()
}

// setupHook, when set (by tests), runs before io_uring is set up; an error
// from it is reported as the setup failure, as ENOSYS or EPERM would be.
var setupHook func() error

// opener is an Engine that can wrap a handle shared with another engine's
// File, so the auto engine can route operations on one descriptor to both.
type opener interface {
	Engine
	openHandle(h *handle) (File, error)
}

// WriteVAtSync writes bufs back-to-back at off and then makes them
// durable, as WriteVAt followed by Sync. The io_uring engine does both in
// one submission (WRITEV linked to FSYNC), one system call per group
// commit; other engines make two calls.
func WriteVAtSync(f File, bufs [][]byte, off int64) (int64, error) {
	if w, ok := f.(interface {
		writeVAtSync(bufs [][]byte, off int64) (int64, error)
	}); ok {
		return w.writeVAtSync(bufs, off)
	}
	n, err := f.WriteVAt(bufs, off)
	if err != nil {
		return n, err
	}
	return n, f.Sync()
}

// handle is the *os.File behind a File, shared by the Files that the auto
// engine builds from both engines over it.
type handle struct {
	f    *os.File
	fd   int
	name string

	// mu guards the life of fd: operations that pass the raw descriptor
	// to the kernel (io_uring, pwritev, fdatasync) hold it shared from
	// before the call until the kernel is done with it; close holds it
	// exclusively. INVARIANT: fd is never closed, so its number is never
	// reused, while an operation holds mu.
	mu     sync.RWMutex
	closed bool // guarded by mu
}

func newHandle(f *os.File) *handle {
	return &handle{f: f, fd: int(f.Fd()), name: f.Name()}
}

// acquire takes a shared hold on the descriptor for an operation named op.
func (h *handle) acquire(op string) error {
	h.mu.RLock()
	if h.closed {
		h.mu.RUnlock()
		return h.pathErr(op, os.ErrClosed)
	}
	return nil
}

func (h *handle) release() { h.mu.RUnlock() }

func (h *handle) close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return h.pathErr("close", os.ErrClosed)
	}
	h.closed = true
	return h.f.Close()
}

func (h *handle) pathErr(op string, err error) error {
	noteIOError(err)
	return &os.PathError{Op: op, Path: h.name, Err: err}
}

var errNegativeOffset = errors.New("negative offset")
