package engine

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/weedvol/weedvol/atomicfile"
	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/superblock"
	"github.com/weedvol/weedvol/engine/vif"
	"github.com/weedvol/weedvol/mmapidx"
)

// The volume summary: what a clean stop knew of each volume, so that the
// next start opens none of its files until they are used.
//
// Store.Close writes, into each data directory, SummaryFile: for every
// volume it closed cleanly, its super block, .vif, sizes, counters and the
// size, modification time and inode of its .dat, .idx and .vif. OpenStore
// reads the file and removes it before it opens anything, so a summary
// serves one start only. A volume whose three files still carry the
// recorded stamps (and whose directory shows no compaction leftovers) is
// registered cold: parked, with no index loaded and no descriptor open;
// its counters come from the summary until the first operation that needs
// its files loads it (unpark). Any other volume is opened as usual.
//
// Crash story: the summary is written (without fsync: it is a cache) after
// every volume is closed, so it describes synced files. A crash while it
// is written leaves a partial temporary file (ignored) or no summary. A
// crash after a start consumed it leaves no summary. A summary that is
// stale for any reason (files changed by anything, restored from backup)
// fails the stamp check of the volumes concerned, which then open in full.
// Upstream ignores the file.

// SummaryFile is the name of the volume summary in a data directory.
const SummaryFile = "weedvol.summary"

// summaryVersion changes whenever volumeSummary does.
const summaryVersion = 3

type fileStamp struct {
	Size, MtimeNs int64
	Ino           uint64
}

type volumeSummary struct {
	Collection     string
	ID             uint32
	Dat, Idx, Vif  fileStamp
	IdxBeside      bool // the .idx is in the data directory
	Super          []byte
	VifBytes       []byte
	OffsetSize     int
	DatSize        int64
	IdxSize        int64
	LastAppendAtNs uint64
	LastModified   int64
	ReadOnly       bool // the .vif's read-only mark
	CanDelete      bool // with ReadOnly: the mark takes deletes
	Metrics        mmapidx.Metrics
}

type summaryFile struct {
	Version int
	Volumes []volumeSummary
}

type summaryKey struct {
	collection string
	id         uint32
}

// readSummary reads and removes dir's summary; nil when there is none or
// it does not decode.
func readSummary(dir string, logf func(string, ...any)) map[summaryKey]*volumeSummary {
	path := filepath.Join(dir, SummaryFile)
	b, err := ReadRegularFile(path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			logf("volume summary %s: %v; opening every volume in full", path, err)
			os.Remove(path)
		}
		return nil
	}
	if err := os.Remove(path); err != nil {
		// a summary that cannot be removed could outlive later writes;
		// the stamps would catch that, but do not rely on them alone
		logf("volume summary %s: %v; opening every volume in full", path, err)
		return nil
	}
	var f summaryFile
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&f); err != nil || f.Version != summaryVersion {
		logf("volume summary %s does not decode (%v); opening every volume in full", path, err)
		return nil
	}
	m := make(map[summaryKey]*volumeSummary, len(f.Volumes))
	for i := range f.Volumes {
		s := &f.Volumes[i]
		m[summaryKey{s.Collection, s.ID}] = s
	}
	return m
}

// writeSummary writes dir's summary of sums (none: removes it).
func writeSummary(dir string, sums []volumeSummary) error {
	path := filepath.Join(dir, SummaryFile)
	if len(sums) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(summaryFile{Version: summaryVersion, Volumes: sums}); err != nil {
		return err
	}
	return atomicfile.WriteUnsynced(path, 0o644, func(f *os.File) error {
		_, err := f.Write(buf.Bytes())
		return err
	})
}

// summarize is what v's summary records before v is closed; ok is false
// for a volume that must open in full next time (damaged, its .dat
// read-only on disk, or never given a .vif).
func (v *Volume) summarize() (volumeSummary, bool) {
	v, err := v.enterFor(false)
	if err != nil {
		return volumeSummary{}, false
	}
	defer v.life.RUnlock()
	if v.damaged.Load() || v.datReadOnly || v.remote.Load() != nil {
		return volumeSummary{}, false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	vb, readOnly, canDelete := v.infoBytes, false, false
	if v.info != nil {
		var err error
		if vb, err = vif.Encode(v.info); err != nil {
			return volumeSummary{}, false
		}
		readOnly, canDelete = v.info.GetReadOnly(), v.info.GetReadOnlyCanDelete()
	} else if vb == nil {
		return volumeSummary{}, false
	} else {
		readOnly, canDelete = v.coldReadOnly, v.coldCanDelete
	}
	super, err := v.super.Encode()
	if err != nil {
		return volumeSummary{}, false
	}
	s := volumeSummary{
		Collection: v.Collection, ID: v.ID, IdxBeside: v.idxDir == v.dir,
		Super: super, VifBytes: vb, OffsetSize: v.format.OffsetSize,
		DatSize: v.datSize.Load(), IdxSize: v.idxSize, LastAppendAtNs: v.lastAppendAtNs,
		LastModified: v.lastModified.Load(), ReadOnly: readOnly, CanDelete: canDelete,
	}
	if v.index != nil {
		s.Metrics = v.index.Metrics()
	} else if v.coldMetrics != nil {
		s.Metrics = *v.coldMetrics
	} else {
		return volumeSummary{}, false
	}
	return s, true
}

// stampFiles fills in the stamps of s's files after its volume is closed;
// false if one cannot be taken.
func stampFiles(s *volumeSummary, dir, idxDir string) bool {
	base := BaseName(s.Collection, s.ID)
	if s.IdxBeside {
		idxDir = dir
	}
	var ok1, ok2, ok3 bool
	s.Dat, ok1 = stamp(filepath.Join(dir, base+".dat"))
	s.Idx, ok2 = stamp(filepath.Join(idxDir, base+".idx"))
	s.Vif, ok3 = stamp(filepath.Join(dir, base+".vif"))
	return ok1 && ok2 && ok3 && s.Dat.Size == s.DatSize && s.Idx.Size == s.IdxSize
}

// matches reports whether the files of the volume found in lc still carry
// s's stamps, and the listing shows nothing that needs a full open.
func (s *volumeSummary) matches(lc LocationConfig, files listed) bool {
	if files&listedKnown == 0 || files&listedLeftovers != 0 || files&listedVif == 0 {
		return false
	}
	if lc.IdxDir != lc.Dir && (files&listedIdx != 0) != s.IdxBeside {
		return false
	}
	probe := *s
	return stampFiles(&probe, lc.Dir, lc.IdxDir) && probe.Dat == s.Dat && probe.Idx == s.Idx && probe.Vif == s.Vif
}

// openCold registers the volume s describes without opening its files:
// parked, its index not loaded (unpark loads it).
func openCold(cfg VolumeConfig, s *volumeSummary) (*Volume, error) {
	if cfg.IO == nil {
		return nil, errors.New("no I/O engine")
	}
	v := &Volume{ID: cfg.ID, Collection: cfg.Collection, dir: cfg.Dir, idxDir: cfg.IdxDir, logf: cfg.Logf, cfg: cfg}
	v.cfg.Create = false
	if v.logf == nil {
		v.logf = func(string, ...any) {}
	}
	if s.IdxBeside {
		v.idxDir = cfg.Dir
	}
	// the .vif is decoded when first asked for (infoLocked)
	v.infoBytes, v.coldReadOnly, v.coldCanDelete = s.VifBytes, s.ReadOnly, s.CanDelete
	var err error
	if v.format, err = idx.FormatFor(s.OffsetSize); err != nil {
		return nil, err
	}
	if v.super, err = superblock.Decode(s.Super); err != nil {
		return nil, err
	}
	v.datSize.Store(s.DatSize)
	v.idxSize = s.IdxSize
	v.lastAppendAtNs = s.LastAppendAtNs
	v.lastModified.Store(s.LastModified)
	v.setMark(mark(s.ReadOnly, s.CanDelete))
	m := s.Metrics
	v.coldMetrics = &m
	v.commit.v = v
	v.parked.Store(true)
	return v, nil
}

// loadColdIndex loads the index of a volume registered by openCold, once
// unpark has opened its files. Called with life held exclusively.
func (v *Volume) loadColdIndex() error {
	if v.index != nil {
		return nil
	}
	st, err := v.idxOS.Stat()
	if err != nil {
		return err
	}
	if st.Size() != v.idxSize {
		v.damaged.Store(true)
		return fmt.Errorf("%s is %d bytes, %d when the volume was closed", v.idxOS.Name(), st.Size(), v.idxSize)
	}
	ix, err := mmapidx.OpenFile(v.idxOS, v.FileName(".idx"), v.format.OffsetSize, mmapidx.OpenOptions{})
	if err != nil {
		return err
	}
	if got := ix.Metrics(); v.coldMetrics != nil && got != *v.coldMetrics {
		v.logf("volume %d: counters %+v in the summary, %+v in the index; using the index's", v.ID, *v.coldMetrics, got)
	}
	v.index, v.coldMetrics = ix, nil
	return nil
}
