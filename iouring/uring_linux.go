package iouring

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// uringEngine is a pool of rings. A caller takes a free ring (or waits for
// one), submits its SQEs and waits for its own CQEs in one io_uring_enter,
// and gives the ring back: no completion thread, no hand-off between
// goroutines.
type uringEngine struct {
	rings  []*ring // fixed after newUring; each guarded by its own mu
	closed atomic.Bool
}

// ringCount is how many rings an engine sets up: enough that callers
// rarely wait for one, since a caller blocked on uncached I/O holds its
// ring until the device answers.
func ringCount() int { return min(max(4*runtime.GOMAXPROCS(0), 8), 64) }

// newUring sets up the rings, or says why it cannot.
func newUring() (opener, error) {
	if setupHook != nil {
		if err := setupHook(); err != nil {
			return nil, err
		}
	}
	first, err := newRing(ringEntries)
	if err != nil {
		return nil, err
	}
	if err := first.probe(); err != nil {
		first.close()
		return nil, err
	}
	e := &uringEngine{rings: []*ring{first}}
	for len(e.rings) < ringCount() {
		r, err := newRing(ringEntries)
		if err != nil {
			break // fewer rings (RLIMIT_MEMLOCK on old kernels) still work
		}
		e.rings = append(e.rings, r)
	}
	return e, nil
}

func (e *uringEngine) Name() string { return "uring" }

// Close waits for each ring's current holder, then tears the ring down.
func (e *uringEngine) Close() error {
	if !e.closed.CompareAndSwap(false, true) {
		return nil
	}
	var errs []error
	for _, r := range e.rings {
		r.mu.Lock()
		errs = append(errs, r.close())
		r.mu.Unlock()
	}
	return errors.Join(errs...)
}

func (e *uringEngine) Open(f *os.File) (File, error) {
	if f == nil {
		return nil, os.ErrInvalid
	}
	return e.openHandle(newHandle(f))
}

func (e *uringEngine) openHandle(h *handle) (File, error) {
	if e.closed.Load() {
		return nil, ErrEngineClosed
	}
	// A positional write to an O_APPEND file appends regardless of its
	// offset; os.File refuses WriteAt there, so do we.
	fl, err := unix.FcntlInt(uintptr(h.fd), unix.F_GETFL, 0)
	if err != nil {
		return nil, h.pathErr("fcntl", err)
	}
	if fl&unix.O_APPEND != 0 {
		return nil, h.pathErr("open", errors.New("iouring: file opened with O_APPEND"))
	}
	return &ringFile{h: h, e: e, fd: int32(h.fd)}, nil
}

// get returns a ring locked for the caller: a free one if any, starting
// from a random ring so that callers spread out, else it waits.
func (e *uringEngine) get() (*ring, error) {
	if e.closed.Load() {
		return nil, ErrEngineClosed
	}
	n := uint32(len(e.rings))
	start := rand.Uint32N(n)
	for i := range n {
		r := e.rings[(start+i)%n]
		if r.mu.TryLock() {
			if r.closed || r.broken != nil {
				r.mu.Unlock()
				continue
			}
			return r, nil
		}
	}
	r := e.rings[start]
	r.mu.Lock()
	switch {
	case r.closed:
		r.mu.Unlock()
		return nil, ErrEngineClosed
	case r.broken != nil:
		err := r.broken
		r.mu.Unlock()
		return nil, err
	}
	return r, nil
}

// put unpins what the operation pinned and unlocks r. A broken ring keeps
// its pins: the kernel may still hold those buffers.
func (e *uringEngine) put(r *ring) {
	if r.broken == nil {
		r.pin.Unpin()
	}
	r.mu.Unlock()
}

// ringFile is a File whose operations go through the engine's rings.
type ringFile struct {
	h  *handle
	e  *uringEngine
	fd int32
}

func (f *ringFile) ReadAt(p []byte, off int64) (int, error) {
	countOp(EngineUring, kindRead)
	n, err := f.rw(opRead, "read", p, off)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

func (f *ringFile) WriteAt(p []byte, off int64) (int, error) {
	countOp(EngineUring, kindWrite)
	n, err := f.rw(opWrite, "write", p, off)
	if err == nil && n < len(p) {
		err = f.h.pathErr("write", io.ErrShortWrite)
	}
	return n, err
}

// rw reads or writes p at off, one SQE per chunk, resubmitting short
// transfers; it stops early only at end of file (reads) or on an error.
func (f *ringFile) rw(opcode uint8, op string, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, f.h.pathErr(op+"at", errNegativeOffset)
	}
	if err := f.h.acquire(op); err != nil {
		return 0, err
	}
	defer f.h.release()
	if len(p) == 0 {
		return 0, nil
	}
	r, err := f.e.get()
	if err != nil {
		return 0, f.h.pathErr(op, err)
	}
	// p escapes to the heap (the pin stores it), and stays pinned and
	// referenced until the kernel is done with it.
	r.pin.Pin(unsafe.Pointer(&p[0]))
	done := 0
	for done < len(p) {
		chunk := min(len(p)-done, maxChunk)
		r.slots[0] = slot{
			opcode: opcode,
			fd:     f.fd,
			off:    off + int64(done),
			addr:   uintptr(unsafe.Pointer(&p[done])),
			n:      uint32(chunk),
			left:   int64(chunk),
		}
		if err = r.run(1); err != nil {
			break
		}
		s := &r.slots[0]
		done += int(s.done)
		if err = s.err; err != nil || s.short {
			break
		}
	}
	f.e.put(r)
	runtime.KeepAlive(p)
	if err != nil {
		return done, f.h.pathErr(op, err)
	}
	return done, nil
}

func (f *ringFile) WriteVAt(bufs [][]byte, off int64) (int64, error) {
	countOp(EngineUring, kindWriteV)
	return f.writev(bufs, off, false)
}

func (f *ringFile) writeVAtSync(bufs [][]byte, off int64) (int64, error) {
	countOp(EngineUring, kindWriteV)
	countOp(EngineUring, kindSync)
	return f.writev(bufs, off, true)
}

func (f *ringFile) Sync() error {
	countOp(EngineUring, kindSync)
	_, err := f.writev(nil, 0, true)
	return err
}

// writev writes bufs at off, up to maxSlots-1 WRITEV SQEs of iovMax
// iovecs per submission; with durable, the last submission ends with an
// FSYNC(DATASYNC) linked behind the writes, so a group commit is one
// io_uring_enter.
func (f *ringFile) writev(bufs [][]byte, off int64, durable bool) (int64, error) {
	op := "writev"
	if len(bufs) == 0 && durable {
		op = "sync"
	}
	if off < 0 {
		return 0, f.h.pathErr(op, errNegativeOffset)
	}
	if err := f.h.acquire(op); err != nil {
		return 0, err
	}
	defer f.h.release()
	r, err := f.e.get()
	if err != nil {
		return 0, f.h.pathErr(op, err)
	}
	var total int64
	for {
		var nw, nslots int
		var batch int64
		bufs, nw, batch = f.fillWritev(r, bufs, off)
		nslots = nw
		last := len(bufs) == 0
		if durable && last {
			for i := range nw {
				r.slots[i].flags = sqeIOLink
			}
			r.slots[nslots] = slot{opcode: opFsync, fd: f.fd, opFlags: fsyncDatasync, afterLink: nw > 0}
			nslots++
		}
		if nslots == 0 {
			break
		}
		if err = r.run(nslots); err != nil {
			break
		}
		// total counts the bytes written without a gap from the start.
		for i := range nw {
			s := &r.slots[i]
			if err == nil {
				total += s.done
			}
			if err == nil && s.err != nil {
				err = s.err
			} else if err == nil && s.short {
				err = io.ErrShortWrite
			}
		}
		clear(r.iov[:r.iovUsed]) // drop references to the caller's buffers
		r.pin.Unpin()
		if err == nil && nslots > nw {
			s := &r.slots[nw]
			if s.canceled {
				// A write came up short and broke the chain; it has
				// been completed since, so flush now.
				r.slots[0] = slot{opcode: opFsync, fd: f.fd, opFlags: fsyncDatasync}
				if err = r.run(1); err == nil {
					err = r.slots[0].err
				}
			} else {
				err = s.err
			}
		}
		off += batch
		if err != nil || last {
			break
		}
	}
	f.e.put(r)
	if err != nil {
		return total, f.h.pathErr(op, err)
	}
	return total, nil
}

// fillWritev prepares WRITEV slots for the first bufs that fit in one
// submission (maxSlots-1 slots, keeping one for an FSYNC) and pins them;
// it returns the bufs left over, the slot count and the bytes prepared.
func (f *ringFile) fillWritev(r *ring, bufs [][]byte, off int64) (rest [][]byte, nslots int, bytes int64) {
	const limit = (maxSlots - 1) * iovMax
	take, count := 0, 0
	for take < len(bufs) && count < limit {
		if len(bufs[take]) > 0 {
			count++
		}
		take++
	}
	r.iovUsed = 0
	if count == 0 {
		return bufs[take:], 0, 0
	}
	if cap(r.iov) < count {
		r.iov = make([]unix.Iovec, count)
	}
	iov := r.iov[:count]
	r.iovUsed = count
	j := 0
	for _, b := range bufs[:take] {
		if len(b) == 0 {
			continue
		}
		iov[j].Base = &b[0]
		iov[j].SetLen(len(b))
		r.pin.Pin(unsafe.Pointer(&b[0]))
		j++
	}
	r.pin.Pin(unsafe.Pointer(&iov[0]))
	for start := 0; start < count; start += iovMax {
		end := min(start+iovMax, count)
		var sum int64
		for _, v := range iov[start:end] {
			sum += int64(v.Len)
		}
		r.slots[nslots] = slot{
			opcode: opWritev,
			fd:     f.fd,
			off:    off + bytes,
			addr:   uintptr(unsafe.Pointer(&iov[start])),
			n:      uint32(end - start),
			iov:    iov[start:end],
			left:   sum,
		}
		bytes += sum
		nslots++
	}
	return bufs[take:], nslots, bytes
}

func (f *ringFile) Fd() uintptr  { return uintptr(f.h.fd) }
func (f *ringFile) Close() error { return f.h.close() }
