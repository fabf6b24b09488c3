package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/engine/superblock"
	"github.com/weedvol/weedvol/iouring"
	"github.com/weedvol/weedvol/wlog"
)

// LocationConfig is one data directory.
type LocationConfig struct {
	Dir        string
	IdxDir     string // where .idx files of new volumes go; Dir when empty
	MaxVolumes int    // volume slots in this directory; 0: sized by AdjustAutoMax
	DiskType   string // "" is the default (hdd) type
	// MinFreeSpace is the free space below which the directory's volumes
	// are read-only (CheckDiskSpace); the zero value never is.
	MinFreeSpace MinFreeSpace

	// lowDisk is shared by the Location and every Volume opened in it
	// (VolumeConfig.lowDisk); set by OpenStore.
	lowDisk *atomic.Bool
}

// StoreConfig configures a Store.
type StoreConfig struct {
	Locations []LocationConfig
	IO        iouring.Engine // portable engine when nil
	// OffsetSize is the .idx offset width of volumes this store creates
	// (4 or 5); existing volumes keep theirs.
	OffsetSize int
	Logf       func(format string, args ...any)

	// MaxOpenVolumes is how many volumes may have their files open at once
	// (see park.go); the others are parked. 0: derived from the process's
	// descriptor limit (three descriptors a volume, 256 kept for the rest).
	MaxOpenVolumes int
	// IdleClose parks a volume whose files have not been used for this
	// long. 0: only the limit parks.
	IdleClose time.Duration

	// SlowDiskWait bounds how long OpenStore waits for a slow directory:
	// past it the store serves the directories that are open, and the
	// slow one joins when it is. 0: wait for all.
	SlowDiskWait time.Duration

	// DiskCheckInterval is how often CheckDiskSpace runs; upstream's
	// minute when 0.
	DiskCheckInterval time.Duration

	// Tiers resolves the remote tier backends of volumes whose .dat is
	// remote; OpenStore makes an empty one when nil. Its resolver may be set
	// after the store opens (Store.Tiers().Set).
	Tiers *RemoteTiers

	fds *fdBudget // set by OpenStore
}

// Location is a data directory and the volumes in it.
type Location struct {
	LocationConfig
	count   atomic.Int32 // volumes open in this location
	loading atomic.Bool  // still opening after OpenStore returned
	autoMax atomic.Int32 // the slot count of -max=0 (AdjustAutoMax)
}

// Loading reports whether the location is still opening its volumes.
func (l *Location) Loading() bool { return l.loading.Load() }

// VolumeCount is the number of volumes open in the location.
func (l *Location) VolumeCount() int { return int(l.count.Load()) }

// Store holds the volumes of all data directories.
//
// INVARIANT: the map behind volumes is never modified after it is
// published; changes copy it under mu. Readers look volumes up without
// locks.
type Store struct {
	cfg       StoreConfig
	locations []*Location
	mu        sync.Mutex // serializes changes to volumes and location counts
	volumes   atomic.Pointer[map[uint32]*storeEntry]
	locks     []*os.File     // the flocked directories, released by Close; under mu
	late      sync.WaitGroup // openLate goroutines
	parker    *parker
	closed    bool          // under mu
	ec        ecState       // erasure-coded volumes (ecstore.go)
	diskStop  chan struct{} // ends diskCheckLoop; closed by Close
}

type storeEntry struct {
	v   *Volume
	loc *Location
}

// OpenStore creates missing directories and opens every volume found in them.
// A volume that fails to open is logged and skipped, as upstream does.
//
// The directories are opened side by side, each by a few workers, so that
// start-up costs the slowest disk's time rather than the sum, and the
// opens of one disk overlap their I/O. A volume id found in two
// directories is kept from the first directory listed, as before.
func OpenStore(cfg StoreConfig) (*Store, error) {
	if cfg.IO == nil {
		cfg.IO = iouring.NewSync()
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Tiers == nil {
		cfg.Tiers = &RemoteTiers{}
	}
	limit := cfg.MaxOpenVolumes
	if limit <= 0 {
		limit = defaultOpenVolumes()
	}
	var idleTicks int64
	if cfg.IdleClose > 0 {
		idleTicks = max(int64(cfg.IdleClose/parkTick), 1)
	}
	cfg.fds = newFDBudget(int64(limit), idleTicks)
	s := &Store{cfg: cfg}
	for _, lc := range cfg.Locations {
		if lc.IdxDir == "" {
			lc.IdxDir = lc.Dir
		}
		lc.lowDisk = new(atomic.Bool)
		s.locations = append(s.locations, &Location{LocationConfig: lc})
	}
	opened := make([][]*Volume, len(s.locations))
	locks := make([]*os.File, len(s.locations))
	errs := make([]error, len(s.locations))
	done := make([]chan struct{}, len(s.locations))
	for i, loc := range s.locations {
		done[i] = make(chan struct{})
		go func() {
			defer close(done[i])
			if openLocationHook != nil {
				openLocationHook(loc.Dir)
			}
			locks[i], opened[i], errs[i] = openLocation(loc.LocationConfig, cfg)
		}()
	}
	// Wait for every directory, or, with SlowDiskWait set, for as long as
	// that: a directory still opening then joins the store when done
	// (openLate), so a slow disk does not hold back the others.
	var timeout <-chan time.Time
	if cfg.SlowDiskWait > 0 {
		t := time.NewTimer(cfg.SlowDiskWait)
		defer t.Stop()
		timeout = t.C
	}
	var late []int
	expired := false
	for i := range done {
		if !expired {
			select {
			case <-done[i]:
				continue
			case <-timeout:
				expired = true // the others get no more time either
			}
		}
		select {
		case <-done[i]:
		default:
			late = append(late, i)
		}
	}
	// what the late directories' goroutines write is read only after their
	// done, in openLate
	var failed []error
	for i := range locks {
		if slices.Contains(late, i) {
			continue // ranging over values would read locks[i] racily
		}
		if l := locks[i]; l != nil {
			s.locks = append(s.locks, l)
		}
		failed = append(failed, errs[i])
	}
	// -dir.idx is one directory for every location: lock each index
	// directory that is not also a data directory once.
	seen := map[string]bool{}
	for _, loc := range s.locations {
		seen[filepath.Clean(loc.Dir)] = true
	}
	for _, loc := range s.locations {
		d := filepath.Clean(loc.IdxDir)
		if seen[d] || errors.Join(failed...) != nil {
			continue
		}
		seen[d] = true
		l, err := lockDir(d)
		if err != nil {
			failed = append(failed, err)
			continue
		}
		s.locks = append(s.locks, l)
	}
	if err := errors.Join(failed...); err != nil {
		s.unlock()
		for i := range opened {
			if slices.Contains(late, i) {
				<-done[i] // a slow directory is released once it is open
				if locks[i] != nil {
					locks[i].Close()
				}
			}
			for _, v := range opened[i] {
				if v != nil {
					v.Close()
				}
			}
		}
		return nil, err
	}
	m := map[uint32]*storeEntry{}
	for i, loc := range s.locations {
		if slices.Contains(late, i) {
			continue
		}
		for _, v := range opened[i] {
			if v == nil {
				continue
			}
			if _, dup := m[v.ID]; dup {
				cfg.Logf("volume %d in %s is already loaded from another directory; skipping", v.ID, loc.Dir)
				v.Close()
				continue
			}
			m[v.ID] = &storeEntry{v: v, loc: loc}
			loc.count.Add(1)
		}
	}
	s.volumes.Store(&m)
	s.parker = &parker{b: cfg.fds, tick: parkTick, vols: s.unsortedVolumes, stop: make(chan struct{})}
	s.parker.start()
	s.loadEcVolumes()
	s.CheckDiskSpace()
	every := cfg.DiskCheckInterval
	if every <= 0 {
		every = defaultDiskCheck
	}
	s.diskStop = make(chan struct{})
	go s.diskCheckLoop(every, s.diskStop)
	for _, i := range late {
		loc := s.locations[i]
		loc.loading.Store(true)
		wlog.Warningf("data directory %s is still opening after %v; serving the others meanwhile", loc.Dir, cfg.SlowDiskWait)
		s.late.Add(1)
		go func() {
			defer s.late.Done()
			<-done[i]
			s.openLate(loc, locks[i], opened[i], errs[i])
		}()
	}
	return s, nil
}

// openLocationHook, when set by a test, runs before a directory is opened.
var openLocationHook func(dir string)

// openLate adds the volumes of a directory that finished opening after
// OpenStore returned. A volume id already served from another directory
// stays with that one.
func (s *Store) openLate(loc *Location, lock *os.File, vols []*Volume, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer loc.loading.Store(false)
	if err != nil || s.closed {
		if err != nil {
			wlog.Errorf("data directory %s: %v; its volumes are not served", loc.Dir, err)
		}
		for _, v := range vols {
			if v != nil {
				v.Close()
			}
		}
		if lock != nil {
			lock.Close()
		}
		return
	}
	s.locks = append(s.locks, lock)
	n := 0
	s.publish(func(m map[uint32]*storeEntry) {
		for _, v := range vols {
			if v == nil {
				continue
			}
			if _, dup := m[v.ID]; dup {
				s.cfg.Logf("volume %d in %s is already loaded from another directory; skipping", v.ID, loc.Dir)
				v.Close()
				continue
			}
			m[v.ID] = &storeEntry{v: v, loc: loc}
			loc.count.Add(1)
			n++
		}
	})
	s.cfg.Logf("data directory %s opened late: %d volumes", loc.Dir, n)
}

// parkTick is the parker's round: the resolution of IdleClose (a
// variable for tests).
var parkTick = time.Second

// openLocation creates lc's directories if missing, locks the data
// directory (lockDir), finds its volumes and opens them.
func openLocation(lc LocationConfig, cfg StoreConfig) (*os.File, []*Volume, error) {
	for _, d := range []string{lc.Dir, lc.IdxDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, nil, fmt.Errorf("data directory %s: %w", d, err)
		}
	}
	lock, err := lockDir(lc.Dir)
	if err != nil {
		return nil, nil, err
	}
	// the summary is read while the directory is listed
	summary := make(chan map[summaryKey]*volumeSummary, 1)
	go func() { summary <- readSummary(lc.Dir, cfg.Logf) }()
	found, err := scanVolumes(lc.Dir, func(name string) {
		cfg.Logf("%s in %s is not named as a volume file (see engine.ValidCollection); skipping", name, lc.Dir)
	})
	sums := <-summary
	if err != nil {
		lock.Close()
		return nil, nil, err
	}
	return lock, openVolumes(lc, found, cfg, sums), nil
}

// unlock releases the directory locks. Called with mu held, or before the
// store is shared.
func (s *Store) unlock() {
	for _, l := range s.locks {
		l.Close()
	}
	s.locks = nil
}

// openWorkers is how many volumes of one directory open at once.
const openWorkers = 32

// openVolumes opens the volumes found in one directory, in parallel; the
// result is in found's order, nil where a volume failed to open (logged).
//
// A volume that sums (the directory's volume summary) describes, and whose
// files still carry the summary's stamps, is registered cold (openCold).
func openVolumes(lc LocationConfig, found []foundVolume, cfg StoreConfig, sums map[summaryKey]*volumeSummary) []*Volume {
	out := make([]*Volume, len(found))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(openWorkers, len(found)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f := found[i]
				vc := VolumeConfig{ID: f.id, Collection: f.collection, Dir: lc.Dir, IdxDir: lc.IdxDir, IO: cfg.IO, Tiers: cfg.Tiers, Logf: cfg.Logf, listed: f.files, fds: cfg.fds, lowDisk: lc.lowDisk}
				if s := sums[summaryKey{f.collection, f.id}]; s != nil && s.matches(lc, f.files) {
					v, err := openCold(vc, s)
					if err == nil {
						out[i] = v
						continue
					}
					cfg.Logf("volume %d in %s: summary unusable (%v); opening it in full", f.id, lc.Dir, err)
				}
				v, err := OpenVolume(vc)
				if err != nil {
					wlog.Errorf("load volume %d from %s: %v", f.id, lc.Dir, err)
					continue
				}
				out[i] = v
				if b := cfg.fds; b.limit > 0 && b.open.Load() > b.limit {
					// past the descriptor budget already while opening:
					// keep what was read, close the files until used
					v.park()
				}
			}
		}()
	}
	for i := range found {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

type foundVolume struct {
	collection string
	id         uint32
	files      listed
}

// listed records which of a volume's optional files a directory listing
// showed, so that opening thousands of volumes does not try to open, stat
// or remove files that are not there (each a failing system call).
type listed uint8

const (
	listedKnown     listed = 1 << iota // the other bits are meaningful
	listedIdx                          // <base>.idx beside the .dat
	listedVif                          // <base>.vif
	listedLeftovers                    // a compaction's .cpd, .cpx or .precompact files
	listedWVX                          // <base>.wvx (mmapidx's snapshot) beside the .dat
)

// has reports whether the listing may hold f: true when it was not taken.
func (l listed) has(f listed) bool { return l&listedKnown == 0 || l&f != 0 }

// scanVolumes lists the volumes of dir (by their .dat files) and which of
// their other files are present in dir.
func scanVolumes(dir string, skipped func(name string)) ([]foundVolume, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make(map[string]bool, len(entries))
	for _, e := range entries {
		if !e.IsDir() {
			names[e.Name()] = true
		}
	}
	var out []foundVolume
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		base, isDat := strings.CutSuffix(name, ".dat")
		if !isDat {
			// a volume whose .dat moved to a remote tier has only its .vif
			// (and .idx) here
			vbase, isVif := strings.CutSuffix(name, ".vif")
			if !isVif || names[vbase+".dat"] || !vifNamesRemote(filepath.Join(dir, name)) {
				continue
			}
			base = vbase
		}
		collection, id, ok := ParseBaseName(base)
		if !ok {
			if skipped != nil {
				skipped(name)
			}
			continue
		}
		files := listedKnown
		if names[base+".idx"] {
			files |= listedIdx
		}
		if names[base+".vif"] {
			files |= listedVif
		}
		if names[base+".wvx"] {
			files |= listedWVX
		}
		if names[base+".cpd"] || names[base+".cpx"] || names[base+".dat.precompact"] || names[base+".idx.precompact"] {
			files |= listedLeftovers
		}
		out = append(out, foundVolume{collection, id, files})
	}
	return out, nil
}

// vifNamesRemote reports whether the .vif at path names a remote .dat.
func vifNamesRemote(path string) bool {
	info, ok, err := loadVif(path)
	return err == nil && ok && remoteFileOf(info) != nil
}

// Volume returns the open volume id. It takes no lock.
func (s *Store) Volume(id uint32) (*Volume, bool) {
	e, ok := (*s.volumes.Load())[id]
	if !ok {
		return nil, false
	}
	return e.v, true
}

// Tiers is the store's resolver of remote tier backends.
func (s *Store) Tiers() *RemoteTiers { return s.cfg.Tiers }

// Locations returns the store's data directories.
func (s *Store) Locations() []*Location { return s.locations }

// LocationOf returns the data directory volume id lives in.
func (s *Store) LocationOf(id uint32) (*Location, bool) {
	e, ok := (*s.volumes.Load())[id]
	if !ok {
		return nil, false
	}
	return e.loc, true
}

// unsortedVolumes returns the open volumes in no order (for the parker's
// rounds, which should not sort tens of thousands of volumes a second).
func (s *Store) unsortedVolumes() []*Volume {
	m := *s.volumes.Load()
	out := make([]*Volume, 0, len(m))
	for _, e := range m {
		out = append(out, e.v)
	}
	return out
}

// Volumes returns the open volumes ordered by id.
func (s *Store) Volumes() []*Volume {
	out := s.unsortedVolumes()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// publish applies change to a copy of the volume map. Called with mu held.
func (s *Store) publish(change func(m map[uint32]*storeEntry)) {
	old := *s.volumes.Load()
	m := make(map[uint32]*storeEntry, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	change(m)
	s.volumes.Store(&m)
}

// AllocateOptions describe a new volume.
type AllocateOptions struct {
	Collection       string
	ReplicaPlacement superblock.ReplicaPlacement
	TTL              needle.TTL
	Preallocate      int64
	DiskType         string
	Version          needle.Version
}

// ErrNoFreeSlot is returned when no directory of the disk type has room.
var ErrNoFreeSlot = errors.New("no more free space left")

// AllocateVolume creates volume id in the directory of the requested disk
// type with the most free slots. A collection ValidCollection refuses is
// refused before anything is created (upstream creates the files wherever
// the name leads).
func (s *Store) AllocateVolume(id uint32, o AllocateOptions) error {
	if err := ValidCollection(o.Collection); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := (*s.volumes.Load())[id]; ok {
		return fmt.Errorf("volume %d: %w", id, ErrVolumeExists)
	}
	// A directory still opening may hold volume id already: creating it
	// elsewhere would hide that one. The master grows elsewhere meanwhile.
	for _, l := range s.locations {
		if l.Loading() {
			return fmt.Errorf("volume %d: data directory %s is still opening: %w", id, l.Dir, ErrDirOpening)
		}
	}
	best := s.pickLocation(o.DiskType)
	if best == nil {
		return ErrNoFreeSlot
	}
	diskID := 0
	for i, l := range s.locations {
		if l == best {
			diskID = i
		}
	}
	// upstream's two lines (storage/store.go, at V(0))
	s.cfg.Logf("In dir %s (disk ID %d) adds volume:%v collection:%s replicaPlacement:%v ttl:%v", best.Dir, diskID, id, o.Collection, o.ReplicaPlacement, o.TTL)
	v, err := OpenVolume(VolumeConfig{
		ID: id, Collection: o.Collection, Dir: best.Dir, IdxDir: best.IdxDir,
		Create: true, ReplicaPlacement: o.ReplicaPlacement, TTL: o.TTL, Version: o.Version,
		OffsetSize: s.cfg.OffsetSize, Preallocate: o.Preallocate, IO: s.cfg.IO, Tiers: s.cfg.Tiers, Logf: s.cfg.Logf, fds: s.cfg.fds,
		lowDisk: best.lowDisk,
	})
	if err != nil {
		return err
	}
	best.count.Add(1)
	s.publish(func(m map[uint32]*storeEntry) { m[id] = &storeEntry{v: v, loc: best} })
	s.cfg.Logf("add volume %d on disk ID %d", id, diskID)
	return nil
}

// PickLocation returns the directory of diskType with the most free volume
// slots, where a new volume of that type would go, or ErrNoFreeSlot.
func (s *Store) PickLocation(diskType string) (*Location, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.pickLocation(diskType); l != nil {
		return l, nil
	}
	return nil, ErrNoFreeSlot
}

func (s *Store) pickLocation(diskType string) *Location {
	var best *Location
	for _, l := range s.locations {
		if !sameDiskType(l.DiskType, diskType) || l.Loading() || l.IsLowDisk() {
			continue
		}
		free := l.Max() - l.VolumeCount()
		if free > 0 && (best == nil || free > best.Max()-best.VolumeCount()) {
			best = l
		}
	}
	return best
}

func sameDiskType(a, b string) bool {
	norm := func(t string) string {
		t = strings.ToLower(t)
		if t == "hdd" {
			return ""
		}
		return t
	}
	return norm(a) == norm(b)
}

// UnmountVolume closes volume id and forgets it, keeping its files.
func (s *Store) UnmountVolume(id uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := (*s.volumes.Load())[id]
	if !ok {
		return fmt.Errorf("volume %d: %w", id, ErrVolumeNotFound)
	}
	s.publish(func(m map[uint32]*storeEntry) { delete(m, id) })
	e.loc.count.Add(-1)
	return e.v.Close()
}

// MountVolume opens volume id from whichever directory holds its .dat.
func (s *Store) MountVolume(id uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := (*s.volumes.Load())[id]; ok {
		return nil
	}
	for _, l := range s.locations {
		if l.Loading() {
			continue // its volumes join when it is open
		}
		found, err := scanVolumes(l.Dir, nil)
		if err != nil {
			return err
		}
		for _, f := range found {
			if f.id != id {
				continue
			}
			v, err := OpenVolume(VolumeConfig{ID: id, Collection: f.collection, Dir: l.Dir, IdxDir: l.IdxDir, IO: s.cfg.IO, Tiers: s.cfg.Tiers, Logf: s.cfg.Logf, listed: f.files, fds: s.cfg.fds, lowDisk: l.lowDisk})
			if err != nil {
				return err
			}
			l.count.Add(1)
			s.publish(func(m map[uint32]*storeEntry) { m[id] = &storeEntry{v: v, loc: l} })
			return nil
		}
	}
	return fmt.Errorf("volume %d: %w", id, ErrVolumeNotFound)
}

// DeleteVolume closes volume id and removes its files.
func (s *Store) DeleteVolume(id uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := (*s.volumes.Load())[id]
	if !ok {
		return fmt.Errorf("volume %d: %w", id, ErrVolumeNotFound)
	}
	s.publish(func(m map[uint32]*storeEntry) { delete(m, id) })
	e.loc.count.Add(-1)
	return e.v.Destroy()
}

// CommitCompactVolume commits volume id's compacted copy (see
// Volume.CommitCompact) and publishes the Volume that results.
func (s *Store) CommitCompactVolume(id uint32) (*Volume, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := (*s.volumes.Load())[id]
	if !ok {
		return nil, fmt.Errorf("volume %d: %w", id, ErrVolumeNotFound)
	}
	nv, err := e.v.CommitCompact()
	if nv != e.v {
		s.publish(func(m map[uint32]*storeEntry) { m[id] = &storeEntry{v: nv, loc: e.loc} })
	}
	return nv, err
}

// Close closes every volume.
func (s *Store) Close() error {
	s.late.Wait() // a directory still opening is added, then closed
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil // a second Close must not replace the summary with an empty one
	}
	s.closed = true
	if s.diskStop != nil {
		close(s.diskStop)
	}
	if s.parker != nil {
		s.parker.close()
		s.parker = nil
	}
	var errs []error
	sums := map[*Location][]volumeSummary{}
	for _, e := range *s.volumes.Load() {
		sum, ok := e.v.summarize()
		err := e.v.Close()
		errs = append(errs, err)
		if ok && err == nil && stampFiles(&sum, e.loc.Dir, e.loc.IdxDir) {
			sums[e.loc] = append(sums[e.loc], sum)
		}
	}
	for _, loc := range s.locations {
		if err := writeSummary(loc.Dir, sums[loc]); err != nil {
			wlog.Warningf("write volume summary in %s: %v", loc.Dir, err)
		}
	}
	errs = append(errs, s.closeEc())
	empty := map[uint32]*storeEntry{}
	s.volumes.Store(&empty)
	s.unlock()
	return errors.Join(errs...)
}
