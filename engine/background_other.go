//go:build !linux

package engine

// lowerPriority does nothing where priorities are per process.
func lowerPriority() {}

func threadPriority() (int, error) { return 0, nil }
