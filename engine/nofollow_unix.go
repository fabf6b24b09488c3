//go:build unix

package engine

import "syscall"

// oNoFollow makes an open fail when the last element of the path is a
// symbolic link.
const oNoFollow = syscall.O_NOFOLLOW
