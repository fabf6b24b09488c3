//go:build !linux

package iouring

import (
	"errors"
	"runtime"
)

var errNoUring = errors.New("iouring: io_uring is Linux-only, not available on " + runtime.GOOS)

// newUring always fails off Linux; "auto" then routes everything to sync.
func newUring() (opener, error) {
	if setupHook != nil {
		if err := setupHook(); err != nil {
			return nil, err
		}
	}
	return nil, errNoUring
}
