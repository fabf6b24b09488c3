//go:build !unix

package engine

import "os"

// lockDir opens dir; where flock does not exist it takes no lock.
func lockDir(dir string) (*os.File, error) { return os.Open(dir) }
