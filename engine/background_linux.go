package engine

import "golang.org/x/sys/unix"

// lowerPriority sets the calling thread's nice value to 19 (on Linux a
// nice value belongs to a thread).
func lowerPriority() { _ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 19) }

// threadPriority is the calling thread's nice value (for tests).
func threadPriority() (int, error) {
	// the raw getpriority system call returns 20 - nice
	n, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
	return 20 - n, err
}
