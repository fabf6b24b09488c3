package engine

import (
	"errors"
	"fmt"
	"os"
)

// CopyStagingDir is the subdirectory of a location's data and index
// directories where a volume copy stages the incoming files and parks the
// files of the replica it replaces. The volume scan does not descend into
// it.
const CopyStagingDir = "copying"

// parkedSuffix ends the base of a parked replica's files.
const parkedSuffix = ".replaced"

// CopyStage holds the files of one volume copy into a location, in three
// sets of the volume's files (.dat, .vif and .note in the data directory,
// .idx and .wvx in the index directory):
//
//	final   <base>.*                    the names the volume is mounted from
//	staged  copying/<base>.*            the copy being fetched
//	parked  copying/<base>.replaced.*   the replaced replica, until the copy is mounted
//
// Every operation goes through an os.Root of the location's directories,
// so no name, planted symbolic link or swapped directory leads outside
// them. The caller serializes copies of one volume and keeps the volume
// unmounted while files move. A CopyStage is not safe for concurrent use.
type CopyStage struct {
	id          uint32
	base        string
	data, index *os.Root // the same Root when the directories are one
}

// stageFile is one file of a set: its root and its name beneath it.
type stageFile struct {
	root *os.Root
	name string
}

// BeginCopy starts a copy of volume id of collection into l: it checks the
// collection (ValidCollection), makes copying/ in the data and index
// directories (refusing one that is not a directory, a symbolic link
// included) and removes the staged files a crashed copy left.
func (l *Location) BeginCopy(collection string, id uint32) (*CopyStage, error) {
	if err := ValidCollection(collection); err != nil {
		return nil, err
	}
	c := &CopyStage{id: id, base: BaseName(collection, id)}
	var err error
	if c.data, err = os.OpenRoot(l.Dir); err != nil {
		return nil, err
	}
	c.index = c.data
	if idxDir := l.IdxDir; idxDir != "" && idxDir != l.Dir {
		if c.index, err = os.OpenRoot(idxDir); err != nil {
			c.data.Close()
			return nil, err
		}
	}
	for _, r := range c.roots() {
		if err := mkStagingDir(r); err != nil {
			c.closeRoots()
			return nil, err
		}
	}
	c.removeSet(c.staged())
	return c, nil
}

func mkStagingDir(r *os.Root) error {
	if err := r.Mkdir(CopyStagingDir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	st, err := r.Lstat(CopyStagingDir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s in %s is not a directory (%v)", CopyStagingDir, r.Name(), st.Mode().Type())
	}
	return nil
}

func (c *CopyStage) roots() []*os.Root {
	if c.index == c.data {
		return []*os.Root{c.data}
	}
	return []*os.Root{c.data, c.index}
}

func (c *CopyStage) closeRoots() {
	for _, r := range c.roots() {
		r.Close()
	}
}

// Close removes the staged files (what Install did not move) and releases
// the directories.
func (c *CopyStage) Close() error {
	c.removeSet(c.staged())
	c.closeRoots()
	return nil
}

// fileSet is one set's moved files (.vif first, so a scan finds the
// volume's name as soon as anything lands; then .dat, .idx) and its derived
// ones (the mapped index snapshot, the note), dropped, never moved.
type fileSet struct {
	moved   [3]stageFile
	derived [2]stageFile
}

func (c *CopyStage) set(dir, base string) fileSet {
	join := func(r *os.Root, ext string) stageFile {
		if dir == "" {
			return stageFile{r, base + ext}
		}
		return stageFile{r, dir + "/" + base + ext}
	}
	return fileSet{
		moved:   [3]stageFile{join(c.data, ".vif"), join(c.data, ".dat"), join(c.index, ".idx")},
		derived: [2]stageFile{join(c.index, ".wvx"), join(c.data, ".note")},
	}
}

func (c *CopyStage) final() fileSet  { return c.set("", c.base) }
func (c *CopyStage) staged() fileSet { return c.set(CopyStagingDir, c.base) }
func (c *CopyStage) parked() fileSet { return c.set(CopyStagingDir, c.base+parkedSuffix) }

func (c *CopyStage) removeSet(s fileSet) {
	for _, f := range append(s.moved[:], s.derived[:]...) {
		f.root.Remove(f.name)
	}
}

// moveSet renames from's files that exist onto to's names and drops from's
// derived files.
func moveSet(from, to fileSet) error {
	for _, f := range from.derived {
		f.root.Remove(f.name)
	}
	for i, f := range from.moved {
		if err := f.root.Rename(f.name, to.moved[i].name); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// stagedFile is the staged file with extension ext, one of the moved
// files.
func (c *CopyStage) stagedFile(ext string) (stageFile, error) {
	s := c.staged()
	for i, e := range [3]string{".vif", ".dat", ".idx"} {
		if e == ext {
			return s.moved[i], nil
		}
	}
	return stageFile{}, fmt.Errorf("volume %d: no staged %q file", c.id, ext)
}

// Create creates the staged file ext (".dat", ".idx" or ".vif") anew for
// writing; whatever was at its name is removed first.
func (c *CopyStage) Create(ext string) (*os.File, error) {
	f, err := c.stagedFile(ext)
	if err != nil {
		return nil, err
	}
	if err := f.root.Remove(f.name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return f.root.OpenFile(f.name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
}

// StagedSize is the size of the staged file ext.
func (c *CopyStage) StagedSize(ext string) (int64, error) {
	f, err := c.stagedFile(ext)
	if err != nil {
		return 0, err
	}
	st, err := f.root.Lstat(f.name)
	if err != nil {
		return 0, err
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("staged %s of volume %d is not a regular file", ext, c.id)
	}
	return st.Size(), nil
}

// Park moves the final files (the replaced replica's, unmounted) to the
// parked names, replacing older parked files. On failure it moves back
// what it moved and returns the error.
func (c *CopyStage) Park() error {
	parked := c.parked()
	c.removeSet(parked)
	if err := moveSet(c.final(), parked); err != nil {
		_ = moveSet(parked, c.final())
		return err
	}
	return nil
}

// Install moves the staged files to the final names.
func (c *CopyStage) Install() error { return moveSet(c.staged(), c.final()) }

// Restore removes the final files (a failed copy, unmounted) and moves the
// parked ones back.
func (c *CopyStage) Restore() error {
	c.removeSet(c.final())
	return moveSet(c.parked(), c.final())
}

// DropParked removes the parked files, once the copy is mounted.
func (c *CopyStage) DropParked() { c.removeSet(c.parked()) }
