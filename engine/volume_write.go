package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/wlog"
)

// WriteOptions tune one write.
type WriteOptions struct {
	// CheckCookie refuses to overwrite an existing needle whose cookie
	// differs. When false and the request's cookie is 0, the existing
	// cookie is adopted (upstream's replication behaviour).
	CheckCookie bool
	// Fsync makes the write durable before it returns.
	Fsync bool
}

// WriteResult reports where a write landed.
type WriteResult struct {
	Offset    int64
	Size      int32 // the record's size field
	Unchanged bool  // identical to the stored needle: nothing was written
}

// splitWriteMin is the data size from which a write's record is encoded
// around its data (needle.EncodeAround) and the data goes to the vectored
// write as its own buffer instead of being copied into the record.
const splitWriteMin = 64 << 10

// op is one queued append: a write or a delete.
type op struct {
	// The record is rec[:dataAt] + data + rec[dataAt:]; data is nil unless
	// the write was split (then it aliases the caller's needle data, which
	// stays untouched until run returns). The leader patches the v3
	// timestamp at rec[tsAt:].
	rec    []byte
	data   []byte
	dataAt int
	tsAt   int
	key    uint64
	cookie uint32
	size   int32
	delete bool
	opts   WriteOptions

	// results, set by the leader before done is signalled
	offset   int64
	oldSize  int32
	deleted  bool
	err      error
	modified uint64
	// done receives exactly one value per run: false when the op has been
	// committed by a leader, true when the op must lead the next batch.
	done chan bool
}

var opPool = sync.Pool{New: func() any { return &op{done: make(chan bool, 1)} }}

// committer batches concurrent appends to one volume (group commit).
type committer struct {
	v *Volume
	// qmu guards queue and leading.
	qmu     sync.Mutex
	queue   []*op
	leading bool
	spare   []*op
}

// Write appends n (its Cookie, ID, Data and metadata fields set; Checksum
// computed here) to the volume. n.AppendAtNs is assigned by the volume.
func (v *Volume) Write(n *needle.Needle, opts WriteOptions) (WriteResult, error) {
	v, aerr := v.enter()
	if aerr != nil {
		return WriteResult{}, aerr
	}
	defer v.life.RUnlock()
	if v.IsReadOnly() {
		return WriteResult{}, fmt.Errorf("volume %d is %w", v.ID, ErrReadOnly)
	}
	if err := n.Validate(); err != nil {
		return WriteResult{}, err
	}
	if n.TTL.IsZero() && !v.super.TTL.IsZero() {
		// a needle written to a TTL volume without a TTL of its own gets the
		// volume's, as upstream stamps it
		n.SetTTL(v.super.TTL)
	}
	n.Checksum = needle.NewCRC(n.Data)
	if v.isUnchanged(n) {
		return WriteResult{Size: n.Size, Unchanged: true}, nil
	}
	o := opPool.Get().(*op)
	if len(n.Data) >= splitWriteMin {
		o.rec, o.dataAt = n.EncodeAround(o.rec[:0], v.super.Version)
		o.data = n.Data
	} else {
		o.rec = n.Encode(o.rec[:0], v.super.Version)
		o.dataAt = len(o.rec)
	}
	o.tsAt = needle.AppendAtNsOffset(n.Size) - len(o.data)
	o.key, o.cookie, o.size, o.delete, o.opts = n.ID, n.Cookie, n.Size, false, opts
	o.modified = n.LastModified
	v.commit.run(o)
	res, err := WriteResult{Offset: o.offset, Size: o.size}, o.err
	if err == nil && v.super.Version == needle.Version3 {
		n.AppendAtNs = binary.BigEndian.Uint64(o.rec[o.tsAt:])
	}
	n.Cookie = o.cookie
	o.release()
	return res, err
}

// Delete appends a tombstone for key and marks it deleted. It returns the
// size the index held for the needle, or 0 (and no error) when the needle
// was absent or already deleted, as upstream does.
func (v *Volume) Delete(key uint64, cookie uint32, opts WriteOptions) (int32, error) {
	v, aerr := v.enter()
	if aerr != nil {
		return 0, aerr
	}
	defer v.life.RUnlock()
	// a low disk and a can-delete mark refuse writes, not deletes (upstream
	// checks only its no-write-or-delete mark here): a tombstone is what
	// frees space. A remote volume's delete is an index row (commitBatch).
	if v.readOnly.Load() || v.damaged.Load() {
		return 0, fmt.Errorf("volume %d is %w", v.ID, ErrReadOnly)
	}
	if _, size, ok := v.index.Get(key); !ok || size < 0 {
		return 0, nil
	}
	n := needle.Needle{Cookie: cookie, ID: key}
	o := opPool.Get().(*op)
	o.rec = n.Encode(o.rec[:0], v.super.Version)
	o.dataAt = len(o.rec)
	o.tsAt = needle.AppendAtNsOffset(0)
	o.key, o.cookie, o.size, o.delete, o.opts = key, cookie, 0, true, opts
	o.modified = 0
	v.commit.run(o)
	size, err := o.oldSize, o.err
	o.release()
	if err == errAlreadyDeleted {
		return 0, nil
	}
	return size, err
}

func (o *op) release() {
	if cap(o.rec) > 1<<20 {
		o.rec = nil // do not pin large buffers in the pool
	}
	o.err = nil
	o.data = nil
	opPool.Put(o)
}

// isUnchanged reports whether n equals the live needle stored under its id
// (cookie, checksum and data), in which case the write is skipped. Volumes
// with a TTL always write, as upstream.
func (v *Volume) isUnchanged(n *needle.Needle) bool {
	if !v.super.TTL.IsZero() {
		return false
	}
	off, size, ok := v.lookup(n.ID)
	if !ok || size <= 0 || off == 0 {
		return false
	}
	rec := make([]byte, needle.ActualSize(size, v.super.Version))
	if v.readFull(rec, off) != nil {
		return false
	}
	var old needle.Needle
	if old.Decode(rec, size, v.super.Version) != nil {
		return false
	}
	if old.Cookie == n.Cookie && old.Checksum == n.Checksum && bytes.Equal(old.Data, n.Data) {
		n.Size = old.Size
		return true
	}
	return false
}

// run queues o and returns when it is committed. The first caller to find
// no leader becomes the leader and commits everything queued, its own op
// included, as one batch. It then hands leadership to the oldest op queued
// meanwhile (or, with none, gives it up) and returns: a leader commits one
// batch, so no request waits behind an unbounded run of other requests'
// batches.
func (c *committer) run(o *op) {
	c.qmu.Lock()
	c.queue = append(c.queue, o)
	if c.leading {
		c.qmu.Unlock()
		if lead := <-o.done; !lead {
			return
		}
		c.qmu.Lock() // handed over: leading stays true
	}
	c.leading = true
	batch := c.queue
	c.queue, c.spare = c.spare[:0], nil
	c.qmu.Unlock()

	c.v.commitBatch(batch)

	c.qmu.Lock()
	var next *op
	if len(c.queue) > 0 {
		next = c.queue[0]
	} else {
		c.leading = false
	}
	c.qmu.Unlock()
	for _, b := range batch {
		if b != o {
			b.done <- false
		}
	}
	if next != nil {
		next.done <- true
	}
	clear(batch)
	c.qmu.Lock()
	if c.spare == nil {
		c.spare = batch[:0]
	}
	c.qmu.Unlock()
}

// commitBatch appends the batch's records and rows. Ops that fail their
// checks get an error and take no space; an I/O error fails the whole batch
// and cuts the .dat back to where it was.
func (v *Volume) commitBatch(batch []*op) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.remote.Load() != nil {
		v.commitRemoteBatch(batch)
		return
	}
	start := v.datSize.Load()
	end := start
	limit := v.format.MaxVolumeSize()
	ver := v.super.Version
	bufs, rows := v.batchBufs[:0], v.batchRows[:0]
	defer func() {
		clear(bufs) // drop the references to callers' data
		if cap(bufs) <= 1024 && cap(rows) <= 64<<10 {
			v.batchBufs, v.batchRows = bufs[:0], rows[:0]
		}
	}()
	live := batch[:0:0]
	fsync := false
	for i, o := range batch {
		if o.err = v.checkOp(o, batch[:i]); o.err != nil {
			continue
		}
		recLen := int64(len(o.rec) + len(o.data))
		if end+recLen > limit && !o.delete {
			o.err = fmt.Errorf("volume %d: %w: %d of %d bytes", v.ID, ErrVolumeFull, end, limit)
			continue
		}
		if ver == needle.Version3 {
			ts := max(nowNs(), v.lastAppendAtNs+1)
			binary.BigEndian.PutUint64(o.rec[o.tsAt:], ts)
			v.lastAppendAtNs = ts
		}
		o.offset = end
		rowSize := o.size
		if o.delete {
			rowSize = needle.TombstoneSize
		}
		rows = v.format.AppendEntry(rows, idx.Entry{Key: o.key, Offset: end, Size: rowSize})
		if o.data == nil {
			bufs = append(bufs, o.rec)
		} else {
			bufs = append(bufs, o.rec[:o.dataAt], o.data, o.rec[o.dataAt:])
		}
		end += recLen
		fsync = fsync || o.opts.Fsync
		live = append(live, o)
	}
	if len(live) == 0 {
		return
	}
	groupCommits.observe(len(live))
	// The .idx rows go out right after the records, before any fsync: a
	// process that dies after the .dat write and before its rows leaves
	// records without rows, and the window for that is one pwrite, not an
	// fsync (see "Crash story" in doc.go). Nothing is published or
	// acknowledged until both files are written (and synced, if asked).
	fail := func(err error, rowsWritten bool) {
		if rowsWritten {
			_ = v.idxOS.Truncate(v.idxSize)
		}
		_ = v.datOS.Truncate(start)
		for _, o := range live {
			o.err = err
		}
	}
	if _, err := v.dat.WriteVAt(bufs, start); err != nil {
		fail(fmt.Errorf("volume %d: append: %w", v.ID, err), false)
		return
	}
	if _, err := v.idxOS.WriteAt(rows, v.idxSize); err != nil {
		fail(fmt.Errorf("volume %d: append index: %w", v.ID, err), true)
		return
	}
	if fsync {
		// After a failed fsync the kernel may have dropped the dirty pages
		// it could not write: what the files hold is no longer known, so
		// the volume stops taking writes (and says so in its heartbeat).
		if err := v.dat.Sync(); err != nil {
			fail(fmt.Errorf("volume %d: sync: %w", v.ID, err), true)
			v.failSync(err)
			return
		}
		if err := v.idxOS.Sync(); err != nil {
			fail(fmt.Errorf("volume %d: sync index: %w", v.ID, err), true)
			v.failSync(err)
			return
		}
	}
	v.idxSize += int64(len(rows))
	for _, o := range live {
		if o.delete {
			o.oldSize = v.index.Delete(o.key)
		} else {
			v.index.Put(o.key, uint64(o.offset)/idx.Unit, o.size)
		}
	}
	v.datSize.Store(end)
	v.lastModified.Store(time.Now().Unix())
}

// failSync marks the volume read-only after a failed fsync.
func (v *Volume) failSync(err error) {
	wlog.Errorf("volume %d: fsync failed (%v); the volume is read-only from now on", v.ID, err)
	v.damaged.Store(true)
}

// checkOp validates o against the index and against ops earlier in the same
// batch (which the index does not show yet). Called with mu held.
func (v *Volume) checkOp(o *op, earlier []*op) error {
	for i := len(earlier) - 1; i >= 0; i-- {
		e := earlier[i]
		if e.key != o.key || e.err != nil {
			continue
		}
		if e.delete {
			if o.delete {
				return errAlreadyDeleted
			}
			return nil
		}
		return v.checkCookie(o, e.cookie)
	}
	off, size, ok := v.lookup(o.key)
	if o.delete {
		if !ok || size < 0 {
			return errAlreadyDeleted
		}
		return nil
	}
	if !ok || off == 0 {
		return nil
	}
	var hb [needle.HeaderSize]byte
	if err := v.readFull(hb[:], off); err != nil {
		return fmt.Errorf("reading existing needle: %w", err)
	}
	h, _ := needle.ParseHeader(hb[:])
	if h.ID != o.key {
		return nil // the index and .dat disagree; upstream writes anyway
	}
	return v.checkCookie(o, h.Cookie)
}

func (v *Volume) checkCookie(o *op, existing uint32) error {
	if o.cookie == 0 && !o.opts.CheckCookie {
		o.cookie = existing
		binary.BigEndian.PutUint32(o.rec[0:4], existing)
	}
	if existing != o.cookie {
		return cookieMismatch{o.cookie}
	}
	return nil
}

// errAlreadyDeleted drops a delete that lost a race with another delete; the
// caller sees size 0 and no error.
var errAlreadyDeleted = fmt.Errorf("%w", ErrDeleted)
