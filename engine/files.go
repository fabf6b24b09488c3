package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/weedvol/weedvol/atomicfile"
	"github.com/weedvol/weedvol/engine/vif"
)

// How the engine opens the files it writes.
//
// A symbolic link planted in a data directory (at a volume's file, a
// compaction's .cpd, a staged copy) must not make weedvol write, truncate
// or delete anything outside it. So:
//
//   - files the engine creates are created anew (createFresh): whatever is
//     at the name is removed, which removes a link and never its target,
//     and O_EXCL refuses a link planted in between;
//   - files the engine opens to write in place (a mounted volume's .dat
//     and .idx, a compaction's copy, a super block rewrite) are opened with
//     O_NOFOLLOW (openNoFollow): a link there is refused with ErrSymlink;
//   - files replaced whole go through atomicfile (.vif, .vid_stamp,
//     vol_dir.uuid, state.pb): the rename replaces a link, not its target;
//   - removals and renames act on names, so on links, not their targets.
//
// Upstream follows such links. weedvol does not mount a volume whose .dat
// or .idx is a symbolic link.

// ErrSymlink is matched (errors.Is) when a file the engine would write is
// a symbolic link.
var ErrSymlink = errors.New("is a symbolic link; weedvol does not write through links")

// openNoFollow opens path with flag and perm unless its last element is a
// symbolic link.
func openNoFollow(path string, flag int, perm os.FileMode) (*os.File, error) {
	if oNoFollow == 0 {
		if st, err := os.Lstat(path); err == nil && st.Mode()&os.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s %w", path, ErrSymlink)
		}
	}
	f, err := openRaw(path, flag|oNoFollow, perm)
	if err != nil {
		if st, lerr := os.Lstat(path); lerr == nil && st.Mode()&os.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s %w", path, ErrSymlink)
		}
		return nil, err
	}
	return f, nil
}

// ErrNotRegular is matched (errors.Is) by ReadRegularFile when the name
// holds something other than a regular file or a symbolic link.
var ErrNotRegular = errors.New("is not a regular file")

// ReadRegularFile reads one of a data directory's small state files
// (vol_dir.uuid, .vid_stamp, state.pb) unless the name holds a symbolic
// link (ErrSymlink) or anything else that is not a regular file
// (ErrNotRegular): a planted link cannot make the server read, and
// report to the master, a file from elsewhere, and a planted FIFO cannot
// hang it (checked before the open; the open itself refuses a link).
func ReadRegularFile(path string) ([]byte, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode()&os.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s %w", path, ErrSymlink)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %w", path, ErrNotRegular)
	}
	f, err := openNoFollow(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err = f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %w", path, ErrNotRegular)
	}
	// one read into a buffer of the file's size (a volume summary is
	// megabytes: io.ReadAll's doubling would copy it many times); what a
	// writer appended meanwhile is read too
	b := make([]byte, 0, st.Size()+512)
	for {
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// createFresh creates path empty for reading and writing, removing
// whatever was at the name first.
func createFresh(path string) (*os.File, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
}

// ownExts are the files a mounted volume keeps open or rewrites itself.
var ownExts = [...]string{".dat", ".idx", ".vif", ".wvx", ".cpd", ".cpx", ".cpc"}

// ErrVolumeFile is returned by CreateFile for a file the mounted volume
// keeps itself.
var ErrVolumeFile = errors.New("file of the mounted volume")

// OpenFile opens the volume's file with extension ext for reading. ext
// must pass ValidExt, and a symbolic link at the name is refused
// (ErrSymlink): a planted link cannot make CopyFile stream a file from
// outside the data directory.
func (v *Volume) OpenFile(ext string) (*os.File, error) {
	if err := ValidExt(ext); err != nil {
		return nil, err
	}
	return openNoFollow(v.FileName(ext), os.O_RDONLY, 0)
}

// CreateFile creates the volume's file with extension ext anew, empty, for
// writing (a file a peer pushes with ReceiveFile). ext must pass ValidExt
// and must not name one of the volume's own files (ErrVolumeFile):
// overwriting those under a live volume would corrupt it. Whatever was at
// the name before, a symbolic link included, is removed, never written
// through. The caller ends it with Commit or Abort.
func (v *Volume) CreateFile(ext string) (*Incoming, error) {
	if err := ValidExt(ext); err != nil {
		return nil, err
	}
	for _, own := range ownExts {
		if ext == own {
			return nil, fmt.Errorf("%s of volume %d: %w", ext, v.ID, ErrVolumeFile)
		}
	}
	f, err := createFresh(v.FileName(ext))
	if err != nil {
		return nil, err
	}
	return &Incoming{f: f}, nil
}

// Incoming is a file being received, created by Volume.CreateFile or
// Store.EcCreateFile. It is owned by one goroutine. When final is set the
// file is written under a temporary name and renamed to final at Commit.
type Incoming struct {
	f     *os.File
	final string
}

// Write appends p.
func (in *Incoming) Write(p []byte) (int, error) { return in.f.Write(p) }

// Commit makes the file durable (fsyncs it and its directory) and closes
// it. On failure the file is removed.
func (in *Incoming) Commit() error {
	err := errors.Join(in.f.Sync(), in.f.Close())
	if err == nil && in.final != "" {
		err = os.Rename(in.f.Name(), in.final)
	}
	if err == nil {
		err = atomicfile.SyncDir(filepath.Dir(in.f.Name()))
	}
	if err != nil {
		os.Remove(in.f.Name())
	}
	return err
}

// Abort closes and removes the file.
func (in *Incoming) Abort() {
	in.f.Close()
	os.Remove(in.f.Name())
}

// loadVif reads and decodes a .vif as vif.Load does, through openRaw: a
// missing or empty file is no info (exists false).
func loadVif(path string) (info *vif.Info, exists bool, err error) {
	f, err := openRaw(path, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return &vif.Info{}, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	defer f.Close()
	b, err := io.ReadAll(f) // a .vif is a few hundred bytes: one 512-byte buffer
	if err != nil {
		return nil, true, err
	}
	if len(b) == 0 {
		return &vif.Info{}, false, nil
	}
	if info, err = vif.Decode(b); err != nil {
		return nil, true, fmt.Errorf("%s: %w", path, err)
	}
	return info, true, nil
}
