//go:build !linux

package engine

import "os"

// preallocate is a no-op where fallocate is not available.
func preallocate(*os.File, int64) {}
