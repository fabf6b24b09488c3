package iouring

import (
	"errors"
	"sync/atomic"
	"syscall"
)

// Engine names as Stats reports them.
const (
	EngineSync  = 0
	EngineUring = 1
	numEngines  = 2
)

// EngineNames are the label values of Stats.Ops's first index.
var EngineNames = [numEngines]string{"sync", "uring"}

// KindNames are the label values of Stats.Ops's second index: ReadAt,
// WriteAt, WriteVAt and Sync.
var KindNames = kindNames

// NumKinds is the number of operation kinds.
const NumKinds = int(numKinds)

// Stats are process-wide counts of the operations Files performed, since
// the process started. An operation is counted once, under the engine that
// ran it (for "auto", the engine its kind is routed to); a WriteVAtSync
// that io_uring runs as one linked submission counts as one writev and one
// sync.
type Stats struct {
	Ops [numEngines][numKinds]uint64
	// Submitted and Completed count io_uring SQEs handed to the kernel and
	// CQEs reaped (a resubmitted short transfer counts again); Enters
	// counts io_uring_enter calls.
	Submitted, Completed, Enters uint64
	// IOErrors counts operations that failed with EIO: the storage
	// device, not the request, is at fault.
	IOErrors uint64
}

// counter is an atomic counter alone on its cache line, so that counters
// bumped by different cores do not contend.
type counter struct {
	atomic.Uint64
	_ [56]byte
}

var (
	opCounts                   [numEngines][numKinds]counter
	submitted, completed, ents counter
	ioErrors                   counter
)

// noteIOError counts err if it is an EIO.
func noteIOError(err error) {
	if errors.Is(err, syscall.EIO) {
		ioErrors.Add(1)
	}
}

func countOp(engine int, kind opKind) { opCounts[engine][kind].Add(1) }

// ReadStats returns the counts so far. Each field is read atomically; the
// fields together are not one snapshot.
func ReadStats() Stats {
	var s Stats
	for e := range opCounts {
		for k := range opCounts[e] {
			s.Ops[e][k] = opCounts[e][k].Load()
		}
	}
	s.Submitted, s.Completed, s.Enters = submitted.Load(), completed.Load(), ents.Load()
	s.IOErrors = ioErrors.Load()
	return s
}
