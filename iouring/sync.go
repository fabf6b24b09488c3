package iouring

import (
	"errors"
	"io"
	"os"
)

// NewSync returns the portable engine: os.File ReadAt/WriteAt (pread,
// pwrite), pwritev for WriteVAt where the system has it, fdatasync on Linux.
// It works on every platform and holds no resources.
func NewSync() Engine { return syncEngine{} }

type syncEngine struct{}

func (syncEngine) Name() string { return "sync" }
func (syncEngine) Close() error { return nil }

func (syncEngine) Open(f *os.File) (File, error) {
	if f == nil {
		return nil, os.ErrInvalid
	}
	return &syncFile{h: newHandle(f)}, nil
}

func (syncEngine) openHandle(h *handle) (File, error) { return &syncFile{h: h}, nil }

type syncFile struct {
	h *handle
}

// ReadAt and WriteAt go straight to os.File, which holds its own reference
// on the descriptor and reports os.ErrClosed after Close.
func (f *syncFile) ReadAt(p []byte, off int64) (int, error) {
	countOp(EngineSync, kindRead)
	n, err := f.h.f.ReadAt(p, off)
	if err != nil {
		noteIOError(err)
	}
	return n, err
}

func (f *syncFile) WriteAt(p []byte, off int64) (int, error) {
	countOp(EngineSync, kindWrite)
	n, err := f.h.f.WriteAt(p, off)
	if err != nil {
		noteIOError(err)
	}
	return n, err
}

func (f *syncFile) WriteVAt(bufs [][]byte, off int64) (int64, error) {
	countOp(EngineSync, kindWriteV)
	if off < 0 {
		return 0, f.h.pathErr("writev", errNegativeOffset)
	}
	if err := f.h.acquire("writev"); err != nil {
		return 0, err
	}
	defer f.h.release()
	var total int64
	for len(bufs) > 0 {
		chunk := bufs[:min(len(bufs), iovMax)]
		bufs = bufs[len(chunk):]
		want := int64(0)
		for _, b := range chunk {
			want += int64(len(b))
		}
		if want == 0 {
			continue
		}
		n, err := pwritev(f.h.fd, chunk, off)
		if n < 0 {
			n = 0
		}
		if err != nil && !errors.Is(err, errors.ErrUnsupported) {
			return total + int64(n), f.h.pathErr("writev", err)
		}
		if int64(n) < want {
			// Short or unsupported: finish this chunk with WriteAt, which
			// loops until everything is written.
			if err := f.writeRest(chunk, int64(n), off); err != nil {
				return total + int64(n), err
			}
		}
		total += want
		off += want
	}
	return total, nil
}

// writeRest writes what remains of bufs after their first done bytes, at
// off+done.
func (f *syncFile) writeRest(bufs [][]byte, done, off int64) error {
	skip := done
	at := off + done
	for _, b := range bufs {
		if skip >= int64(len(b)) {
			skip -= int64(len(b))
			continue
		}
		b = b[skip:]
		skip = 0
		n, err := f.h.f.WriteAt(b, at)
		at += int64(n)
		if err != nil {
			return err
		}
	}
	return nil
}

func (f *syncFile) Sync() error {
	countOp(EngineSync, kindSync)
	if err := f.h.acquire("sync"); err != nil {
		return err
	}
	defer f.h.release()
	if err := fdatasync(f.h.f, f.h.fd); err != nil {
		return f.h.pathErr("sync", err)
	}
	return nil
}

func (f *syncFile) Fd() uintptr  { return uintptr(f.h.fd) }
func (f *syncFile) Close() error { return f.h.close() }

var _ io.ReaderAt = (*syncFile)(nil)
