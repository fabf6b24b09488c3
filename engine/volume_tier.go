package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"

	"github.com/weedvol/weedvol/atomicfile"
	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/engine/superblock"
	"github.com/weedvol/weedvol/engine/vif"
	"github.com/weedvol/weedvol/mmapidx"
)

// RemoteFile is a .vif's record of a .dat on a remote tier.
type RemoteFile = volume_server_pb.RemoteFile

// IsRemote reports whether the volume's .dat is served from a remote tier.
func (v *Volume) IsRemote() bool { return v.current().remote.Load() != nil }

// RemoteStorage is upstream's RemoteStorageNameKey: the backend name
// ("type.id") and key of the remote file the .vif names first, empty for a
// local volume.
func (v *Volume) RemoteStorage() (name, key string) {
	v = v.current()
	v.mu.Lock()
	defer v.mu.Unlock()
	if f := remoteFileOf(v.infoLocked()); f != nil {
		return backendName(f), f.GetKey()
	}
	return "", ""
}

// openRemote finishes openVolume for a volume whose .vif names a remote
// .dat (rf): the volume refuses writes and takes deletes (index rows
// only, as upstream: a tiered volume is noWriteCanDelete whatever its
// .vif mark), its reads go to the remote object (resolved at each read,
// so the backend need not be known yet), and only the .idx is opened.
// The super block comes from a local .dat kept beside the remote copy,
// else from the object's first bytes, as upstream reads it; while the
// backend is unknown (the store opens before the master's first reply)
// it comes from the .vif (version, replication; TTL and compaction
// revision zero) and Store.RefreshRemoteSupers reads it later.
func (v *Volume) openRemote(cfg VolumeConfig, info *vif.Info, rf *RemoteFile) (_ *Volume, err error) {
	rd := newRemoteDat(cfg.Tiers, rf)
	v.super, err = localSuper(v.FileName(".dat"))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			v.logf("volume %d: local %s beside the remote copy: %v", v.ID, v.FileName(".dat"), err)
		}
		if cfg.remoteSuper != nil {
			v.super, err = *cfg.remoteSuper, nil
			v.cfg.remoteSuper = nil
		} else {
			v.super, err = readSuper(rd, rf.GetKey())
		}
		if err != nil {
			if !errors.Is(err, ErrBackendUnknown) {
				v.logf("volume %d: super block of the remote copy: %v", v.ID, err)
			}
			v.super = superFromVif(info)
			v.superGuessed = true
			cfg.Tiers.guessed.Store(true)
		}
	}
	v.dat = rd
	v.remote.Store(rd)
	v.datSize.Store(int64(rf.GetFileSize()))
	v.canDelete.Store(true)
	if mt := int64(rf.GetModifiedTime()); mt > 0 {
		v.lastModified.Store(mt)
	} else if st, serr := os.Stat(v.FileName(".vif")); serr == nil {
		v.lastModified.Store(st.ModTime().Unix())
	}
	defer func() {
		if err != nil {
			v.closeFiles()
		}
	}()
	if v.idxOS, err = openNoFollow(v.FileName(".idx"), os.O_RDWR, 0); err != nil {
		return nil, fmt.Errorf("volume %d: open index of remote volume: %w", cfg.ID, err)
	}
	st, err := v.idxOS.Stat()
	if err != nil {
		return nil, err
	}
	es := int64(v.format.EntrySize())
	v.idxSize = st.Size() - st.Size()%es // a torn last row is ignored (never written: read-only)
	opt := mmapidx.OpenOptions{NoWVX: v.idxDir == v.dir && !cfg.listed.has(listedWVX)}
	if v.index, err = mmapidx.OpenFile(v.idxOS, v.FileName(".idx"), v.format.OffsetSize, opt); err != nil {
		return nil, fmt.Errorf("volume %d: load index: %w", cfg.ID, err)
	}
	v.commit.v = v
	v.countOpen()
	v.logf("volume %d is tiered to %s as %s: read only, deletes accepted", v.ID, backendName(rf), rf.GetKey())
	return v, nil
}

// superFromVif is the super block a .vif implies: its version (the
// current one when absent) and replication.
func superFromVif(info *vif.Info) superblock.SuperBlock {
	sb := superblock.SuperBlock{Version: needle.Version(info.GetVersion())}
	if sb.Version == 0 {
		sb.Version = needle.CurrentVersion
	}
	if rp, err := superblock.ParsePlacement(info.GetReplication()); err == nil {
		sb.ReplicaPlacement = rp
	}
	return sb
}

// reopenWithSuper opens v again as its successor with super block sb,
// read from its remote object (RefreshRemoteSupers), and returns the
// successor; v stays as it is (and is returned) when that fails or v no
// longer needs it. Only local files are touched. Lock order: compactMu,
// then life (exclusively: no operation runs meanwhile).
func (v *Volume) reopenWithSuper(sb superblock.SuperBlock) (*Volume, error) {
	v = v.lockCompaction()
	defer v.compactMu.Unlock()
	if !v.superGuessed || v.remote.Load() == nil {
		return v, nil
	}
	v.life.Lock()
	defer v.life.Unlock()
	if v.closed {
		return v, nil
	}
	cfg := v.cfg
	cfg.remoteSuper = &sb
	nv, err := openVolume(cfg, false)
	if err != nil {
		return v, err
	}
	if nv.remote.Load() == nil {
		nv.Close() // the .vif changed meanwhile: keep what serves now
		return v, nil
	}
	nv.inheritMarks(v)
	v.retireTo(nv, "the reopen with the remote super block")
	return nv, nil
}

// retireTo closes v's files and hands v over to nv, opened from the same
// files: successor is set before closed (the order enter relies on).
// Called with life held exclusively; why names the reopen in the log.
func (v *Volume) retireTo(nv *Volume, why string) {
	if err := v.closeFiles(); err != nil {
		v.logf("volume %d: close before %s: %v", v.ID, why, err)
	}
	v.successor.Store(nv)
	v.closed = true
}

// RefreshRemoteSupers reads, from the remote object, the super block of
// every tiered volume that opened while its backend was unknown (see
// openRemote), now that the backends may be known, and opens each one
// read again as its successor, the way a compaction commit replaces a
// volume; the remote reads run with no lock held. It returns how many
// were refreshed; the others (backend still unknown, object not
// answering) are tried again at the next call. With none pending it costs
// one atomic swap.
func (s *Store) RefreshRemoteSupers() int {
	t := s.cfg.Tiers
	if !t.guessed.Swap(false) {
		return 0
	}
	n := 0
	for _, v := range s.unsortedVolumes() {
		c := v.current()
		rd := c.remote.Load()
		if !c.superGuessed || rd == nil {
			continue
		}
		sb, err := readSuper(rd, rd.key)
		if err != nil {
			if !errors.Is(err, ErrBackendUnknown) {
				c.logf("volume %d: super block of the remote copy: %v", c.ID, err)
			}
			t.guessed.Store(true)
			continue
		}
		if s.replaceWithSuper(c.ID, sb) {
			n++
		}
	}
	return n
}

// replaceWithSuper reopens volume id with super block sb
// (Volume.reopenWithSuper) and publishes the successor.
func (s *Store) replaceWithSuper(id uint32, sb superblock.SuperBlock) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	e, ok := (*s.volumes.Load())[id]
	if !ok {
		return false
	}
	nv, err := e.v.reopenWithSuper(sb)
	if err != nil {
		e.v.logf("volume %d: reopen with the remote super block: %v", id, err)
		s.cfg.Tiers.guessed.Store(true)
	}
	if nv == e.v {
		return false
	}
	s.publish(func(m map[uint32]*storeEntry) { m[id] = &storeEntry{v: nv, loc: e.loc} })
	return true
}

// localSuper reads the super block of the .dat at path.
func localSuper(path string) (superblock.SuperBlock, error) {
	f, err := openNoFollow(path, os.O_RDONLY, 0)
	if err != nil {
		return superblock.SuperBlock{}, err
	}
	defer f.Close()
	return readSuper(f, path)
}

// readSuper reads and decodes the super block at the start of r.
func readSuper(r io.ReaderAt, name string) (superblock.SuperBlock, error) {
	head := make([]byte, superblock.Size)
	if _, err := r.ReadAt(head, 0); err != nil {
		return superblock.SuperBlock{}, fmt.Errorf("read super block of %s: %w", name, err)
	}
	if n := superblock.ExtraSize(head); n > 0 && head[0] != byte(needle.Version1) {
		head = append(head, make([]byte, n)...)
		if _, err := r.ReadAt(head[superblock.Size:], superblock.Size); err != nil {
			return superblock.SuperBlock{}, fmt.Errorf("read super block extra of %s: %w", name, err)
		}
	}
	sb, err := superblock.Decode(head)
	if err != nil {
		return superblock.SuperBlock{}, fmt.Errorf("%s: %w", name, err)
	}
	return sb, nil
}

// TierOptions are the parameters of a move between the local disk and a
// remote tier.
type TierOptions struct {
	// Backend is the tier's name, "type.id"; Remote is that backend.
	Backend string
	Remote  RemoteDat
	// Keep leaves the source: the local .dat after an upload
	// (keep_local_dat_file), the remote object after a download
	// (keep_remote_dat_file).
	Keep bool
	// Progress, when set, hears the bytes moved so far and the total.
	Progress func(done, total int64)
}

// MoveDatToRemote uploads the volume's .dat to opts.Remote and serves it
// from there (crash story in doc.go, "moving a .dat to a remote tier").
// The volume turns read-only first; the remote copy is checked to be as
// long as the local .dat before the .vif names it, and the local .dat is
// removed (unless opts.Keep) only after that. It returns the remote file
// recorded in the .vif. A move that fails gives the volume back its mark.
// After the move the volume takes deletes (as upstream's
// MarkTieredDeletable) unless it has replicas: their .idx and .vif are
// copied from this one after the upload, so a tombstone written here first
// would reach one replica only; such a volume keeps its mark until the
// next open.
//
// Lock order: compactMu (held throughout, so no compaction commit swaps the
// .dat during the copy), then life, then mu.
func (v *Volume) MoveDatToRemote(ctx context.Context, opts TierOptions) (*RemoteFile, error) {
	v = v.lockCompaction()
	defer v.compactMu.Unlock()
	if v.compaction != nil {
		return nil, fmt.Errorf("volume %d: a compaction is under way", v.ID)
	}
	// drain: every writer that passed the read-only check holds life
	// shared until its batch is written
	prevRO := v.readOnly.Swap(true)
	switched := false
	defer func() {
		if !switched {
			v.readOnly.Store(prevRO)
		}
	}()
	if err := v.acquire(); err != nil {
		return nil, err
	}
	if v.remote.Load() != nil {
		v.life.RUnlock()
		return nil, fmt.Errorf("volume %d: %w", v.ID, ErrRemoteVolume)
	}
	v.life.RUnlock()
	v.life.Lock()
	if v.closed {
		v.life.Unlock()
		return nil, ErrClosed
	}
	syncErr := v.dat.Sync()
	v.life.Unlock()
	if syncErr != nil {
		return nil, fmt.Errorf("volume %d: sync .dat: %w", v.ID, syncErr)
	}

	// the upload reads its own descriptor: the volume may be parked meanwhile
	datPath := v.FileName(".dat")
	src, err := openNoFollow(datPath, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("volume %d: %w", v.ID, err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat data file %s: %v", datPath, err)
	}
	size := v.datSize.Load()
	if st.Size() < size {
		return nil, fmt.Errorf("volume %d: %s is %d bytes, the volume %d", v.ID, datPath, st.Size(), size)
	}
	typ, id := BackendNameToTypeID(opts.Backend)
	rf := &RemoteFile{BackendType: typ, BackendId: id, Key: NewUUID(), Offset: 0,
		FileSize: uint64(size), ModifiedTime: uint64(st.ModTime().Unix()), Extension: ".dat"}
	progress := func(done int64) {
		if opts.Progress != nil {
			opts.Progress(done, size)
		}
	}
	if err := opts.Remote.Upload(ctx, rf.Key, io.NewSectionReader(src, 0, size), size, progress); err != nil {
		v.dropRemoteCopy(opts.Remote, rf.Key)
		return nil, fmt.Errorf("backend %s copy file %s: %v", opts.Backend, datPath, err)
	}
	if err := reached(stepTierUploaded); err != nil {
		v.dropRemoteCopy(opts.Remote, rf.Key)
		return nil, err
	}
	got, err := opts.Remote.Stat(ctx, rf.Key)
	if err == nil && got != size {
		err = fmt.Errorf("remote copy is %d bytes, %s %d", got, datPath, size)
	}
	if err != nil {
		v.dropRemoteCopy(opts.Remote, rf.Key)
		return nil, fmt.Errorf("backend %s copy file %s: verify: %v", opts.Backend, datPath, err)
	}

	v.life.Lock()
	defer v.life.Unlock()
	if v.closed {
		v.dropRemoteCopy(opts.Remote, rf.Key)
		return nil, ErrClosed
	}
	v.mu.Lock()
	info := cloneInfo(v.infoLocked())
	info.Files = append(info.Files, rf)
	err = vif.Save(v.FileName(".vif"), info)
	if err == nil {
		err = reached(stepTierVif)
	}
	if err != nil {
		v.mu.Unlock()
		if cur, _, lerr := loadVif(v.FileName(".vif")); lerr == nil && remoteFileOf(cur) == nil {
			v.dropRemoteCopy(opts.Remote, rf.Key)
		}
		return nil, fmt.Errorf("volume %d failed to attach remote file: %v", v.ID, err)
	}
	v.info = info
	v.mu.Unlock()

	// the commit is done: switch the reads to the remote copy
	v.readers.drain()
	local := v.dat
	if !v.parked.Load() && local != nil {
		if err := local.Close(); err != nil {
			v.logf("volume %d: close local .dat: %v", v.ID, err)
		}
	}
	rd := newRemoteDat(v.cfg.Tiers, rf)
	v.remote.Store(rd)
	v.dat, v.datOS = rd, nil
	switched = true
	v.canDelete.Store(true)
	v.readOnly.Store(prevRO && v.super.ReplicaPlacement.CopyCount() > 1)
	if v.parked.Load() {
		// a parked volume reopens as what its .vif says: load it now
		if err := v.reopenParkedRemote(); err != nil {
			return rf, err
		}
	}
	if opts.Keep {
		return rf, nil
	}
	if err := os.Remove(datPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		v.logf("volume %d: remove local %s: %v", v.ID, datPath, err)
		return rf, nil
	}
	if err := atomicfile.SyncDir(v.dir); err != nil {
		v.logf("volume %d: sync %s: %v", v.ID, v.dir, err)
	}
	if err := reached(stepTierLocalRemoved); err != nil {
		v.logf("volume %d: %v", v.ID, err)
	}
	return rf, nil
}

// reopenParkedRemote opens the index of a volume parked during its upload.
// Called with life held exclusively.
func (v *Volume) reopenParkedRemote() error {
	ix, err := openNoFollow(v.FileName(".idx"), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("volume %d: reopen .idx: %w", v.ID, err)
	}
	v.idxOS = ix
	if err := v.loadColdIndex(); err != nil {
		ix.Close()
		v.idxOS = nil
		return fmt.Errorf("volume %d: load index: %w", v.ID, err)
	}
	v.parked.Store(false)
	v.countOpen()
	return nil
}

// dropRemoteCopy removes an upload the .vif does not name.
func (v *Volume) dropRemoteCopy(r RemoteDat, key string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.Delete(ctx, key); err != nil {
		v.logf("volume %d: remove unused remote copy %s: %v", v.ID, key, err)
	}
}

// MoveDatFromRemote downloads the remote .dat of the volume back to the
// data directory and serves it from there (crash story in doc.go, "moving
// a .dat back from a remote tier"): into <base>.dat.tmp, fsynced and
// checked against the recorded size, renamed to .dat, then the .vif
// rewritten without the remote file; the remote object is deleted last,
// unless opts.Keep. The volume's read-only mark is then the .vif's. A
// volume whose super block was guessed at open (the backend unknown then)
// and differs from the downloaded one is replaced by a successor opened
// from the local files instead of being switched in place.
func (v *Volume) MoveDatFromRemote(ctx context.Context, opts TierOptions) error {
	v = v.lockCompaction()
	defer v.compactMu.Unlock()
	v.mu.Lock()
	rf := remoteFileOf(v.infoLocked())
	v.mu.Unlock()
	if rf == nil {
		return fmt.Errorf("volume %d is already on local disk", v.ID)
	}
	datPath := v.FileName(".dat")
	tmp := atomicfile.TempName(datPath)
	size := int64(rf.GetFileSize())
	f, err := createFresh(tmp)
	if err != nil {
		return fmt.Errorf("volume %d: %w", v.ID, err)
	}
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	progress := func(done int64) {
		if opts.Progress != nil {
			opts.Progress(done, size)
		}
	}
	n, err := opts.Remote.Download(ctx, rf.GetKey(), f, progress)
	if err != nil {
		return fail(fmt.Errorf("backend %s copy file %s: %v", opts.Backend, datPath, err))
	}
	if n != size {
		return fail(fmt.Errorf("backend %s copy file %s: %d bytes downloaded, %d recorded", opts.Backend, datPath, n, size))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("volume %d: sync %s: %w", v.ID, tmp, err))
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("volume %d: close %s: %w", v.ID, tmp, err)
	}
	if err := reached(stepTierDownloaded); err != nil {
		os.Remove(tmp)
		return err
	}
	if mt := int64(rf.GetModifiedTime()); mt > 0 {
		t := time.Unix(mt, 0)
		if err := os.Chtimes(tmp, t, t); err != nil {
			v.logf("volume %d restore data file %s modified time: %v", v.ID, tmp, err)
		}
	}
	sb, err := localSuper(tmp)
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("volume %d: downloaded %s: %w", v.ID, tmp, err)
	}

	v.life.Lock()
	defer v.life.Unlock()
	if v.closed {
		os.Remove(tmp)
		return ErrClosed
	}
	if err := os.Rename(tmp, datPath); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("volume %d: %w", v.ID, err)
	}
	if err := atomicfile.SyncDir(v.dir); err != nil {
		return fmt.Errorf("volume %d fsync dir for %s: %v", v.ID, datPath, err)
	}
	if err := reached(stepTierDatRenamed); err != nil {
		return err
	}
	v.mu.Lock()
	info := cloneInfo(v.infoLocked())
	info.Files = info.Files[1:]
	err = vif.Save(v.FileName(".vif"), info)
	if err == nil {
		err = reached(stepTierVifLocal)
	}
	if err != nil {
		v.mu.Unlock()
		return fmt.Errorf("volume %d failed to save remote file info: %v", v.ID, err)
	}
	v.info = info
	v.mu.Unlock()

	// the commit is done: switch the reads to the local .dat
	if !sameSuper(v.super, sb) {
		// only a volume opened without its super block (remote, backend
		// unknown then) gets here. Readers take super without locks, so v
		// is not changed in place: it is opened again from the local
		// files as its successor, as a compaction commit does, and the
		// successor takes the .vif's read-only mark at its open.
		if err := v.replaceFromLocal(); err != nil {
			return err
		}
	} else if err := v.switchToLocal(datPath, info); err != nil {
		return err
	}
	if opts.Keep {
		return nil
	}
	if err := opts.Remote.Delete(ctx, rf.GetKey()); err != nil {
		return fmt.Errorf("volume %d failed to delete remote file %s: %v", v.ID, rf.GetKey(), err)
	}
	return reached(stepTierRemoteDeleted)
}

// replaceFromLocal opens v again from its files (the .dat now local) as
// its successor and closes v. Called with compactMu and life held
// exclusively, after the .vif without the remote file is saved; a failed
// open marks v damaged.
func (v *Volume) replaceFromLocal() error {
	nv, err := openVolume(v.cfg, false)
	if err != nil {
		v.damaged.Store(true)
		return fmt.Errorf("volume %d failed to open local dat file %s: %v", v.ID, v.FileName(".dat"), err)
	}
	v.retireTo(nv, "the reopen from the local .dat")
	return nil
}

// switchToLocal points v's reads and writes at the local .dat at datPath,
// which has v's super block, and applies info's read-only mark. Called
// with life held exclusively.
func (v *Volume) switchToLocal(datPath string, info *vif.Info) error {
	mode := os.O_RDWR
	if v.datReadOnly {
		mode = os.O_RDONLY
	}
	dat, err := openNoFollow(datPath, mode, 0)
	if err != nil {
		v.damaged.Store(true)
		return fmt.Errorf("volume %d failed to open local dat file %s: %v", v.ID, datPath, err)
	}
	ring, err := v.cfg.IO.Open(dat)
	if err != nil {
		dat.Close()
		v.damaged.Store(true)
		return fmt.Errorf("volume %d failed to open local dat file %s: %v", v.ID, datPath, err)
	}
	v.dat, v.datOS = ring, dat
	v.remote.Store(nil)
	v.applyMark(info)
	return nil
}

// sameSuper reports whether a and b encode to the same bytes.
func sameSuper(a, b superblock.SuperBlock) bool {
	ea, err1 := a.Encode()
	eb, err2 := b.Encode()
	return err1 == nil && err2 == nil && string(ea) == string(eb)
}

// commitRemoteBatch commits a batch for a volume whose .dat is remote:
// only deletes, each an .idx row {key, offset 0, tombstone} and no .dat
// record, as upstream writes them (the remote object never changes; a
// later download brings back the records, and the rows keep the needles
// deleted, which open-time checks accept: a row at offset 0 names no
// record). Writes fail with ErrRemoteVolume. Called with mu held.
//
// Crash story: the rows are one pwrite past the index's end (fsynced when
// an op asks); a crash before it loses unacknowledged deletes only, a
// torn row is dropped at the next open, and nothing is published before
// the rows are written.
func (v *Volume) commitRemoteBatch(batch []*op) {
	rows := v.batchRows[:0]
	defer func() {
		if cap(rows) <= 64<<10 {
			v.batchRows = rows[:0]
		}
	}()
	live := batch[:0:0]
	fsync := false
	for i, o := range batch {
		if !o.delete {
			o.err = fmt.Errorf("volume %d: %w", v.ID, ErrRemoteVolume)
			continue
		}
		if o.err = v.checkOp(o, batch[:i]); o.err != nil {
			continue
		}
		rows = v.format.AppendEntry(rows, idx.Entry{Key: o.key, Offset: 0, Size: needle.TombstoneSize})
		fsync = fsync || o.opts.Fsync
		live = append(live, o)
	}
	if len(live) == 0 {
		return
	}
	fail := func(err error) {
		_ = v.idxOS.Truncate(v.idxSize)
		for _, o := range live {
			o.err = err
		}
	}
	if _, err := v.idxOS.WriteAt(rows, v.idxSize); err != nil {
		fail(fmt.Errorf("volume %d: append index: %w", v.ID, err))
		return
	}
	if fsync {
		if err := v.idxOS.Sync(); err != nil {
			fail(fmt.Errorf("volume %d: sync index: %w", v.ID, err))
			v.failSync(err)
			return
		}
	}
	v.idxSize += int64(len(rows))
	for _, o := range live {
		o.offset = 0
		o.oldSize = v.index.Delete(o.key)
	}
	v.lastModified.Store(time.Now().Unix())
}
