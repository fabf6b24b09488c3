//go:build !linux

package iouring

// oDirect is 0 where O_DIRECT does not exist: uncached benchmarks skip.
const oDirect = 0
