package engine

import "runtime"

// inBackground runs f on a goroutine locked to an OS thread that it gives
// the lowest scheduling priority (where the platform allows: lowerPriority),
// and returns f's result. The goroutine never unlocks the thread, so the
// thread ends with it and its priority never reaches other goroutines
// (raising a priority again would need privileges).
//
// f may use locks its caller holds: Go mutexes belong to no goroutine.
func inBackground(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		lowerPriority()
		done <- f()
	}()
	return <-done
}
