package engine

import (
	"runtime"
	"testing"
)

// TestInBackgroundLowersOnlyItsThread: the work runs at the lowest
// priority, and the priority does not leak to threads other goroutines
// run on afterwards.
func TestInBackgroundLowersOnlyItsThread(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Log("thread priorities are not lowered on " + runtime.GOOS)
	}
	var inside int
	if err := inBackground(func() error {
		var err error
		inside, err = threadPriority()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" && inside != 19 {
		t.Fatalf("nice %d inside, want 19", inside)
	}
	// every thread of the process, sampled from many goroutines
	done := make(chan int)
	for i := 0; i < 32; i++ {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			p, _ := threadPriority()
			done <- p
		}()
	}
	for i := 0; i < 32; i++ {
		if p := <-done; p != 0 {
			t.Fatalf("a thread at nice %d after inBackground returned", p)
		}
	}
}
