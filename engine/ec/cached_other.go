//go:build !linux

package ec

import "os"

// readCached is unsupported here: every read takes the usual way.
func readCached(*os.File, []byte, int64) bool { return false }
