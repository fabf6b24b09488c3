package iouring

import "golang.org/x/sys/unix"

// oDirect opens files for the uncached-read benchmarks: reads bypass the
// page cache and reach the device.
const oDirect = unix.O_DIRECT
