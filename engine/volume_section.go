package engine

import (
	"fmt"
	"os"
	"sync"
)

// maxPooledReaders bounds the idle read-only .dat descriptors a volume keeps
// for zero-copy sends.
const maxPooledReaders = 16

// readerPool keeps read-only descriptors of a volume's .dat, each with a
// file position of its own, for callers that hand the kernel a file and an
// offset (sendfile). INVARIANT: a descriptor is either in free or held by
// exactly one caller; once closed is set, returned descriptors are closed
// instead of kept.
type readerPool struct {
	mu     sync.Mutex
	free   []*os.File
	closed bool
}

// DatReader returns a read-only descriptor of the volume's .dat, for the
// caller's exclusive use until it calls done (once). The caller may seek it
// and read anywhere below Size(). A descriptor outlives Close and Destroy:
// it keeps reading the file it was opened on, so a send already under way
// completes with the bytes it started with.
func (v *Volume) DatReader() (f *os.File, done func(), err error) {
	aerr := v.acquire()
	if aerr != nil {
		return nil, nil, aerr
	}
	defer v.life.RUnlock()
	if v.remote.Load() != nil {
		return nil, nil, fmt.Errorf("volume %d: %w", v.ID, ErrRemoteVolume)
	}
	p := &v.readers
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		f = p.free[n-1]
		p.free = p.free[:n-1]
	}
	p.mu.Unlock()
	if f == nil {
		if f, err = os.Open(v.FileName(".dat")); err != nil {
			return nil, nil, err
		}
	}
	return f, func() { p.put(f) }, nil
}

func (p *readerPool) put(f *os.File) {
	p.mu.Lock()
	if !p.closed && len(p.free) < maxPooledReaders {
		p.free = append(p.free, f)
		f = nil
	}
	p.mu.Unlock()
	if f != nil {
		f.Close()
	}
}

// close closes the idle descriptors; those held are closed when returned.
func (p *readerPool) close() {
	p.mu.Lock()
	free := p.free
	p.free, p.closed = nil, true
	p.mu.Unlock()
	for _, f := range free {
		f.Close()
	}
}
