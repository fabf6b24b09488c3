package engine

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/weedvol/weedvol/atomicfile"
)

// The state files a data directory holds beside its volumes, with
// upstream's names and meanings. They are read and replaced only through
// ReadDirState and WriteDirState, which accept no other name, so that a
// caller outside the engine cannot name an arbitrary file.
const (
	// DirUUIDFile holds the directory's uuid; the master uses it to notice
	// two servers sharing one directory.
	DirUUIDFile = "vol_dir.uuid"
	// VidStampFile records the highest volume id the server has seen and
	// the master topology it belongs to (JSON).
	VidStampFile = ".vid_stamp"
	// ServerStateFile holds the maintenance state (a binary
	// VolumeServerState), in the first location's index directory.
	ServerStateFile = "state.pb"
)

// ErrNotStateFile is returned for a name that is not a directory state file.
var ErrNotStateFile = errors.New("not a directory state file")

func checkStateName(name string) error {
	switch name {
	case DirUUIDFile, VidStampFile, ServerStateFile:
		return nil
	}
	return fmt.Errorf("%q: %w", name, ErrNotStateFile)
}

// ReadDirState reads state file name of directory dir. A symbolic link at
// the name is refused (ErrSymlink); a missing file is os.ErrNotExist.
func ReadDirState(dir, name string) ([]byte, error) {
	if err := checkStateName(name); err != nil {
		return nil, err
	}
	return ReadRegularFile(filepath.Join(dir, name))
}

// WriteDirState replaces state file name of directory dir with data,
// atomically and durably (the file and the directory are fsynced). A
// symbolic link at the name is replaced, never written through.
//
// INVARIANT: writes of one file are serialized by the caller.
func WriteDirState(dir, name string, data []byte) error {
	if err := checkStateName(name); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, name), data, 0o644)
}

// DirUUID returns the uuid of directory dir, creating its vol_dir.uuid
// when missing or empty. A symbolic link at the name is not followed
// (upstream follows it): it is replaced by a new uuid file, and the
// replacement is reported in the error beside the new uuid.
func DirUUID(dir string) (string, error) {
	b, err := ReadDirState(dir, DirUUIDFile)
	if err == nil && len(b) > 0 {
		return string(b), nil
	}
	var replaced error
	switch {
	case errors.Is(err, ErrSymlink):
		replaced = fmt.Errorf("replaced %s with a new uuid: %w", filepath.Join(dir, DirUUIDFile), err)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("read %s: %w", filepath.Join(dir, DirUUIDFile), err)
	}
	id := NewUUID()
	if err := WriteDirState(dir, DirUUIDFile, []byte(id)); err != nil {
		return id, err
	}
	return id, replaced
}

// NewUUID returns a random (version 4) UUID in its canonical text form.
func NewUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
