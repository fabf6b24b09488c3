package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/weedvol/weedvol/atomicfile"
)

// The swap of a volume copy (crash story in doc.go).
//
// Park links the replaced replica's files to the parked names; the final
// names keep them. Install writes the swap marker, renames the staged
// files over the final names and removes the marker: that removal is the
// commit. While the marker exists the parked set is the volume, and
// whoever finds the marker (Install's own rollback, Restore, or Open and
// BeginCopy after a crash: settle) makes the final set the parked set
// again (restoreFinal) before removing it. Without the marker the final
// set is the volume and parked or staged files are garbage.
//
// A rename over a final name replaces it in one step, so a replica's .dat
// never leaves its final name while the files move: the store's scan
// always finds the volume, and its Open settles the swap.
//
// INVARIANT: the marker is written only after Park's links are synced,
// and the parked set is not touched again until the marker is gone; so
// while the marker exists the parked set is exactly the replaced
// replica's files (none at all when there was no replica).

// Park links the final files (the replaced replica's, unmounted) to the
// parked names, replacing older parked files, and syncs them. The final
// files stay where they are.
func (c *CopyStage) Park() error {
	parked := c.parked()
	c.removeSet(parked)
	err := func() error {
		for i, f := range c.final().moved {
			if err := f.root.Link(f.name, parked.moved[i].name); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		if err := c.syncStaging(); err != nil {
			return err
		}
		return reached(stepCopyParked)
	}()
	if err != nil {
		c.removeSet(parked)
		return err
	}
	c.hasParked = true
	return nil
}

// Install moves the staged files to the final names (a final file the
// copy has no counterpart of, and the derived ones, are removed). On
// failure the replaced replica's files are put back (restoreFinal) and
// the error is returned; if even that fails, the marker stays for Restore
// or the next Open to finish.
func (c *CopyStage) Install() error {
	if !c.hasParked {
		return fmt.Errorf("volume %d: copy installed before the replaced files were parked", c.id)
	}
	err := c.mark()
	if err == nil {
		err = reached(stepCopyMarker)
	}
	if err != nil {
		c.unmark()
		return err
	}
	err = c.installStaged()
	if err == nil {
		if err = c.unmark(); err == nil {
			err = reached(stepCopyCommitted)
		}
	}
	if err != nil {
		if _, rerr := c.restoreFinal(false); rerr != nil {
			return errors.Join(err, fmt.Errorf("put the replaced files back: %w", rerr))
		}
		return err
	}
	return nil
}

// installStaged is Install's work under the marker.
func (c *CopyStage) installStaged() error {
	final, staged := c.final(), c.staged()
	for _, f := range final.derived {
		if err := f.root.Remove(f.name); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	for i, f := range final.moved {
		if present(staged.moved[i]) {
			continue
		}
		if err := f.root.Remove(f.name); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := reached(stepCopyCleared); err != nil {
		return err
	}
	for i, f := range staged.moved {
		if err := f.root.Rename(f.name, final.moved[i].name); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := c.syncFinal(); err != nil {
		return err
	}
	return reached(stepCopyInstalled)
}

// DropParked removes the parked files, once the copy is mounted and
// checked: from then on Restore is impossible. An error leaves garbage
// only (the next Open or BeginCopy removes it).
func (c *CopyStage) DropParked() error {
	c.removeSet(c.parked())
	c.hasParked = false
	if err := c.syncStaging(); err != nil {
		return err
	}
	return reached(stepCopyDropped)
}

// Restore puts the replaced replica's files back in place of the copy
// (unmounted) and drops the parked links. Once its marker is written the
// restore is decided: a later failure is retried once and, failing again,
// left marked for the next Open to finish (the volume does not mount
// meanwhile).
func (c *CopyStage) Restore() error {
	if !c.hasParked {
		return fmt.Errorf("volume %d: no parked files to restore", c.id)
	}
	decided, err := c.restoreFinal(true)
	switch {
	case err == nil:
		return c.dropParkedAfterRestore()
	case !decided:
		return err // the final files are still the copy's
	case c.marked():
		if _, rerr := c.restoreFinal(false); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
	// restored, on a second try or with only the marker's sync failing
	c.dropParkedAfterRestore()
	return fmt.Errorf("volume %d: restore: %w", c.id, err)
}

// dropParkedAfterRestore is Restore's last step.
func (c *CopyStage) dropParkedAfterRestore() error {
	c.removeSet(c.parked())
	c.hasParked = false
	if err := c.syncStaging(); err != nil {
		return err
	}
	return reached(stepRestoreDropped)
}

// restoreFinal makes the final set the parked set under the marker:
// writes the marker (unless there), links each parked file back over its
// final name (through a temporary link, so the final name is replaced in
// one step), removes final files without a parked counterpart and the
// derived ones, syncs, and removes the marker. It may be run again after
// any failure or crash. report says whether to report its steps. decided
// says the marker was in place, so the restore is to be finished.
func (c *CopyStage) restoreFinal(report bool) (decided bool, err error) {
	step := func(s string) error {
		if !report {
			return nil
		}
		return reached(s)
	}
	if !c.marked() {
		err := c.mark()
		if err == nil {
			err = step(stepRestoreMarker)
		}
		if err != nil {
			c.unmark()
			return false, err
		}
	}
	final, parked, tmp := c.final(), c.parked(), c.relinks()
	for _, f := range final.derived {
		if err := f.root.Remove(f.name); err != nil && !errors.Is(err, os.ErrNotExist) {
			return true, err
		}
	}
	for i, p := range parked.moved {
		f, t := final.moved[i], tmp.moved[i]
		if !present(p) {
			if err := f.root.Remove(f.name); err != nil && !errors.Is(err, os.ErrNotExist) {
				return true, err
			}
			continue
		}
		t.root.Remove(t.name)
		if err := p.root.Link(p.name, t.name); err != nil {
			return true, err
		}
		if err := t.root.Rename(t.name, f.name); err != nil {
			return true, err
		}
		// a rename onto another link of the same file does nothing
		t.root.Remove(t.name)
	}
	if err := c.syncFinal(); err != nil {
		return true, err
	}
	if err := step(stepRestoreLinked); err != nil {
		return true, err
	}
	if err := c.unmark(); err != nil {
		return true, err
	}
	return true, step(stepRestoreCommitted)
}

// settle finishes what a crash left of a copy: a marked swap is rolled
// back (restoreFinal), then staged, parked and relinked files, garbage
// without a marker, are removed.
func (c *CopyStage) settle(logf func(string, ...any)) error {
	if c.marked() {
		if _, err := c.restoreFinal(false); err != nil {
			return err
		}
		logf("volume %d: put back the files a copy a crash interrupted had replaced", c.id)
	}
	c.removeSet(c.staged())
	c.removeSet(c.parked())
	c.removeSet(c.relinks())
	return c.syncStaging()
}

// marker is the swap marker's name (in the data root).
func (c *CopyStage) marker() string { return CopyStagingDir + "/" + c.base + swapMarker }

// marked reports whether the swap marker may be there (only a known
// absence is false).
func (c *CopyStage) marked() bool {
	_, err := c.data.Lstat(c.marker())
	return !errors.Is(err, os.ErrNotExist)
}

// mark writes the (empty) swap marker and syncs its directory.
func (c *CopyStage) mark() error {
	c.data.Remove(c.marker())
	f, err := c.data.OpenFile(c.marker(), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncRootDir(c.data, CopyStagingDir)
}

// unmark removes the swap marker and syncs its directory.
func (c *CopyStage) unmark() error {
	if err := c.data.Remove(c.marker()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return syncRootDir(c.data, CopyStagingDir)
}

// syncStaging fsyncs the copying/ directories.
func (c *CopyStage) syncStaging() error {
	var errs []error
	for _, r := range c.roots() {
		errs = append(errs, syncRootDir(r, CopyStagingDir))
	}
	return errors.Join(errs...)
}

// syncFinal fsyncs the data and index directories.
func (c *CopyStage) syncFinal() error {
	var errs []error
	for _, r := range c.roots() {
		errs = append(errs, syncRootDir(r, "."))
	}
	return errors.Join(errs...)
}

// syncRootDir fsyncs directory name of r; a missing one has nothing to
// sync.
func syncRootDir(r *os.Root, name string) error {
	d, err := r.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return atomicfile.SyncOpenDir(d)
}

// copies tracks, per data directory, the copies in flight in this process
// and what its copying/ held when the process last listed it, so that
// opening thousands of volumes lists copying/ once instead of looking for
// each volume's leftovers.
var copies = struct {
	mu       sync.Mutex
	inFlight map[string]bool            // copyKey
	listed   map[string]map[string]bool // clean dir -> bases with files in copying/
}{inFlight: map[string]bool{}, listed: map[string]map[string]bool{}}

func copyKey(dir, base string) string { return filepath.Join(filepath.Clean(dir), base) }

// beginInFlight registers a copy of base into dir, unless one is.
func beginInFlight(dir, base string) bool {
	copies.mu.Lock()
	defer copies.mu.Unlock()
	if copies.inFlight[copyKey(dir, base)] {
		return false
	}
	copies.inFlight[copyKey(dir, base)] = true
	delete(copies.listed, filepath.Clean(dir))
	return true
}

// endInFlight unregisters a copy; dir's copying/ is listed again next
// time, as the copy changed it.
func endInFlight(dir, base string) {
	copies.mu.Lock()
	defer copies.mu.Unlock()
	delete(copies.inFlight, copyKey(dir, base))
	delete(copies.listed, filepath.Clean(dir))
}

// copyLeftovers reports whether dir's copying/ holds files of base, and
// whether a copy of base into dir is in flight.
func copyLeftovers(dir, base string) (found, inFlight bool) {
	copies.mu.Lock()
	defer copies.mu.Unlock()
	if copies.inFlight[copyKey(dir, base)] {
		return true, true
	}
	clean := filepath.Clean(dir)
	bases, ok := copies.listed[clean]
	if !ok {
		bases = map[string]bool{}
		entries, _ := os.ReadDir(filepath.Join(clean, CopyStagingDir))
		for _, e := range entries {
			if b, ok := stageBase(e.Name()); ok {
				bases[b] = true
			}
		}
		copies.listed[clean] = bases
	}
	return bases[base], false
}

// stageBase is the volume base a name in copying/ belongs to.
func stageBase(name string) (string, bool) {
	if b, ok := strings.CutSuffix(name, swapMarker); ok {
		return b, true
	}
	for _, ext := range []string{".vif", ".dat", ".idx", ".wvx", ".note"} {
		b, ok := strings.CutSuffix(name, ext)
		if !ok {
			continue
		}
		for _, s := range []string{parkedSuffix, relinkSuffix} {
			if p, ok := strings.CutSuffix(b, s); ok {
				return p, true
			}
		}
		return b, true
	}
	return "", false
}

// forgetListing makes the next copyLeftovers list dir's copying/ again.
func forgetListing(dir string) {
	copies.mu.Lock()
	defer copies.mu.Unlock()
	delete(copies.listed, filepath.Clean(dir))
}

// settleCopy, before volume id (base) is opened from dir, finishes what a
// crash left of a copy into it (CopyStage.settle). While a copy of it is
// in flight in this process nothing is touched, and a marked swap refuses
// the open: the files are half-way between two replicas.
func settleCopy(dir, idxDir, base string, id uint32, logf func(string, ...any)) error {
	found, inFlight := copyLeftovers(dir, base)
	if !found {
		return nil
	}
	if inFlight {
		if _, err := os.Lstat(filepath.Join(dir, CopyStagingDir, base+swapMarker)); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("volume %d: its files are being swapped by a copy", id)
		}
		return nil
	}
	c, err := openStage(dir, idxDir, base, id)
	if err != nil {
		return err
	}
	defer c.closeRoots()
	defer forgetListing(dir)
	if err := c.settle(logf); err != nil {
		return fmt.Errorf("volume %d: settle an interrupted copy: %w", id, err)
	}
	return nil
}
