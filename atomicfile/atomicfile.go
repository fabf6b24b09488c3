// Package atomicfile replaces files whole so that after a crash a reader
// finds either the old content or the new, never a mix, and makes changes
// to a directory's entries durable.
//
// A replacement writes <path>.tmp (created anew: a leftover is removed
// first and O_EXCL refuses anything planted in between, so a symbolic link
// at the temporary name is never written through), fsyncs it, renames it
// over path (which replaces a link at path, not its target) and fsyncs the
// directory. After a crash path holds its old content or its new content;
// a leftover <path>.tmp is garbage that the next replacement of path
// removes.
//
// INVARIANT: replacements of one path are serialized by the caller. Two at
// once would share the temporary name, and one could rename the other's
// half-written file into place.
//
// The package imports nothing of the project, so that every package that
// replaces files (the engine, mmapidx, the gRPC service's state files) can
// share it without breaking the layering.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// TempName is the temporary file a replacement of path writes.
func TempName(path string) string { return path + ".tmp" }

// Write replaces path with data.
func Write(path string, data []byte, perm os.FileMode) error {
	return WriteWith(path, perm, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// WriteWith replaces path with what fill writes into the temporary file
// (created with perm, subject to the umask).
func WriteWith(path string, perm os.FileMode, fill func(*os.File) error) error {
	return replace(path, perm, true, fill)
}

// WriteUnsynced is WriteWith without the fsyncs: readers see the old file
// or the new one, never a mix, but after a machine crash path may hold
// either, or an empty or partial file. Only for files that are caches
// whose loss or damage is detected (or for tests, where fsync would
// dominate the run time).
func WriteUnsynced(path string, perm os.FileMode, fill func(*os.File) error) error {
	return replace(path, perm, false, fill)
}

func replace(path string, perm os.FileMode, sync bool, fill func(*os.File) error) (err error) {
	tmp := TempName(path)
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", tmp, err)
	}
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	err = fill(f)
	if err == nil && sync {
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
	if !sync {
		return nil
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir fsyncs directory dir, so that the creations, renames and
// removals of entries in it so far survive a machine crash. Windows
// cannot fsync a directory (NTFS orders its metadata itself): there it
// does nothing.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return SyncOpenDir(d)
}

// SyncOpenDir fsyncs the open directory d and closes it (for directories
// opened through an os.Root).
func SyncOpenDir(d *os.File) error {
	if runtime.GOOS == "windows" {
		return d.Close()
	}
	err := d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", d.Name(), err)
	}
	return nil
}
