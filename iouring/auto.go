package iouring

import (
	"os"
	"strings"
)

// opKind is a kind of operation the auto engine routes.
type opKind int

const (
	kindRead   opKind = iota // ReadAt
	kindWrite                // WriteAt
	kindWriteV               // WriteVAt
	kindSync                 // Sync
	numKinds
)

var kindNames = [numKinds]string{"read", "write", "writev", "sync"}

// autoRoutes says, per kind of operation, whether "auto" sends it to
// io_uring (true) or to pread/pwrite (false). Set from bench_test.go on
// the development machine (Firecracker VM, 2 vCPU AMD EPYC, Linux 6.18,
// ext4 on virtio-blk, Go 1.26; go test -bench . -benchtime=2000x -count=3,
// median ns/op, sync vs uring):
//
//	read, cached 4 KiB                  1967 vs   3281   sync
//	read, cached 64 KiB                 6341 vs   7152   sync
//	read, cached 4 KiB, parallel        1315 vs   1903   sync
//	read, cached 64 KiB, parallel       3756 vs   4469   sync
//	read, O_DIRECT 4 KiB               41063 vs  34768   (noise-level)
//	read, O_DIRECT 64 KiB             101600 vs  99401   (noise-level)
//	read, O_DIRECT 4 KiB, parallel     24333 vs  21229   (noise-level)
//	read, O_DIRECT 64 KiB, parallel    95805 vs 122348   sync
//	append 1 KiB                        2745 vs  15924   sync
//	append 1 MiB                      294021 vs 323884   (a wash: uring led
//	                                                   by 15-25% in 3 other runs)
//	WriteVAt 16 x 1 KiB                 9182 vs  23476   sync
//	append 4 KiB + Sync               215098 vs 269953   sync
//	WriteVAtSync 16 x 1 KiB (linked)  286907 vs 397936   sync
//
// One operation per io_uring_enter costs more than one pread here: the
// ring wins by batching many operations per call, and each call of this
// interface carries one. Cached reads complete inline but pay the ring's
// per-request overhead; ext4 has no non-blocking buffered writes, so every
// write and fsync is handed to an io-wq worker thread and back. Hence all
// sync on this machine: the uncached-read differences are within
// run-to-run noise, and auto cannot know which reads will miss the cache;
// a size threshold for writes (uring from ~1 MiB) is not worth it on
// evidence this noisy. Re-measure on bare-metal NVMe or XFS before
// changing a route.
//
// When io_uring is unavailable every kind goes to sync regardless, and
// while no route is true auto does not set up rings at all.
var autoRoutes = [numKinds]bool{
	kindRead:   false,
	kindWrite:  false,
	kindWriteV: false,
	kindSync:   false,
}

// autoEngine routes each kind of operation to the engine in routes.
type autoEngine struct {
	sync   opener
	ring   opener // nil when io_uring is unavailable or no route uses it
	routes [numKinds]bool
	reason error // why ring is nil, if it is
}

func newAuto(routes [numKinds]bool) *autoEngine {
	a := &autoEngine{sync: syncEngine{}}
	uses := false
	for _, u := range routes {
		uses = uses || u
	}
	if !uses {
		return a
	}
	ring, err := newUring()
	if err != nil {
		a.reason = err
		return a
	}
	a.ring, a.routes = ring, routes
	return a
}

func (a *autoEngine) Name() string { return "auto" }

// String describes the routing, for logs: "auto(read=sync write=uring ...)"
// or "auto(sync only: <reason>)".
func (a *autoEngine) String() string {
	if a.ring == nil {
		if a.reason != nil {
			return "auto(sync only: " + a.reason.Error() + ")"
		}
		return "auto(sync only)"
	}
	var b strings.Builder
	b.WriteString("auto(")
	for k, u := range a.routes {
		if k > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(kindNames[k])
		if u {
			b.WriteString("=uring")
		} else {
			b.WriteString("=sync")
		}
	}
	b.WriteByte(')')
	return b.String()
}

// Reason reports why io_uring is not used (nil when it is for some kinds).
func (a *autoEngine) Reason() error { return a.reason }

func (a *autoEngine) Open(f *os.File) (File, error) {
	if f == nil {
		return nil, os.ErrInvalid
	}
	h := newHandle(f)
	if a.ring == nil {
		return a.sync.openHandle(h)
	}
	s, err := a.sync.openHandle(h)
	if err != nil {
		return nil, err
	}
	r, err := a.ring.openHandle(h)
	if err != nil {
		return nil, err
	}
	af := &autoFile{h: h}
	for k := range af.via {
		af.via[k] = s
		if a.routes[k] {
			af.via[k] = r
		}
	}
	return af, nil
}

func (a *autoEngine) Close() error {
	if a.ring != nil {
		return a.ring.Close()
	}
	return nil
}

// autoFile sends each operation to the File chosen for its kind. Both
// Files share h, so Close closes the descriptor once.
type autoFile struct {
	h   *handle
	via [numKinds]File
}

func (f *autoFile) ReadAt(p []byte, off int64) (int, error) {
	return f.via[kindRead].ReadAt(p, off)
}

func (f *autoFile) WriteAt(p []byte, off int64) (int, error) {
	return f.via[kindWrite].WriteAt(p, off)
}

func (f *autoFile) WriteVAt(bufs [][]byte, off int64) (int64, error) {
	return f.via[kindWriteV].WriteVAt(bufs, off)
}

func (f *autoFile) Sync() error { return f.via[kindSync].Sync() }

// writeVAtSync uses the linked submission when both halves go to io_uring.
func (f *autoFile) writeVAtSync(bufs [][]byte, off int64) (int64, error) {
	if f.via[kindWriteV] == f.via[kindSync] {
		return WriteVAtSync(f.via[kindWriteV], bufs, off)
	}
	n, err := f.WriteVAt(bufs, off)
	if err != nil {
		return n, err
	}
	return n, f.Sync()
}

func (f *autoFile) Fd() uintptr  { return uintptr(f.h.fd) }
func (f *autoFile) Close() error { return f.h.close() }
