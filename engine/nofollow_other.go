//go:build !unix

package engine

import "os"

// oNoFollow is not available here; openNoFollow checks with Lstat first
// instead (racy, but the best this platform offers).
const oNoFollow = 0

// openRaw is os.OpenFile.
func openRaw(path string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(path, flag, perm)
}
