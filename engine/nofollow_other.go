//go:build !unix

package engine

// oNoFollow is not available here; openNoFollow checks with Lstat first
// instead (racy, but the best this platform offers).
const oNoFollow = 0
