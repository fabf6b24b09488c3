package engine

import "errors"

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
)
