//go:build !unix

package engine

// defaultOpenVolumes is no limit where descriptors cannot be counted.
func defaultOpenVolumes() int { return 0 }
