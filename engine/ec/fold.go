package ec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/weedvol/weedvol/atomicfile"
)

// FoldJournal is upstream's RebuildEcxFile: it writes a tombstone into the
// .ecx row of every id in the .ecj (ids without a row are skipped), fsyncs
// the .ecx, and only then removes the .ecj and fsyncs its directory, so a
// crash in between leaves the journal to be applied again. A missing .ecj
// is nothing to do; a torn one is an error and nothing is changed. The
// .ecx must not be open in a Volume (use Volume.FoldJournal for that).
func FoldJournal(ecxPath, ecjPath string, offsetWidth int) error {
	ids, err := ReadJournal(ecjPath)
	if err != nil {
		return err
	}
	if _, err := os.Stat(ecjPath); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	x, err := OpenIndex(ecxPath, offsetWidth)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := x.MarkDeleted(id); err != nil {
			x.Close()
			return err
		}
	}
	if err := x.Sync(); err != nil {
		x.Close()
		return fmt.Errorf("ec: sync %s: %w", ecxPath, err)
	}
	if err := x.Close(); err != nil {
		return err
	}
	if err := os.Remove(ecjPath); err != nil {
		return fmt.Errorf("ec: remove folded journal: %w", err)
	}
	return atomicfile.SyncDir(filepath.Dir(ecjPath))
}

// FoldJournal folds the volume's .ecj into its .ecx as the package-level
// FoldJournal does, but empties the journal in place (Journal.Reset)
// instead of removing it, so the open handle keeps pointing at the file
// readers see. Deletes are held off while it runs. The in-memory deleted
// set, and so Counts, are unchanged.
func (v *Volume) FoldJournal() error {
	v.delMu.Lock()
	defer v.delMu.Unlock()
	ids, err := ReadJournal(v.cfg.IndexBase + ".ecj")
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := v.index.MarkDeleted(id); err != nil {
			return err
		}
	}
	if err := v.index.Sync(); err != nil {
		return fmt.Errorf("ec: sync %s.ecx: %w", v.cfg.IndexBase, err)
	}
	return v.journal.Reset()
}
