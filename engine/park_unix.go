//go:build unix

package engine

import "golang.org/x/sys/unix"

// defaultOpenVolumes derives the open-volume limit from the descriptor
// limit (which the Go runtime raises to the hard limit at start-up).
func defaultOpenVolumes() int {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil || r.Cur == unix.RLIM_INFINITY {
		return 0
	}
	return max(int(r.Cur)-256, 48) / 3
}
