// Package iouring is the I/O engine under volume .dat files: positional
// reads, appends (single and vectored, for group commit) and fdatasync,
// behind one small interface (Engine opens Files) with two
// implementations and a router:
//
//   - "sync" (sync.go): os.File ReadAt/WriteAt (pread/pwrite), pwritev for
//     WriteVAt, fdatasync on Linux (F_FULLFSYNC on darwin). Portable,
//     always available, tested on every platform.
//   - "uring" (ring_linux.go, uring_linux.go): io_uring through
//     golang.org/x/sys/unix, Linux 5.6 or newer.
//   - "auto" (auto.go): routes each kind of operation (read, write,
//     writev, sync) to the engine that measured faster on this class of
//     machine (autoRoutes, with the numbers), and everything to sync when
//     io_uring cannot be set up. On the development machine every kind
//     measured faster on sync, so auto is sync there and sets up no
//     rings; New("uring") still selects io_uring outright.
//
// The package imports nothing of the project.
//
// # The ring
//
// An io_uring engine is a pool of small rings (16 SQEs, 32 CQEs; 4 per
// GOMAXPROCS, 8 to 64). A caller takes a free ring (TryLock from a random
// start, else waits on one), writes its SQEs, and in one
// io_uring_enter(to_submit, min_complete=all in flight, GETEVENTS)
// submits them and waits for its own completions, then reaps the CQ and
// gives the ring back. There is no completion goroutine and no hand-off
// between goroutines; buffered reads that hit the page cache complete
// inline in that one system call.
//
// INVARIANT: a ring is driven only by the goroutine holding its mutex, and
// that goroutine does not release it while anything it submitted is still
// in the kernel. So every CQE belongs to the holder, user_data is an index
// into the ring's slots, at most 16 SQEs are outstanding (the SQ never
// fills, the CQ of 32 never overflows), and shared-memory ordering is only
// between the holder and the kernel: SQE stores, then an atomic store of
// the SQ tail; an atomic load of the CQ tail, then CQE loads, then an
// atomic store of the CQ head.
//
// A CQE that reports a short transfer is resubmitted for the remainder; a
// read that completes with 0 bytes ends at end of file (io.EOF, as
// os.File). EINTR, EAGAIN and ECANCELED results are resubmitted, at most
// 16 times. WriteVAtSync links the WRITEV SQEs to an FSYNC(DATASYNC) with
// IOSQE_IO_LINK: one system call per durable group commit. A short write
// breaks the chain and the FSYNC comes back ECANCELED; the write is then
// finished and the FSYNC issued again. An io_uring_enter error other than
// EINTR, EAGAIN or EBUSY marks the ring broken: it keeps its pins (the
// kernel may still own those buffers) and is never handed out again.
//
// # Memory the kernel touches
//
// Buffers and iovec arrays are pinned with the ring's runtime.Pinner from
// before their SQE is published until the last CQE that covers them is
// reaped, so they neither move nor die while the kernel holds their
// addresses; pinning also makes them escape to the heap. Reads pin one
// object and allocate nothing; WriteVAt pins every buffer, and past 5
// pins the Pinner grows its list (one or two small allocations per group
// commit). The rings, SQEs and CQEs are mmap'd kernel memory.
//
// # Descriptor lifetime
//
// A File owns the *os.File it wraps: File.Close closes it. Operations that
// hand the raw descriptor to the kernel hold the File's handle lock shared
// for their whole duration and Close takes it exclusively, so a descriptor
// number is never closed (and reused by an unrelated open) under a running
// operation, and operations after Close fail with os.ErrClosed. Lock order:
// handle lock, then a ring's mutex. Engine.Close waits for each ring's
// holder and tears the rings down; close Files first.
//
// # Fallback
//
// New("uring") fails, with the reason, when the ring cannot be set up:
// not Linux, ENOSYS (kernel before 5.1, or seccomp), EPERM (seccomp
// profiles such as Docker's default, or kernel.io_uring_disabled), a
// kernel before 5.6 (no IORING_REGISTER_PROBE), or missing opcodes.
// New("auto") never fails: it records the reason (UringUnavailableReason,
// and the auto engine's String) and serves everything with sync.
package iouring
