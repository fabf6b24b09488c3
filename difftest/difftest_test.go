package difftest

import (
	"flag"
	"strconv"
	"strings"
	"testing"

	"github.com/weedvol/weedvol/internal/weedproc"
)

var (
	flagRequests = flag.Int("difftest.requests", 300, "random reads per seed and offset width (half before the writes, half after)")
	flagSeeds    = flag.String("difftest.seeds", "1", "comma-separated seeds")
	flagWidths   = flag.String("difftest.widths", "4,5", "comma-separated .idx offset widths to run")
)

// binary finds a binary; outside CI a missing one skips the test, in CI it
// fails it.
func binary(t *testing.T, env, name string) string {
	return weedproc.TestBinary(t, env, name)
}

// TestDifferential serves one upstream-written corpus with upstream and
// with weedvol and compares every answer. `make difftest` runs it long.
func TestDifferential(t *testing.T) {
	weed := binary(t, "WEED_BINARY", "weed")
	weedvol := binary(t, "WEEDVOL_BINARY", "weedvol")
	var total Results
	for _, ws := range strings.Split(*flagWidths, ",") {
		width, err := strconv.Atoi(strings.TrimSpace(ws))
		if err != nil {
			t.Fatal(err)
		}
		upstream := weed
		if width == 5 {
			upstream = binary(t, "WEED5_BINARY", "weed-5b")
		}
		t.Run("offset"+ws, func(t *testing.T) {
			for _, ss := range strings.Split(*flagSeeds, ",") {
				seed, err := strconv.ParseUint(strings.TrimSpace(ss), 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				h, err := Start(Config{Weed: upstream, Master: weed, Weedvol: weedvol, Width: width, Root: t.TempDir(), Seed: seed})
				if err != nil {
					t.Fatal(err)
				}
				h.RunAll(seed, *flagRequests)
				h.Stop()
				for _, f := range h.Res.Failures {
					t.Errorf("seed %d: %s", seed, f)
				}
				t.Logf("offset width %d, seed %d: %s", width, seed, h.Res.Summary())
				total.Passed += h.Res.Passed
				total.Failed += h.Res.Failed
				for k, n := range h.Res.Known {
					if total.Known == nil {
						total.Known = map[string]int{}
					}
					total.Known[k] += n
				}
			}
		})
	}
	t.Logf("difftest: %s", total.Summary())
	for k, n := range total.Known {
		t.Logf("  known divergence %q: %d requests", k, n)
	}
}
