package iouring

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/weedvol/weedvol/internal/ringtest"
)

// testEngines returns every engine available here: sync always, uring
// when io_uring can be set up, and auto (which is sync-only without it).
func testEngines(t testing.TB) []Engine {
	t.Helper()
	out := []Engine{NewSync()}
	if e, err := New("uring"); err == nil {
		out = append(out, e)
	} else {
		ringtest.Unavailable(t, err)
	}
	auto, err := New("auto")
	if err != nil {
		t.Fatalf("New(auto): %v", err)
	}
	// Every route to uring, so that auto's dispatch of each kind is
	// exercised; the production table may route some kinds to sync.
	all := newAuto([numKinds]bool{true, true, true, true})
	out = append(out, auto, namedEngine{all, "auto-all-uring"})
	t.Cleanup(func() {
		for _, e := range out {
			e.Close()
		}
	})
	return out
}

// namedEngine renames an engine for subtest names.
type namedEngine struct {
	Engine
	name string
}

func (n namedEngine) Name() string { return n.name }

// forEngine runs fn as a subtest per engine on a fresh file.
func forEngine(t *testing.T, fn func(t *testing.T, f File)) {
	for _, e := range testEngines(t) {
		t.Run("Engine="+e.Name(), func(t *testing.T) {
			f := openTemp(t, e)
			fn(t, f)
		})
	}
}

func openTemp(t testing.TB, e Engine) File {
	t.Helper()
	osf, err := os.OpenFile(filepath.Join(t.TempDir(), "f.dat"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f, err := e.Open(osf)
	if err != nil {
		osf.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func pattern(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		off  int64
		size int
	}{
		{0, 0},
		{0, 1},
		{0, 4096},
		{1, 4095},
		{4097, 65537},
		{1<<20 + 3, 1<<20 + 5},
		{3 << 20, 2 << 20},
		{10 << 20, 0},
	}
	forEngine(t, func(t *testing.T, f File) {
		for i, c := range cases {
			want := pattern(c.size, uint64(i))
			n, err := f.WriteAt(want, c.off)
			if err != nil || n != c.size {
				t.Fatalf("WriteAt(%d bytes, %d) = %d, %v", c.size, c.off, n, err)
			}
			got := make([]byte, c.size)
			n, err = f.ReadAt(got, c.off)
			if err != nil || n != c.size {
				t.Fatalf("ReadAt(%d bytes, %d) = %d, %v", c.size, c.off, n, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("ReadAt(%d bytes, %d): data differs", c.size, c.off)
			}
		}
		// Re-read everything as one read, spanning holes and overlaps.
		end := int64(5 << 20)
		model := make([]byte, end)
		for i, c := range cases {
			if c.size > 0 {
				copy(model[c.off:], pattern(c.size, uint64(i)))
			}
		}
		got := make([]byte, end)
		if n, err := f.ReadAt(got, 0); err != nil || int64(n) != end {
			t.Fatalf("whole ReadAt = %d, %v", n, err)
		}
		if !bytes.Equal(got, model) {
			t.Fatal("whole file differs from model")
		}
	})
}

func TestReadPastEOF(t *testing.T) {
	const size = 10000
	cases := []struct {
		name  string
		off   int64
		len   int
		wantN int
		err   error
	}{
		{"inside", 100, 200, 200, nil},
		{"up to end", size - 50, 50, 50, nil},
		{"straddles end", size - 40, 100, 40, io.EOF},
		{"at end", size, 10, 0, io.EOF},
		{"beyond end", size + 4096, 10, 0, io.EOF},
		{"zero at end", size, 0, 0, nil},
		{"large straddle", 1000, 2 << 20, size - 1000, io.EOF},
	}
	forEngine(t, func(t *testing.T, f File) {
		data := pattern(size, 7)
		if _, err := f.WriteAt(data, 0); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			p := make([]byte, c.len)
			n, err := f.ReadAt(p, c.off)
			if n != c.wantN || err != c.err {
				t.Errorf("%s: ReadAt(%d, %d) = %d, %v; want %d, %v", c.name, c.len, c.off, n, err, c.wantN, c.err)
				continue
			}
			if n > 0 && !bytes.Equal(p[:n], data[c.off:c.off+int64(n)]) {
				t.Errorf("%s: data differs", c.name)
			}
		}
	})
}

func TestWriteVAt(t *testing.T) {
	cases := []struct {
		name  string
		sizes func(i int) int
		count int
		off   int64
	}{
		{"none", nil, 0, 0},
		{"one", func(int) int { return 100 }, 1, 0},
		{"16x1KiB", func(int) int { return 1 << 10 }, 16, 4096},
		{"with empties", func(i int) int { return (i % 3) * 700 }, 300, 12345},
		{"over IOV_MAX", func(i int) int { return 1 + i%97 }, 3000, 1 << 20},
		{"over one submission", func(i int) int { return 1 + i%13 }, 40000, 3},
		{"large buffers", func(i int) int { return (1 << 20) + i }, 5, 0},
		{"all empty", func(int) int { return 0 }, 2000, 0},
	}
	forEngine(t, func(t *testing.T, f File) {
		for ci, c := range cases {
			bufs := make([][]byte, c.count)
			var want []byte
			for i := range bufs {
				bufs[i] = pattern(c.sizes(i), uint64(ci*100000+i))
				want = append(want, bufs[i]...)
			}
			n, err := f.WriteVAt(bufs, c.off)
			if err != nil || n != int64(len(want)) {
				t.Fatalf("%s: WriteVAt = %d, %v; want %d", c.name, n, err, len(want))
			}
			got := make([]byte, len(want))
			if _, err := f.ReadAt(got, c.off); err != nil && len(want) > 0 {
				t.Fatalf("%s: ReadAt: %v", c.name, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: data differs", c.name)
			}
			// And with the flush in the same submission.
			n, err = WriteVAtSync(f, bufs, c.off+7)
			if err != nil || n != int64(len(want)) {
				t.Fatalf("%s: WriteVAtSync = %d, %v; want %d", c.name, n, err, len(want))
			}
			if _, err := f.ReadAt(got, c.off+7); err != nil && len(want) > 0 {
				t.Fatalf("%s: ReadAt: %v", c.name, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: data differs after WriteVAtSync", c.name)
			}
		}
	})
}

func TestSync(t *testing.T) {
	forEngine(t, func(t *testing.T, f File) {
		if err := f.Sync(); err != nil {
			t.Fatalf("Sync on empty file: %v", err)
		}
		if _, err := f.WriteAt([]byte("durable"), 0); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Fatalf("Sync: %v", err)
		}
		if f.Fd() == ^uintptr(0) {
			t.Fatal("Fd is invalid")
		}
	})
}

// TestConcurrent hammers one File from 32 goroutines: each owns a region
// it appends to with WriteAt and WriteVAt, syncs now and then, and reads
// its region and its neighbour's back.
func TestConcurrent(t *testing.T) {
	const (
		workers = 32
		region  = 256 << 10
		rounds  = 40
	)
	forEngine(t, func(t *testing.T, f File) {
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				base := int64(w) * region
				rng := rand.New(rand.NewPCG(uint64(w), 2))
				model := make([]byte, region)
				used := 0
				for r := range rounds {
					size := 1 + rng.IntN(3000)
					if used+size > region {
						break
					}
					data := pattern(size, uint64(w*1000+r))
					var err error
					switch r % 3 {
					case 0:
						_, err = f.WriteAt(data, base+int64(used))
					case 1:
						half := size / 2
						_, err = f.WriteVAt([][]byte{data[:half], nil, data[half:]}, base+int64(used))
					case 2:
						_, err = WriteVAtSync(f, [][]byte{data}, base+int64(used))
					}
					if err != nil {
						errs <- err
						return
					}
					copy(model[used:], data)
					used += size
					if r%10 == 9 {
						if err := f.Sync(); err != nil {
							errs <- err
							return
						}
					}
					got := make([]byte, used)
					if _, err := f.ReadAt(got, base); err != nil {
						errs <- fmt.Errorf("worker %d: ReadAt: %w", w, err)
						return
					}
					if !bytes.Equal(got, model[:used]) {
						errs <- fmt.Errorf("worker %d round %d: data differs", w, r)
						return
					}
					// A neighbour's region: any content, no error.
					other := make([]byte, 512)
					if _, err := f.ReadAt(other, int64((w+1)%workers)*region); err != nil && err != io.EOF {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

func TestClosedFile(t *testing.T) {
	forEngine(t, func(t *testing.T, f File) {
		if _, err := f.WriteAt([]byte("x"), 0); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		p := make([]byte, 1)
		ops := []struct {
			name string
			do   func() error
		}{
			{"ReadAt", func() error { _, err := f.ReadAt(p, 0); return err }},
			{"WriteAt", func() error { _, err := f.WriteAt(p, 0); return err }},
			{"WriteVAt", func() error { _, err := f.WriteVAt([][]byte{p}, 0); return err }},
			{"WriteVAtSync", func() error { _, err := WriteVAtSync(f, [][]byte{p}, 0); return err }},
			{"Sync", f.Sync},
			{"Close", f.Close},
		}
		for _, op := range ops {
			if err := op.do(); !errors.Is(err, os.ErrClosed) {
				t.Errorf("%s after Close = %v, want os.ErrClosed", op.name, err)
			}
		}
	})
}

func TestErrors(t *testing.T) {
	forEngine(t, func(t *testing.T, f File) {
		p := make([]byte, 10)
		if _, err := f.ReadAt(p, -1); err == nil {
			t.Error("ReadAt at -1: no error")
		}
		if _, err := f.WriteAt(p, -1); err == nil {
			t.Error("WriteAt at -1: no error")
		}
		if _, err := f.WriteVAt([][]byte{p}, -1); err == nil {
			t.Error("WriteVAt at -1: no error")
		}
	})
	for _, e := range testEngines(t) {
		t.Run("ReadOnly/Engine="+e.Name(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ro")
			if err := os.WriteFile(path, []byte("0123456789"), 0o644); err != nil {
				t.Fatal(err)
			}
			osf, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := e.Open(osf)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var pe *os.PathError
			if _, err := f.WriteAt([]byte("x"), 0); !errors.As(err, &pe) {
				t.Errorf("WriteAt on read-only file = %v, want *os.PathError", err)
			}
			if _, err := f.WriteVAt([][]byte{[]byte("x")}, 0); !errors.As(err, &pe) {
				t.Errorf("WriteVAt on read-only file = %v, want *os.PathError", err)
			}
			p := make([]byte, 4)
			if n, err := f.ReadAt(p, 3); n != 4 || err != nil || string(p) != "3456" {
				t.Errorf("ReadAt = %d, %v, %q", n, err, p)
			}
		})
	}
}

func TestNew(t *testing.T) {
	for _, kind := range []string{"bogus", "URING", " sync"} {
		if e, err := New(kind); err == nil {
			e.Close()
			t.Errorf("New(%q): no error", kind)
		}
	}
	for _, kind := range []string{"sync", "auto", ""} {
		e, err := New(kind)
		if err != nil {
			t.Fatalf("New(%q): %v", kind, err)
		}
		want := kind
		if kind == "" {
			want = "auto"
		}
		if e.Name() != want {
			t.Errorf("New(%q).Name() = %q", kind, e.Name())
		}
		e.Close()
	}
	e, err := New("uring")
	if reason := UringUnavailableReason(); (err == nil) != (reason == nil) {
		t.Errorf("New(uring) err %v but UringUnavailableReason %v", err, reason)
	}
	if err == nil {
		if e.Name() != "uring" {
			t.Errorf("Name = %q", e.Name())
		}
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		// A closed engine opens nothing and serves nothing.
		if _, err := e.Open(os.Stdin); err == nil {
			t.Error("Open on closed engine: no error")
		}
	}
}

// TestSetupFailureFallsBack forces io_uring setup to fail as seccomp or an
// old kernel would, and checks that uring reports it while auto works on
// sync and says why.
func TestSetupFailureFallsBack(t *testing.T) {
	forced := errors.New("io_uring_setup: operation not permitted (forced)")
	setupHook = func() error { return forced }
	defer func() { setupHook = nil }()

	if _, err := New("uring"); !errors.Is(err, forced) {
		t.Fatalf("New(uring) = %v, want forced failure", err)
	}
	if err := probeUring(); !errors.Is(err, forced) {
		t.Fatalf("probeUring = %v, want forced failure", err)
	}
	// Any table, even all-uring, must fall back.
	a := newAuto([numKinds]bool{true, true, true, true})
	if a.ring != nil || !errors.Is(a.Reason(), forced) {
		t.Fatalf("auto ring %v, reason %v", a.ring, a.Reason())
	}
	if s := a.String(); !strings.Contains(s, "sync only") || !strings.Contains(s, "forced") {
		t.Errorf("String = %q", s)
	}
	f := openTemp(t, a)
	if _, ok := f.(*syncFile); !ok {
		t.Fatalf("auto opened %T, want *syncFile", f)
	}
	if _, err := f.WriteAt([]byte("hello"), 0); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 5)
	if _, err := f.ReadAt(p, 0); err != nil || string(p) != "hello" {
		t.Fatalf("ReadAt = %q, %v", p, err)
	}
}

func TestAutoString(t *testing.T) {
	a := newAuto([numKinds]bool{kindRead: true, kindSync: true})
	defer a.Close()
	s := a.String()
	if a.ring == nil {
		if !strings.Contains(s, "sync only") {
			t.Errorf("String = %q", s)
		}
		return
	}
	if s != "auto(read=uring write=sync writev=sync sync=uring)" {
		t.Errorf("String = %q", s)
	}
}
