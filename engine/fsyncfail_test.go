package engine

import (
	"bytes"
	"errors"
	"os"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/iouring"
)

// syncFailer is an engine whose files' Sync fails while fail is set, as
// fsync does when the disk reports a write error (EIO).
type syncFailer struct {
	iouring.Engine
	fail atomic.Bool
}

func (e *syncFailer) Open(f *os.File) (iouring.File, error) {
	inner, err := e.Engine.Open(f)
	if err != nil {
		return nil, err
	}
	return &syncFailingFile{File: inner, e: e}, nil
}

type syncFailingFile struct {
	iouring.File
	e *syncFailer
}

func (f *syncFailingFile) Sync() error {
	if f.e.fail.Load() {
		return syscall.EIO
	}
	return f.File.Sync()
}

// TestFailedFsyncTurnsVolumeReadOnly: after an fsync fails the page cache
// may have dropped what it could not write, so the volume refuses writes
// from then on, reports itself read-only (what the heartbeat sends), keeps
// serving what was acknowledged before, and opens writable again after a
// restart has checked its files.
func TestFailedFsyncTurnsVolumeReadOnly(t *testing.T) {
	dir := t.TempDir()
	io := &syncFailer{Engine: iouring.NewSync()}
	v := newVolume(t, dir, io, needle.Version3, 4)
	before := []byte("acknowledged before the failure")
	mustWrite(t, v, 1, 0x11, before)

	io.fail.Store(true)
	n := needle.Needle{ID: 2, Cookie: 0x22, Data: []byte("lost")}
	if _, err := v.Write(&n, WriteOptions{Fsync: true}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("write with a failing fsync: %v, want EIO", err)
	}
	io.fail.Store(false)
	if !v.IsReadOnly() {
		t.Fatal("volume still writable after a failed fsync")
	}
	n = needle.Needle{ID: 3, Cookie: 0x33, Data: []byte("later")}
	if _, err := v.Write(&n, WriteOptions{}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write after the failure: %v, want ErrReadOnly", err)
	}
	if _, err := v.Delete(1, 0x11, WriteOptions{}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("delete after the failure: %v, want ErrReadOnly", err)
	}
	if got := mustRead(t, v, 1, 0x11); !bytes.Equal(got, before) {
		t.Fatalf("read %q, want %q", got, before)
	}
	var miss needle.Needle
	if _, err := v.Read(&miss, 2, 0x22, nil, ReadOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the failed write is readable: %v", err)
	}
	if err := v.Close(); err != nil {
		t.Logf("close: %v", err)
	}

	v = reopen(t, dir, iouring.NewSync())
	defer v.Close()
	if v.IsReadOnly() {
		t.Fatal("volume read-only after a clean reopen")
	}
	if got := mustRead(t, v, 1, 0x11); !bytes.Equal(got, before) {
		t.Fatalf("after reopen read %q, want %q", got, before)
	}
	mustWrite(t, v, 4, 0x44, []byte("after reopen"))
}
