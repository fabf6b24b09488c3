package mmapidx

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// syncFiles is false only in tests and fuzzing, where fsync would dominate
// run time and crash durability is not under test.
var syncFiles = true

// replaceFile atomically replaces path with what fill writes: it writes
// path+".tmp", fsyncs it, renames it over path and fsyncs the directory.
// After a crash path holds either its old content or the new, never a mix;
// a leftover .tmp is removed and created anew by the next call (O_EXCL), so
// a symbolic link planted at the .tmp name is never written through, and
// the rename replaces a link at path rather than its target.
func replaceFile(path string, fill func(f *os.File) error) (err error) {
	tmp := path + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("mmapidx: remove %s: %w", tmp, err)
	}
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("mmapidx: create %s: %w", tmp, err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
			err = fmt.Errorf("mmapidx: write %s: %w", path, err)
		}
	}()
	err = fill(f)
	if err == nil && syncFiles {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable. Windows cannot fsync a directory
// and needs no such step.
func syncDir(dir string) error {
	if !syncFiles || runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
