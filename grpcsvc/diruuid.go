package grpcsvc

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/weedvol/weedvol/atomicfile"
	"github.com/weedvol/weedvol/engine"
)

// dirUUIDFile names the file upstream keeps in every volume directory; the
// master uses its content to notice two servers sharing one directory.
const dirUUIDFile = "vol_dir.uuid"

// dirUUID returns the directory's uuid, creating the file when it is
// missing or empty. A symbolic link at the name is not followed (upstream
// follows it): it is replaced by a new uuid file, the link itself and not
// its target, and the replacement is reported in the error.
func dirUUID(dir string) (string, error) {
	path := filepath.Join(dir, dirUUIDFile)
	b, err := engine.ReadRegularFile(path)
	if err == nil && len(b) > 0 {
		return string(b), nil
	}
	var replaced error
	switch {
	case errors.Is(err, engine.ErrSymlink):
		replaced = fmt.Errorf("replaced %s with a new uuid: %w", path, err)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	id := newUUID()
	if err := atomicfile.Write(path, []byte(id), 0o644); err != nil {
		return id, err
	}
	return id, replaced
}

// newUUID returns a random (version 4) UUID in its canonical text form.
func newUUID() string {
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
