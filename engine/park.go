package engine

import (
	"errors"
	"fmt"
	"github.com/weedvol/weedvol/wlog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Parking: a store keeps the descriptors of at most FDBudget.Limit volumes
// open. A volume not used for a while, or the least recently used ones
// when more are open than the limit allows, is parked: its .dat and .idx
// are synced and closed (and its pooled readers) and its index is closed,
// while everything the heartbeat and the status pages read (counters,
// super block, sizes) stays in memory. The next operation that needs the files opens
// them again (unpark). So a node with 50,000 volumes runs under a
// descriptor limit of 20,000, and an idle volume costs no descriptor.
//
// Lock order: parking takes life exclusively with TryLock only, and
// compactMu with TryLock inside it (the reverse of CommitCompact's order,
// which is safe because neither attempt waits). An operation that finds
// its volume parked drops life, unparks under life held exclusively, and
// starts over (enter, acquire).

// fdBudget is shared by the volumes of one store.
type fdBudget struct {
	limit int64         // volumes whose files may be open at once; 0 is no limit
	idle  int64         // ticks of disuse after which a volume is parked; 0 never
	open  atomic.Int64  // volumes whose files are open
	clock atomic.Int64  // ticks (one per parker round) since the store opened
	over  chan struct{} // a nudge to the parker when open passes limit
}

func newFDBudget(limit, idleTicks int64) *fdBudget {
	return &fdBudget{limit: limit, idle: idleTicks, over: make(chan struct{}, 1)}
}

// opened counts one more volume with open files, nudging the parker when
// that is one too many.
func (b *fdBudget) opened() {
	if n := b.open.Add(1); b.limit > 0 && n > b.limit {
		select {
		case b.over <- struct{}{}:
		default:
		}
	}
}

// touch records a use of v's files now. Called with life held shared; a
// store only when the tick changed, so hot volumes do not share a written
// cache line between readers.
func (v *Volume) touch() {
	if b := v.cfg.fds; b != nil {
		if now := b.clock.Load(); v.lastUse.Load() != now {
			v.lastUse.Store(now)
		}
	}
}

// IsParked reports whether the volume's files are closed until next used.
func (v *Volume) IsParked() bool { return v.current().parked.Load() }

// park syncs and closes v's files if nothing holds the volume and no
// compaction is under way, and reports whether it did. It never waits.
func (v *Volume) park() bool {
	if !v.life.TryLock() {
		return false
	}
	defer v.life.Unlock()
	if v.closed || v.parked.Load() || v.dat == nil || v.idxOS == nil || v.remote.Load() != nil {
		return false
	}
	if !v.compactMu.TryLock() {
		return false
	}
	busy := v.compaction != nil
	v.compactMu.Unlock()
	if busy {
		return false
	}
	if err := errors.Join(v.dat.Sync(), v.idxOS.Sync()); err != nil {
		v.failSync(err)
		return false
	}
	v.readers.drain()
	// the index goes too (its counters stay), so a parked volume costs the
	// heap of a cold one: unpark loads it again (loadColdIndex), from the
	// .wvx that Close brings up to date or, for a small one, the .idx
	var ixErr error
	if v.index != nil {
		m := v.index.Metrics()
		ixErr = v.index.Close()
		v.index, v.coldMetrics = nil, &m
	}
	err := errors.Join(ixErr, v.dat.Close(), v.idxOS.Close())
	v.dat, v.datOS, v.idxOS = nil, nil, nil
	if err != nil {
		wlog.Warningf("volume %d: close parked files: %v", v.ID, err)
	}
	v.parked.Store(true)
	v.uncountOpen()
	return true
}

// unpark opens the files of a parked volume again. Called without life.
func (v *Volume) unpark() error {
	v.life.Lock()
	defer v.life.Unlock()
	if v.closed || !v.parked.Load() {
		return nil
	}
	mode := os.O_RDWR
	if v.datReadOnly {
		mode = os.O_RDONLY
	}
	dat, err := openNoFollow(v.FileName(".dat"), mode, 0)
	if err != nil {
		return fmt.Errorf("volume %d: reopen .dat: %w", v.ID, err)
	}
	st, err := dat.Stat()
	if err == nil && st.Size() < v.datSize.Load() {
		err = fmt.Errorf("%s shrank to %d bytes while parked (was %d)", dat.Name(), st.Size(), v.datSize.Load())
		v.damaged.Store(true)
	}
	if err != nil {
		dat.Close()
		return fmt.Errorf("volume %d: reopen .dat: %w", v.ID, err)
	}
	ring, err := v.cfg.IO.Open(dat)
	if err != nil {
		dat.Close()
		return fmt.Errorf("volume %d: reopen .dat: %w", v.ID, err)
	}
	ix, err := openNoFollow(v.FileName(".idx"), os.O_RDWR, 0)
	if err != nil {
		ring.Close()
		return fmt.Errorf("volume %d: reopen .idx: %w", v.ID, err)
	}
	v.datOS, v.dat, v.idxOS = dat, ring, ix
	if err := v.loadColdIndex(); err != nil {
		v.dat.Close()
		v.idxOS.Close()
		v.datOS, v.dat, v.idxOS = nil, nil, nil
		return fmt.Errorf("volume %d: load index: %w", v.ID, err)
	}
	v.parked.Store(false)
	v.countOpen()
	return nil
}

// countOpen counts v's files as open in the store's budget. Called with
// life held exclusively, or while v is not yet shared.
func (v *Volume) countOpen() {
	if b := v.cfg.fds; b != nil && !v.counted {
		v.counted = true
		v.lastUse.Store(b.clock.Load())
		b.opened()
	}
}

// uncountOpen undoes countOpen, when the files are closed.
func (v *Volume) uncountOpen() {
	if b := v.cfg.fds; b != nil && v.counted {
		v.counted = false
		b.open.Add(-1)
	}
}

// drain closes the pooled readers; the pool stays usable.
func (p *readerPool) drain() {
	p.mu.Lock()
	free := p.free
	p.free = nil
	p.mu.Unlock()
	for _, f := range free {
		f.Close()
	}
}

// parker is the store's one goroutine that parks volumes: each tick it
// advances the clock, parks every volume idle for budget.idle ticks, and,
// while more volumes have open files than the limit, the least recently
// used down to nine tenths of it.
type parker struct {
	b     *fdBudget
	tick  time.Duration
	vols  func() []*Volume
	stop  chan struct{}
	done  sync.WaitGroup
	round func() // test hook, after each round
}

func (p *parker) start() {
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(p.tick)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.b.clock.Add(1)
			case <-p.b.over:
			}
			p.parkRound()
			if p.round != nil {
				p.round()
			}
		}
	}()
}

func (p *parker) close() {
	close(p.stop)
	p.done.Wait()
}

// parkRound parks what the budget says should be parked.
func (p *parker) parkRound() {
	now := p.b.clock.Load()
	over := p.b.limit > 0 && p.b.open.Load() > p.b.limit
	if !over && p.b.idle == 0 {
		return
	}
	var lru []*Volume
	for _, v := range p.vols() {
		if v.parked.Load() {
			continue
		}
		if p.b.idle > 0 && now-v.lastUse.Load() >= p.b.idle {
			v.park()
			continue
		}
		if over {
			lru = append(lru, v)
		}
	}
	if !over {
		return
	}
	slices.SortFunc(lru, func(a, b *Volume) int { return int(a.lastUse.Load() - b.lastUse.Load()) })
	target := p.b.limit * 9 / 10
	for _, v := range lru {
		if p.b.open.Load() <= target {
			break
		}
		v.park()
	}
}
