package iouring

import (
	"bytes"
	"io"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weedvol/weedvol/internal/ringtest"
)

func uringOrSkip(t *testing.T) Engine {
	t.Helper()
	e, err := New("uring")
	if err != nil {
		ringtest.Unavailable(t, err) // fails in CI
		t.SkipNow()
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestRingFaults makes completions come back short, EAGAIN, EINTR or
// ECANCELED and checks that every operation still transfers everything.
func TestRingFaults(t *testing.T) {
	e := uringOrSkip(t)
	calls := 0
	faultHook = func(s *slot, res int32) int32 {
		calls++
		switch {
		case s.opcode == opFsync && s.afterLink:
			return -int32(unix.ECANCELED) // as if a write before it came up short
		case calls%7 == 0:
			return -int32(unix.EAGAIN)
		case calls%11 == 0:
			return -int32(unix.EINTR)
		case res > 1:
			return res / 2 // claim half; the rest is resubmitted (and rewritten or reread)
		}
		return res
	}
	defer func() { faultHook = nil }()

	f := openTemp(t, e)
	want := pattern(300000, 3)
	if n, err := f.WriteAt(want, 10); n != len(want) || err != nil {
		t.Fatalf("WriteAt = %d, %v", n, err)
	}
	got := make([]byte, len(want))
	if n, err := f.ReadAt(got, 10); n != len(want) || err != nil || !bytes.Equal(got, want) {
		t.Fatalf("ReadAt = %d, %v, equal %v", n, err, bytes.Equal(got, want))
	}
	// Past the end: short, then 0 bytes, then EOF with the right count.
	got = make([]byte, 1000)
	if n, err := f.ReadAt(got, int64(len(want))+10-300); n != 300 || err != io.EOF {
		t.Fatalf("ReadAt at end = %d, %v", n, err)
	}
	bufs := [][]byte{want[:5000], nil, want[5000:5001], want[5001:100000], want[100000:]}
	for _, durable := range []bool{false, true} {
		var n int64
		var err error
		if durable {
			n, err = WriteVAtSync(f, bufs, 400000)
		} else {
			n, err = f.WriteVAt(bufs, 400000)
		}
		if n != int64(len(want)) || err != nil {
			t.Fatalf("WriteVAt(durable=%v) = %d, %v", durable, n, err)
		}
		got = make([]byte, len(want))
		if _, err := f.ReadAt(got, 400000); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("ReadAt after WriteVAt(durable=%v): %v, equal %v", durable, err, bytes.Equal(got, want))
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if calls == 0 {
		t.Fatal("fault hook never ran")
	}
}

// TestRingPersistentError checks that a retryable error that never clears
// is reported after maxRetries rather than retried for ever.
func TestRingPersistentError(t *testing.T) {
	e := uringOrSkip(t)
	f := openTemp(t, e)
	faultHook = func(*slot, int32) int32 { return -int32(unix.EAGAIN) }
	defer func() { faultHook = nil }()
	if _, err := f.WriteAt([]byte("x"), 0); err == nil {
		t.Fatal("WriteAt: no error")
	}
	faultHook = nil
	if _, err := f.WriteAt([]byte("x"), 0); err != nil {
		t.Fatalf("WriteAt after clearing the fault: %v", err)
	}
}

// TestRingShortPipeRead reads more than a pipe holds: the kernel returns
// short reads, which are resubmitted until the writer has sent all.
func TestRingShortPipeRead(t *testing.T) {
	e := uringOrSkip(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	f, err := e.Open(pr)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := pattern(3000, 9)
	go func() {
		for i := 0; i < len(want); i += 1000 {
			pw.Write(want[i : i+1000])
			time.Sleep(5 * time.Millisecond)
		}
	}()
	got := make([]byte, len(want))
	if n, err := f.ReadAt(got, 0); n != len(want) || err != nil || !bytes.Equal(got, want) {
		t.Fatalf("ReadAt = %d, %v, equal %v", n, err, bytes.Equal(got, want))
	}
}

// TestRingRejectsAppend checks that O_APPEND files are refused, since a
// positional write there would append.
func TestRingRejectsAppend(t *testing.T) {
	e := uringOrSkip(t)
	osf, err := os.OpenFile(t.TempDir()+"/a", os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer osf.Close()
	if f, err := e.Open(osf); err == nil {
		f.Close()
		t.Fatal("Open(O_APPEND file): no error")
	}
}
