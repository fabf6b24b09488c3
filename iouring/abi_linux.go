package iouring

import "unsafe"

// The io_uring kernel ABI (include/uapi/linux/io_uring.h), only the parts
// this package uses.

const (
	// io_uring_setup flags.
	setupClamp       = 1 << 4 // IORING_SETUP_CLAMP: clamp entries instead of EINVAL
	setupSubmitAll   = 1 << 7 // IORING_SETUP_SUBMIT_ALL (5.18): keep submitting after a bad SQE
	setupCoopTaskrun = 1 << 8 // IORING_SETUP_COOP_TASKRUN (5.19): no IPI to run completions

	// io_uring_params.features.
	featSingleMmap = 1 << 0 // SQ and CQ rings share one mapping

	// mmap offsets.
	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000

	// io_uring_enter flags.
	enterGetEvents = 1 << 0

	// io_uring_register opcodes.
	registerProbe = 8 // IORING_REGISTER_PROBE (5.6)

	// Opcodes.
	opWritev = 2  // IORING_OP_WRITEV (5.1)
	opFsync  = 3  // IORING_OP_FSYNC (5.1)
	opRead   = 22 // IORING_OP_READ (5.6)
	opWrite  = 23 // IORING_OP_WRITE (5.6)

	// SQE flags.
	sqeIOLink = 1 << 2 // IOSQE_IO_LINK: the next SQE starts after this one succeeds

	// fsync_flags.
	fsyncDatasync = 1 << 0 // IORING_FSYNC_DATASYNC

	// io_uring_probe_op.flags.
	probeOpSupported = 1 << 0
)

// params is struct io_uring_params.
type params struct {
	sqEntries    uint32
	cqEntries    uint32
	flags        uint32
	sqThreadCPU  uint32
	sqThreadIdle uint32
	features     uint32
	wqFd         uint32
	resv         [3]uint32
	sqOff        sqringOffsets
	cqOff        cqringOffsets
}

// sqringOffsets is struct io_sqring_offsets: where the SQ ring's fields
// lie in its mapping.
type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

// cqringOffsets is struct io_cqring_offsets.
type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// sqe is struct io_uring_sqe (64 bytes).
type sqe struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32 // rw_flags, fsync_flags, ...
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	_           uint64
}

// cqe is struct io_uring_cqe (16 bytes).
type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// probe is struct io_uring_probe with room for every opcode.
type probe struct {
	lastOp uint8
	opsLen uint8
	resv   uint16
	resv2  [3]uint32
	ops    [256]probeOp
}

type probeOp struct {
	op    uint8
	resv  uint8
	flags uint16
	resv2 uint32
}

// The layouts above must match the kernel's sizes; these fail to compile
// otherwise.
var (
	_ = [1]struct{}{}[unsafe.Sizeof(params{})-120]
	_ = [1]struct{}{}[unsafe.Sizeof(sqe{})-64]
	_ = [1]struct{}{}[unsafe.Sizeof(cqe{})-16]
	_ = [1]struct{}{}[unsafe.Sizeof(probe{})-16-256*8]
)
