package engine

import (
	"errors"
	"fmt"
)

// Errors a caller maps to protocol replies.
var (
	ErrNotFound       = errors.New("not found")
	ErrDeleted        = errors.New("already deleted")
	ErrCookieMismatch = errors.New("cookie mismatch")
	ErrReadOnly       = errors.New("read only")
	ErrVolumeFull     = errors.New("volume size exceeded")
	ErrClosed         = errors.New("volume is closed")
	ErrVolumeNotFound = errors.New("volume not found")
	ErrVolumeExists   = errors.New("volume already exists")
	ErrDirLocked      = errors.New("data directory locked")
	ErrDirOpening     = errors.New("data directory still opening")
)

// cookieMismatch is a write refused because the stored needle has another
// cookie; it reads as upstream words it and matches ErrCookieMismatch.
type cookieMismatch struct{ cookie uint32 }

func (e cookieMismatch) Error() string        { return fmt.Sprintf("mismatching cookie %x", e.cookie) }
func (e cookieMismatch) Is(target error) bool { return target == ErrCookieMismatch }
