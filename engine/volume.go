package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/engine/superblock"
	"github.com/weedvol/weedvol/engine/vif"
	"github.com/weedvol/weedvol/iouring"
	"github.com/weedvol/weedvol/mmapidx"
	"github.com/weedvol/weedvol/wlog"
)

// VolumeConfig says where a volume lives and, for a new one, how to create it.
type VolumeConfig struct {
	ID         uint32
	Collection string
	Dir        string // .dat and .vif
	IdxDir     string // .idx and .wvx; Dir when empty

	// Create makes the volume when its .dat does not exist.
	Create           bool
	ReplicaPlacement superblock.ReplicaPlacement
	TTL              needle.TTL
	Version          needle.Version // CurrentVersion when 0
	OffsetSize       int            // 4 when 0
	Preallocate      int64

	// IO serves .dat reads, appends and syncs; the portable engine when nil.
	IO iouring.Engine
	// Tiers resolves the backend of a volume whose .dat is on a remote
	// tier (tier.go); nil resolves none.
	Tiers *RemoteTiers
	// Logf receives repair and warning messages; discarded when nil.
	Logf func(format string, args ...any)

	// listed is what the store's directory listing showed of the volume's
	// files in Dir; zero (unknown) makes Open look for itself.
	listed listed
	// fds is the store's descriptor budget (park.go); nil: never parked.
	fds *fdBudget
	// remoteSuper, when set, is the super block a tiered volume without a
	// local .dat opens with, read beforehand (Store.RefreshRemoteSupers).
	remoteSuper *superblock.SuperBlock
	// lowDisk is the location's low-free-space mark (diskspace.go): while
	// set the volume is read-only. nil: never.
	lowDisk *atomic.Bool
}

// Volume is one open volume. All methods are safe for concurrent use.
type Volume struct {
	ID         uint32
	Collection string

	dir, idxDir string
	format      idx.Format
	super       superblock.SuperBlock
	logf        func(string, ...any)

	// life is held shared by every operation that touches the files and
	// exclusively by Close and Destroy. INVARIANT: while held shared, the
	// files and index below stay open.
	life   sync.RWMutex
	closed bool // guarded by life
	// parked says the files below are closed until the next operation
	// that needs them (park.go). Written with life held exclusively.
	parked atomic.Bool
	// lastUse is the store clock tick of the last use of the files.
	lastUse atomic.Int64
	// datReadOnly: the .dat could only be opened for reading.
	datReadOnly bool
	// superGuessed: a tiered volume opened without a local .dat while its
	// backend was unknown; super came from the .vif (volume_tier.go).
	// Set at open only.
	superGuessed bool
	// counted: the open files are counted in cfg.fds.open. Guarded by life.
	counted bool
	// coldMetrics are the counters from the volume summary while the index
	// is not loaded (summary.go); nil once it is. Guarded by life.
	coldMetrics *mmapidx.Metrics
	// infoBytes is the undecoded .vif of a cold volume until infoLocked
	// decodes it (info is nil until then). Guarded by mu.
	infoBytes     []byte
	coldReadOnly  bool // the read-only mark in infoBytes
	coldCanDelete bool // ... and whether it takes deletes

	// datOS is nil while the .dat is remote; dat is then a *remoteDat.
	datOS *os.File
	dat   iouring.File
	// remote is the remote .dat the volume reads (volume_tier.go), nil for
	// a local volume. Stored with life held exclusively; loaded without locks.
	remote atomic.Pointer[remoteDat]
	idxOS  *os.File
	index  *mmapidx.Index

	// mu serializes everything that appends: the committer's leader holds it
	// for a whole batch. It guards idxSize, lastAppendAtNs, info and the
	// single-writer side of index.
	mu             sync.Mutex
	idxSize        int64
	lastAppendAtNs uint64
	info           *vif.Info
	// batchBufs and batchRows are commitBatch's scratch, kept between
	// batches; they hold no references once a batch is done.
	batchBufs [][]byte
	batchRows []byte
	// pendingTail holds, during Open only, the records past the last .idx
	// row that checkTail found and indexTail indexes.
	pendingTail []tailRecord
	// sortedIdx: during Open only, the .idx is not in append order (its
	// last row is not its last record: a volume decoded from EC shards,
	// whose rows upstream sorts by key), see indexTail.
	sortedIdx bool

	// datSize is the end of the last fully written record. Written under mu;
	// read without locks.
	datSize atomic.Int64
	// readOnly refuses writes and deletes: the operator's read-only mark
	// (persisted in the .vif) or a .dat that opens only for reading
	// (upstream's noWriteOrDelete). canDelete refuses writes but takes
	// deletes: the operator's can-delete mark, and every volume served
	// from a remote tier, whose deletes are index rows only (upstream's
	// noWriteCanDelete). damaged is set when Open found the files
	// inconsistent or an fsync failed; it refuses both.
	readOnly  atomic.Bool
	canDelete atomic.Bool
	damaged   atomic.Bool
	// lastModified is the newest write's time in Unix seconds.
	lastModified atomic.Int64

	commit committer
	// readers pools .dat descriptors for zero-copy sends (DatReader).
	readers readerPool

	// cfg is how the volume was opened, for reopening it after a
	// compaction.
	cfg VolumeConfig
	// successor is the volume a committed compaction replaced this one
	// with; see enter.
	successor atomic.Pointer[Volume]
	// compaction is the state of an uncommitted compaction (nil: none).
	compactMu  sync.Mutex
	compaction *compaction
}

// OpenVolume opens (or, with cfg.Create, creates) a volume and checks its
// tail: an .idx row cut mid-way is dropped, a .dat record cut mid-way is cut
// off, and complete records the .idx does not name yet are indexed. What
// cannot be explained leaves the volume read-only rather than failing. A
// compaction or volume copy a crash interrupted is first finished or
// rolled back (finishInterruptedCompaction, settleCopy).
func OpenVolume(cfg VolumeConfig) (*Volume, error) {
	return openVolume(cfg, true)
}

// openVolume is OpenVolume; settle first finishes or drops a compaction or
// copy a crash interrupted (CommitCompact reopens without it: its backups
// are still needed then).
func openVolume(cfg VolumeConfig, settle bool) (*Volume, error) {
	if cfg.IdxDir == "" {
		cfg.IdxDir = cfg.Dir
	}
	if cfg.IO == nil {
		cfg.IO = iouring.NewSync()
	}
	if err := ValidCollection(cfg.Collection); err != nil {
		return nil, fmt.Errorf("volume %d: %w", cfg.ID, err)
	}
	v := &Volume{ID: cfg.ID, Collection: cfg.Collection, dir: cfg.Dir, idxDir: cfg.IdxDir, logf: cfg.Logf, cfg: cfg}
	v.cfg.Create = false
	v.cfg.listed = 0 // a reopen (after a compaction) looks for itself
	if v.logf == nil {
		v.logf = func(string, ...any) {}
	}
	base := BaseName(cfg.Collection, cfg.ID)
	// An .idx beside the .dat wins over -dir.idx, as upstream.
	if cfg.IdxDir != cfg.Dir && cfg.listed.has(listedIdx) {
		if _, err := os.Stat(filepath.Join(cfg.Dir, base+".idx")); err == nil {
			v.idxDir = cfg.Dir
		}
	}
	if settle {
		if err := settleCopy(cfg.Dir, cfg.IdxDir, base, cfg.ID, v.logf); err != nil {
			return nil, err
		}
	}
	if settle && cfg.listed.has(listedLeftovers) {
		if err := v.finishInterruptedCompaction(); err != nil {
			return nil, err
		}
	}
	if cfg.Create {
		if err := v.createIfMissing(cfg); err != nil {
			return nil, err
		}
	}
	info, hasInfo := &vif.Info{}, false
	var err error
	if cfg.listed.has(listedVif) {
		if info, hasInfo, err = loadVif(v.FileName(".vif")); err != nil {
			return nil, err
		}
	}
	v.info = info
	offsetSize := int(info.GetBytesOffset())
	if offsetSize == 0 {
		offsetSize = cfg.OffsetSize
	}
	if offsetSize == 0 {
		offsetSize = idx.Offset4
	}
	if v.format, err = idx.FormatFor(offsetSize); err != nil {
		return nil, fmt.Errorf("volume %d: %w", cfg.ID, err)
	}
	if rf := remoteFileOf(info); rf != nil {
		return v.openRemote(cfg, info, rf)
	}
	if err = v.openDat(cfg); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			v.closeFiles()
		}
	}()
	if v.dat, err = cfg.IO.Open(v.datOS); err != nil {
		return nil, fmt.Errorf("volume %d: %w", cfg.ID, err)
	}
	if v.idxOS, err = openNoFollow(v.FileName(".idx"), os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		return nil, fmt.Errorf("volume %d: open index: %w", cfg.ID, err)
	}
	if err := v.checkTail(); err != nil {
		return nil, err
	}
	opt := mmapidx.OpenOptions{NoWVX: v.idxDir == v.dir && !cfg.listed.has(listedWVX)}
	if v.index, err = mmapidx.OpenFile(v.idxOS, v.FileName(".idx"), offsetSize, opt); err != nil {
		return nil, fmt.Errorf("volume %d: load index: %w", cfg.ID, err)
	}
	if err := v.indexTail(); err != nil {
		return nil, err
	}
	v.applyMark(info)
	if !hasInfo {
		v.info.Version = uint32(v.super.Version)
		v.info.BytesOffset = uint32(offsetSize)
		v.info.Replication = v.super.ReplicaPlacement.String()
		if err := vif.Save(v.FileName(".vif"), v.info); err != nil {
			wlog.Warningf("volume %d: save %s: %v", v.ID, v.FileName(".vif"), err)
		}
	} else {
		v.reconcileReplication()
	}
	if st, err := v.datOS.Stat(); err == nil {
		v.lastModified.Store(st.ModTime().Unix())
	}
	v.commit.v = v
	v.countOpen()
	ok = true
	return v, nil
}

func (v *Volume) openDat(cfg VolumeConfig) error {
	path := v.FileName(".dat")
	f, err := openNoFollow(path, os.O_RDWR, 0o644)
	if errors.Is(err, os.ErrPermission) {
		f, err = openNoFollow(path, os.O_RDONLY, 0)
		v.readOnly.Store(true)
		v.datReadOnly = true
	}
	if err != nil {
		return fmt.Errorf("volume %d: open %s: %w", cfg.ID, path, err)
	}
	v.datOS = f
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("volume %d: %w", cfg.ID, err)
	}
	head := make([]byte, superblock.Size)
	if _, err := f.ReadAt(head, 0); err != nil {
		return fmt.Errorf("volume %d: read super block of %s: %w", cfg.ID, path, err)
	}
	if n := superblock.ExtraSize(head); n > 0 && head[0] != byte(needle.Version1) {
		head = append(head, make([]byte, n)...)
		if _, err := f.ReadAt(head[superblock.Size:], superblock.Size); err != nil {
			return fmt.Errorf("volume %d: read super block extra of %s: %w", cfg.ID, path, err)
		}
	}
	if v.super, err = superblock.Decode(head); err != nil {
		return fmt.Errorf("volume %d: %s: %w", cfg.ID, path, err)
	}
	v.datSize.Store(st.Size())
	return nil
}

// FileName is the path of the volume's file with extension ext (".dat", ...).
// The index and its companions (.wvx, a compaction's .cpx) are in the index
// directory, as upstream keeps them, so a compaction's renames never cross
// file systems.
func (v *Volume) FileName(ext string) string {
	dir := v.dir
	if ext == ".idx" || ext == ".wvx" || ext == ".cpx" {
		dir = v.idxDir
	}
	return filepath.Join(dir, BaseName(v.Collection, v.ID)+ext)
}

// SuperBlock returns the volume's super block.
func (v *Volume) SuperBlock() superblock.SuperBlock { return v.current().super }

// Version is the needle version of the volume.
func (v *Volume) Version() needle.Version { return v.super.Version }

// OffsetSize is the .idx offset width, 4 or 5.
func (v *Volume) OffsetSize() int { return v.format.OffsetSize }

// Size is the .dat length covered by complete records.
func (v *Volume) Size() int64 { return v.current().datSize.Load() }

// MaxSize is the largest .dat the volume's offset width can address.
func (v *Volume) MaxSize() int64 { return v.format.MaxVolumeSize() }

// LastModified is the time of the newest write, in Unix seconds.
func (v *Volume) LastModified() int64 { return v.current().lastModified.Load() }

// IndexSize is the length of the .idx.
func (v *Volume) IndexSize() int64 {
	v = v.current()
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.idxSize
}

// Stats are the counters the master and status pages report.
type Stats struct {
	FileCount, DeleteCount  uint64
	FileBytes, DeletedBytes uint64
	MaxFileKey              uint64
}

// Stats returns the index counters, upstream's accounting (zero for a
// closed volume).
func (v *Volume) Stats() Stats {
	v, err := v.enterFor(false)
	if err != nil {
		return Stats{}
	}
	defer v.life.RUnlock()
	var m mmapidx.Metrics
	switch {
	case v.index != nil:
		m = v.index.Metrics()
	case v.coldMetrics != nil:
		m = *v.coldMetrics
	}
	return Stats{FileCount: m.FileCount, DeleteCount: m.DeletionCount, FileBytes: m.FileBytes,
		DeletedBytes: m.DeletionBytes, MaxFileKey: m.MaxFileKey}
}

// IsReadOnly reports whether writes are refused: marked read-only by the
// operator (with or without deletes), served from a remote tier, damaged,
// or in a directory whose disk is low (diskspace.go).
func (v *Volume) IsReadOnly() bool {
	v = v.current()
	return v.readOnly.Load() || v.canDelete.Load() || v.damaged.Load() ||
		(v.cfg.lowDisk != nil && v.cfg.lowDisk.Load())
}

// ReadOnlyCanDelete reports upstream's noWriteCanDelete: writes are refused
// and deletes still land (the operator's can-delete mark, or a remote .dat).
// The heartbeat's read_only_can_delete.
func (v *Volume) ReadOnlyCanDelete() bool { return v.current().canDelete.Load() }

// ReadOnlyReasons is upstream's: whether writes are refused, and why:
// noWriteOrDelete (the operator's mark, a .dat opened read-only, or damaged
// files), noWriteCanDelete (see ReadOnlyCanDelete), a low disk. More than
// one may hold.
func (v *Volume) ReadOnlyReasons() (readOnly, noWriteOrDelete, noWriteCanDelete, diskSpaceLow bool) {
	v = v.current()
	noWriteOrDelete = v.readOnly.Load() || v.damaged.Load()
	noWriteCanDelete = v.canDelete.Load()
	diskSpaceLow = v.cfg.lowDisk != nil && v.cfg.lowDisk.Load()
	return noWriteOrDelete || noWriteCanDelete || diskSpaceLow, noWriteOrDelete, noWriteCanDelete, diskSpaceLow
}

// IsDamaged reports whether Open found an inconsistency it could not repair.
func (v *Volume) IsDamaged() bool { return v.current().damaged.Load() }

// SetReadOnly changes the operator's read-only mark, refusing deletes as
// well as writes (VolumeMarkReadonly without can_delete, or
// VolumeMarkWritable when readOnly is false); see SetReadOnlyMode.
func (v *Volume) SetReadOnly(readOnly, persist bool) error {
	return v.SetReadOnlyMode(readOnly, false, persist)
}

// SetReadOnlyMode sets the operator's mark as upstream's store does:
// read-only with canDelete refuses writes and takes deletes; read-only
// without it refuses both (a remote volume keeps its own can-delete mode
// beneath); writable (readOnly false) lifts both, except that a remote
// volume stays can-delete and a .dat opened read-only stays read-only.
// persist records the mark in the .vif (read_only, read_only_can_delete);
// when that fails the flags are left as they were.
func (v *Volume) SetReadOnlyMode(readOnly, canDelete, persist bool) error {
	v = v.current()
	v.mu.Lock()
	defer v.mu.Unlock()
	prevRO, prevCD := v.readOnly.Load(), v.canDelete.Load()
	v.setMark(mark(readOnly, canDelete))
	if !persist {
		return nil
	}
	info := v.infoLocked()
	oldRO, oldCD := info.ReadOnly, info.ReadOnlyCanDelete
	info.ReadOnly, info.ReadOnlyCanDelete = readOnly, readOnly && canDelete
	if err := vif.Save(v.FileName(".vif"), info); err != nil {
		v.readOnly.Store(prevRO)
		v.canDelete.Store(prevCD)
		info.ReadOnly, info.ReadOnlyCanDelete = oldRO, oldCD
		return err
	}
	return nil
}

// applyMark sets the flags from a .vif's mark.
func (v *Volume) applyMark(info *vif.Info) {
	v.setMark(mark(info.GetReadOnly(), info.GetReadOnlyCanDelete()))
}

// mark decodes upstream's read-only mark (read_only, read_only_can_delete)
// into what it refuses: writes and deletes (noWD) or writes only (noWCD).
func mark(readOnly, canDelete bool) (noWD, noWCD bool) {
	return readOnly && !canDelete, readOnly && canDelete
}

// setMark sets the flags for the operator's mark, keeping what the files
// impose: a .dat opened read-only refuses deletes too, a remote .dat
// takes deletes only.
func (v *Volume) setMark(noWD, noWCD bool) {
	remote := v.remote.Load() != nil
	v.readOnly.Store(noWD || v.datReadOnly && !remote)
	v.canDelete.Store(noWCD || remote)
}

// infoLocked returns the decoded .vif content, decoding the bytes a cold
// volume was registered with on first use. Called with mu held.
func (v *Volume) infoLocked() *vif.Info {
	if v.info == nil {
		info, err := vif.Decode(v.infoBytes)
		if err != nil {
			v.logf("volume %d: .vif from the volume summary: %v", v.ID, err)
			info = &vif.Info{}
		}
		v.info, v.infoBytes = info, nil
	}
	return v.info
}

// Info returns a copy of the volume's .vif content.
func (v *Volume) Info() *vif.Info {
	v = v.current()
	v.mu.Lock()
	defer v.mu.Unlock()
	return cloneInfo(v.infoLocked())
}

// Sync flushes the .dat and .idx to stable storage.
func (v *Volume) Sync() error {
	v, aerr := v.enter()
	if aerr != nil {
		return aerr
	}
	defer v.life.RUnlock()
	if err := v.dat.Sync(); err != nil {
		return err
	}
	return v.idxOS.Sync()
}

// enter takes life shared on the volume that now holds v's data and
// returns it: v itself, or, when a committed compaction has replaced v, its
// successor (followed as far as it goes). It fails with ErrClosed on a
// volume closed for good.
//
// INVARIANT: successor is set, under life held exclusively, before closed
// is; so a caller that finds v closed either finds the successor or none
// will come.
func (v *Volume) enter() (*Volume, error) { return v.enterFor(true) }

// enterFor is enter; with files set it also makes sure the volume's files
// are open (unparking it), for operations that read or write them.
func (v *Volume) enterFor(files bool) (*Volume, error) {
	for {
		v.life.RLock()
		if !v.closed {
			if !files {
				return v, nil
			}
			if !v.parked.Load() {
				v.touch()
				return v, nil
			}
			v.life.RUnlock()
			if err := v.unpark(); err != nil {
				return nil, err
			}
			continue
		}
		next := v.successor.Load()
		v.life.RUnlock()
		if next == nil {
			return nil, ErrClosed
		}
		v = next
	}
}

// acquire takes life shared on v itself, failing with ErrClosed once v is
// closed, compacted or not. Calls that take .dat/.idx offsets
// (ReadAt, ReadIndexAt, DatReader) use it: an offset from before
// a compaction means nothing in the compacted files, so such a call fails
// instead of being forwarded.
func (v *Volume) acquire() error {
	for {
		v.life.RLock()
		if v.closed {
			v.life.RUnlock()
			return ErrClosed
		}
		if !v.parked.Load() {
			v.touch()
			return nil
		}
		v.life.RUnlock()
		if err := v.unpark(); err != nil {
			return err
		}
	}
}

// current is the volume that now holds v's data, without locks: for
// counters and sizes that are read lock-free.
func (v *Volume) current() *Volume {
	for {
		next := v.successor.Load()
		if next == nil {
			return v
		}
		v = next
	}
}

// Close syncs and closes the volume's files; it waits for operations in
// flight. Further calls fail with ErrClosed.
func (v *Volume) Close() error {
	v.life.Lock()
	defer v.life.Unlock()
	if v.closed {
		return nil
	}
	v.closed = true
	var errs []error
	if v.dat != nil {
		errs = append(errs, v.dat.Sync())
	}
	if v.idxOS != nil {
		errs = append(errs, v.idxOS.Sync())
	}
	errs = append(errs, v.closeFiles())
	return errors.Join(errs...)
}

func (v *Volume) closeFiles() error {
	v.uncountOpen()
	v.readers.close()
	var errs []error
	if v.index != nil {
		errs = append(errs, v.index.Close())
		v.index = nil
	}
	if v.dat != nil {
		errs = append(errs, v.dat.Close()) // closes datOS too
		v.dat, v.datOS = nil, nil
	} else if v.datOS != nil {
		errs = append(errs, v.datOS.Close())
		v.datOS = nil
	}
	if v.idxOS != nil {
		errs = append(errs, v.idxOS.Close())
		v.idxOS = nil
	}
	return errors.Join(errs...)
}

// readFull reads len(p) bytes at off or fails.
func (v *Volume) readFull(p []byte, off int64) error {
	n, err := v.dat.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func nowNs() uint64 { return uint64(time.Now().UnixNano()) }
