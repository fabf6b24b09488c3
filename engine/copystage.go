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

// Suffixes of a base in copying/.
const (
	parkedSuffix = ".replaced" // the parked replica's files
	relinkSuffix = ".relink"   // a parked file's link on its way back into place
	swapMarker   = ".swap"     // the swap marker (copyswap.go)
)

// CopyStage holds the files of one volume copy into a location, in three
// sets of the volume's files (.dat, .vif and .note in the data directory,
// .idx and .wvx in the index directory):
//
//	final   <base>.*                    the names the volume is mounted from
//	staged  copying/<base>.*            the copy being fetched
//	parked  copying/<base>.replaced.*   links to the replaced replica's files
//
// and the swap marker copying/<base>.swap in the data directory, whose
// presence says the final set is being swapped and the parked set is the
// volume (copyswap.go, crash story in doc.go).
//
// Every operation goes through an os.Root of the location's directories,
// so no name, planted symbolic link or swapped directory leads outside
// them. The caller serializes copies of one volume and keeps the volume
// unmounted while files move; a second BeginCopy of the same volume into
// the same directory fails until Close. A CopyStage is not safe for
// concurrent use.
type CopyStage struct {
	id          uint32
	base        string
	dir         string   // the data directory, the key of the copy in flight
	data, index *os.Root // the same Root when the directories are one
	// hasParked: Park succeeded and the parked set is the replaced
	// replica's, until DropParked or Restore is done with it.
	hasParked bool
	live      bool // registered as in flight (copyInFlight)
}

// stageFile is one file of a set: its root and its name beneath it.
type stageFile struct {
	root *os.Root
	name string
}

// BeginCopy starts a copy of volume id of collection into l: it checks the
// collection (ValidCollection), makes copying/ in the data and index
// directories (refusing one that is not a directory, a symbolic link
// included), settles a swap a crash interrupted (the replaced replica is
// put back) and removes the staged and parked files a crashed copy left.
func (l *Location) BeginCopy(collection string, id uint32) (*CopyStage, error) {
	if err := ValidCollection(collection); err != nil {
		return nil, err
	}
	c, err := openStage(l.Dir, l.IdxDir, BaseName(collection, id), id)
	if err != nil {
		return nil, err
	}
	if !beginInFlight(c.dir, c.base) {
		c.closeRoots()
		return nil, fmt.Errorf("volume %d: a copy into %s is already under way", id, l.Dir)
	}
	c.live = true
	for _, r := range c.roots() {
		if err := mkStagingDir(r); err != nil {
			c.end()
			return nil, err
		}
	}
	if err := c.settle(func(string, ...any) {}); err != nil {
		c.end()
		return nil, fmt.Errorf("volume %d: settle an interrupted copy: %w", id, err)
	}
	return c, nil
}

// openStage opens the roots of a stage of base in dir and idxDir (dir when
// empty).
func openStage(dir, idxDir, base string, id uint32) (*CopyStage, error) {
	c := &CopyStage{id: id, base: base, dir: dir}
	var err error
	if c.data, err = os.OpenRoot(dir); err != nil {
		return nil, err
	}
	c.index = c.data
	if idxDir != "" && idxDir != dir {
		if c.index, err = os.OpenRoot(idxDir); err != nil {
			c.data.Close()
			return nil, err
		}
	}
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

// end releases the stage: the copy is no longer in flight and the
// directories are closed.
func (c *CopyStage) end() {
	if c.live {
		endInFlight(c.dir, c.base)
		c.live = false
	}
	c.closeRoots()
}

// Close ends the copy: unless a swap is still marked (a rollback that
// failed; the next Open or BeginCopy settles it), the staged files (what
// Install did not move) and the parked ones are removed. Then the
// directories are released.
func (c *CopyStage) Close() error {
	if !c.marked() {
		c.removeSet(c.staged())
		c.removeSet(c.parked())
		c.syncStaging()
	}
	c.end()
	return nil
}

// fileSet is one set's moved files (.vif, .dat, .idx) and its derived
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

// relinks are the temporary names parked files are linked to on their way
// back (copyswap.go).
func (c *CopyStage) relinks() fileSet { return c.set(CopyStagingDir, c.base+relinkSuffix) }

func (c *CopyStage) removeSet(s fileSet) {
	for _, f := range append(s.moved[:], s.derived[:]...) {
		f.root.Remove(f.name)
	}
}

// present reports whether f names a regular file.
func present(f stageFile) bool {
	st, err := f.root.Lstat(f.name)
	return err == nil && st.Mode().IsRegular()
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
