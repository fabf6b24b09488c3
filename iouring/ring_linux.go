package iouring

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// ringEntries is the SQ size of each ring (the CQ gets twice as many).
	// One caller drives a ring at a time, with at most maxSlots operations
	// in flight, so the SQ never fills and the CQ never overflows.
	ringEntries = 16
	maxSlots    = ringEntries

	// maxChunk bounds the bytes of one READ or WRITE SQE (len is 32 bits
	// and the kernel caps a transfer at about 2 GiB anyway).
	maxChunk = 1 << 30

	// maxRetries bounds resubmissions of one SQE after EINTR, EAGAIN or
	// ECANCELED.
	maxRetries = 16
)

// faultHook, set only by tests, rewrites CQE results before they are
// handled, to exercise short transfers, retries and broken links.
var faultHook func(s *slot, res int32) int32

// ring is one io_uring instance with its three mappings.
//
// INVARIANT: a ring is driven by the goroutine holding mu, from filling its
// first SQE to reaping its last CQE; it releases mu only when nothing it
// submitted is still in the kernel (or marks the ring broken). So every CQE
// in the CQ belongs to the holder, and user_data is simply an index into
// slots.
type ring struct {
	mu sync.Mutex

	// Set at setup, read-only after (until close, under mu).
	fd                   int
	sqMem, cqMem, sqeMem []byte // cqMem aliases sqMem when singleMmap
	singleMmap           bool
	sqHead, sqTail       *uint32
	sqMask               uint32
	cqHead, cqTail       *uint32
	cqMask               uint32
	sqes                 []sqe
	cqes                 []cqe

	// Guarded by mu.
	tail    uint32         // our SQ tail: SQEs up to here are published
	slots   [maxSlots]slot // the holder's operations, indexed by user_data
	iov     []unix.Iovec   // WRITEV iovecs, reused; cleared after each use
	iovUsed int            // iov[:iovUsed] may hold caller pointers
	pin     runtime.Pinner // user buffers and iov while the kernel may touch them
	broken  error          // a fatal io_uring_enter error: the ring is not reused
	closed  bool
}

// slot is one operation: an SQE to (re)submit and how far it has got.
type slot struct {
	opcode    uint8
	flags     uint8 // SQE flags (sqeIOLink)
	afterLink bool  // follows a linked SQE: ECANCELED means the chain broke
	fd        int32
	opFlags   uint32
	off       int64
	addr      uintptr      // buffer, or first iovec for WRITEV
	n         uint32       // bytes, or iovec count for WRITEV
	iov       []unix.Iovec // WRITEV: the iovecs still to write
	left      int64        // bytes still to transfer
	done      int64        // bytes transferred
	tries     int
	err       error // the CQE's errno, once final
	short     bool  // completed with 0 bytes: end of file for reads
	canceled  bool  // linked after an SQE that failed or came up short
}

func ioUringSetup(entries uint32, p *params) (int, error) {
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// newRing sets up a ring of entries SQEs.
func newRing(entries uint32) (*ring, error) {
	p := params{flags: setupClamp | setupSubmitAll | setupCoopTaskrun}
	fd, err := ioUringSetup(entries, &p)
	if err == unix.EINVAL { // before 5.19: retry without the newer flags
		p = params{flags: setupClamp}
		fd, err = ioUringSetup(entries, &p)
	}
	if err != nil {
		return nil, fmt.Errorf("iouring: io_uring_setup: %w", err)
	}
	r := &ring{fd: fd}
	if err := r.mmap(&p); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *ring) mmap(p *params) error {
	const prot, flags = unix.PROT_READ | unix.PROT_WRITE, unix.MAP_SHARED | unix.MAP_POPULATE
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*4
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)*int(unsafe.Sizeof(cqe{}))
	single := p.features&featSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	if r.sqMem, err = unix.Mmap(r.fd, offSQRing, sqSize, prot, flags); err != nil {
		return fmt.Errorf("iouring: mmap SQ ring: %w", err)
	}
	r.cqMem, r.singleMmap = r.sqMem, single
	if !single {
		if r.cqMem, err = unix.Mmap(r.fd, offCQRing, cqSize, prot, flags); err != nil {
			r.cqMem = nil
			return fmt.Errorf("iouring: mmap CQ ring: %w", err)
		}
	}
	if r.sqeMem, err = unix.Mmap(r.fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(sqe{})), prot, flags); err != nil {
		return fmt.Errorf("iouring: mmap SQEs: %w", err)
	}
	u32 := func(mem []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }
	r.sqHead, r.sqTail = u32(r.sqMem, p.sqOff.head), u32(r.sqMem, p.sqOff.tail)
	r.sqMask = *u32(r.sqMem, p.sqOff.ringMask)
	r.cqHead, r.cqTail = u32(r.cqMem, p.cqOff.head), u32(r.cqMem, p.cqOff.tail)
	r.cqMask = *u32(r.cqMem, p.cqOff.ringMask)
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&r.sqeMem[0])), p.sqEntries)
	r.cqes = unsafe.Slice((*cqe)(unsafe.Pointer(&r.cqMem[p.cqOff.cqes])), p.cqEntries)
	// The SQ array maps ring positions to SQE indexes; identity, set once.
	array := unsafe.Slice(u32(r.sqMem, p.sqOff.array), p.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.tail = atomic.LoadUint32(r.sqTail)
	return nil
}

// probe checks that the kernel supports every opcode used here.
func (r *ring) probe() error {
	pr := new(probe)
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), registerProbe,
		uintptr(unsafe.Pointer(pr)), uintptr(len(pr.ops)), 0, 0)
	if errno != 0 {
		return fmt.Errorf("iouring: kernel too old (IORING_REGISTER_PROBE: %w; need Linux 5.6)", errno)
	}
	for _, op := range [...]struct {
		code uint8
		name string
	}{{opRead, "READ"}, {opWrite, "WRITE"}, {opWritev, "WRITEV"}, {opFsync, "FSYNC"}} {
		if op.code > pr.lastOp || op.code >= pr.opsLen || pr.ops[op.code].flags&probeOpSupported == 0 {
			return fmt.Errorf("iouring: kernel lacks IORING_OP_%s", op.name)
		}
	}
	return nil
}

// close unmaps and closes the ring. Called under mu, or before the ring is
// shared.
func (r *ring) close() error {
	if r.sqeMem != nil {
		unix.Munmap(r.sqeMem)
	}
	if r.cqMem != nil && !r.singleMmap {
		unix.Munmap(r.cqMem)
	}
	if r.sqMem != nil {
		unix.Munmap(r.sqMem)
	}
	r.sqeMem, r.cqMem, r.sqMem, r.sqes, r.cqes = nil, nil, nil, nil, nil
	err := unix.Close(r.fd)
	r.fd = -1
	r.closed = true
	r.iov = nil
	r.pin.Unpin()
	return err
}

func (r *ring) enter(toSubmit, minComplete uint32) unix.Errno {
	ents.Add(1)
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit),
		uintptr(minComplete), enterGetEvents, 0, 0)
	return errno
}

// push publishes slot i's SQE. There is always room: the SQ has maxSlots
// entries and each slot has at most one SQE outstanding.
func (r *ring) push(i int) {
	s := &r.slots[i]
	r.sqes[r.tail&r.sqMask] = sqe{
		opcode:   s.opcode,
		flags:    s.flags,
		fd:       s.fd,
		off:      uint64(s.off),
		addr:     uint64(s.addr),
		len:      s.n,
		opFlags:  s.opFlags,
		userData: uint64(i),
	}
	r.tail++
	submitted.Add(1)
	// Release: the kernel sees the SQE before the tail that covers it.
	atomic.StoreUint32(r.sqTail, r.tail)
}

// run submits slots[:n] and returns when each has finished, resubmitting
// the remainder of short transfers and retrying EINTR, EAGAIN and
// ECANCELED. Per-operation results are left in the slots; the error is a
// ring failure, after which the ring is broken.
func (r *ring) run(n int) error {
	for i := range n {
		r.push(i)
	}
	inflight := n
	stalls := 0
	for inflight > 0 {
		toSubmit := r.tail - atomic.LoadUint32(r.sqHead)
		switch errno := r.enter(toSubmit, uint32(inflight)); errno {
		case 0, unix.EINTR:
		case unix.EAGAIN, unix.EBUSY:
			// The kernel took no SQEs (short of memory, or completions
			// backed up): wait for one in flight, or yield and retry.
			if r.ready() == 0 {
				if uint32(inflight) > toSubmit {
					r.enter(0, 1)
				} else if stalls++; stalls > 1000 {
					r.broken = fmt.Errorf("iouring: io_uring_enter: %w", errno)
					return r.broken
				} else {
					runtime.Gosched()
				}
			}
		default:
			r.broken = fmt.Errorf("iouring: io_uring_enter: %w", errno)
			return r.broken
		}
		inflight -= r.reap()
	}
	return nil
}

func (r *ring) ready() uint32 {
	return atomic.LoadUint32(r.cqTail) - atomic.LoadUint32(r.cqHead)
}

// reap consumes the CQEs present and returns how many slots finished.
func (r *ring) reap() int {
	finished := 0
	head := atomic.LoadUint32(r.cqHead)
	tail := atomic.LoadUint32(r.cqTail) // acquire: CQEs up to tail are written
	n := tail - head
	for ; head != tail; head++ {
		c := r.cqes[head&r.cqMask]
		if c.userData < maxSlots && r.complete(int(c.userData), c.res) {
			finished++
		}
	}
	atomic.StoreUint32(r.cqHead, head) // release the CQ entries to the kernel
	completed.Add(uint64(n))
	return finished
}

// complete records a CQE for slot i; it reports whether the slot is done
// or has been resubmitted.
func (r *ring) complete(i int, res int32) bool {
	s := &r.slots[i]
	if faultHook != nil {
		res = faultHook(s, res)
	}
	if res < 0 {
		errno := unix.Errno(-res)
		switch {
		case errno == unix.ECANCELED && s.afterLink:
			s.canceled = true
			return true
		case (errno == unix.EINTR || errno == unix.EAGAIN || errno == unix.ECANCELED) && s.tries < maxRetries:
			s.tries++
			s.flags, s.afterLink = 0, false
			r.push(i)
			return false
		}
		s.err = errno
		return true
	}
	if s.opcode == opFsync {
		return true
	}
	if res == 0 {
		s.short = s.left > 0
		return true
	}
	k := int64(res)
	s.done += k
	s.left -= k
	s.off += k
	if s.left <= 0 {
		return true
	}
	// Short transfer: resubmit the rest, unlinked (a chain it headed is
	// broken and its successors come back ECANCELED).
	if s.opcode == opWritev {
		s.advanceIov(k)
	} else {
		s.addr += uintptr(k)
		s.n -= uint32(k)
	}
	s.flags, s.afterLink = 0, false
	r.push(i)
	return false
}

// advanceIov drops the first k written bytes from s.iov.
func (s *slot) advanceIov(k int64) {
	for k > 0 && len(s.iov) > 0 {
		v := &s.iov[0]
		if uint64(k) >= v.Len {
			k -= int64(v.Len)
			s.iov = s.iov[1:]
			continue
		}
		v.Base = (*byte)(unsafe.Add(unsafe.Pointer(v.Base), k))
		v.Len -= uint64(k)
		k = 0
	}
	for len(s.iov) > 0 && s.iov[0].Len == 0 {
		s.iov = s.iov[1:]
	}
	if len(s.iov) > 0 {
		s.addr = uintptr(unsafe.Pointer(&s.iov[0]))
	}
	s.n = uint32(len(s.iov))
}
