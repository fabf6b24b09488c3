package main

import (
	"os"
	"runtime"
)

// procsPerCPU is how many Go scheduler Ps weedvol runs per CPU it may use.
// Its request path is bound by system calls (socket reads and writes,
// pread/pwrite): while a thread sits in one, the P it holds is handed to
// another thread only after a delay, and the goroutines queued on it wait.
// With two Ps per CPU a runnable goroutine nearly always finds a P, which
// cut weedvol's p99 at 16 clients by 2-3x in bench/ (see PERF.md) at
// equal or better throughput; eight per CPU cost throughput.
const procsPerCPU = 2

// schedulerProcs returns the GOMAXPROCS to run with: an operator's
// GOMAXPROCS environment variable as given, else procsPerCPU times the
// runtime's default (the CPUs, or the cgroup's CPU limit).
func schedulerProcs(env string, defaultProcs int) int {
	if env != "" {
		return 0 // the runtime already applied it
	}
	return procsPerCPU * defaultProcs
}

func setSchedulerProcs() {
	if n := schedulerProcs(os.Getenv("GOMAXPROCS"), runtime.GOMAXPROCS(0)); n > 0 {
		runtime.GOMAXPROCS(n)
	}
}
