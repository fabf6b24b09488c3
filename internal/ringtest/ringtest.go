// Package ringtest decides, for tests, what a missing io_uring means: on a
// developer's machine the ring's tests are left out with a log line; in CI
// (environment variable CI set) they fail, unless WEEDVOL_NO_URING says the
// machine has no io_uring on purpose. A test that silently drops out in CI
// would be a test that cannot fail.
package ringtest

import (
	"os"
	"testing"
)

// Unavailable reports an io_uring that could not be set up (err): it fails
// the test in CI unless WEEDVOL_NO_URING is set, and otherwise logs it and
// returns (the caller then leaves the ring out).
func Unavailable(tb testing.TB, err error) {
	tb.Helper()
	if os.Getenv("CI") != "" && os.Getenv("WEEDVOL_NO_URING") == "" {
		tb.Fatalf("io_uring unavailable in CI: %v (set WEEDVOL_NO_URING=1 when the machine has none on purpose)", err)
	}
	tb.Logf("io_uring unavailable, its tests are left out: %v", err)
}
