package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/internal/weedproc"
)

// TestMain lets the test binary stand in for the bench binary when the
// benchmark re-executes itself as the bound server.
func TestMain(m *testing.M) {
	if len(os.Args) > 3 && os.Args[1] == "-serve-bound" {
		main()
	}
	os.Exit(m.Run())
}

func TestParseSizes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		bad  bool
	}{
		{in: "1KB,16KB,1MB,8MB", want: []int{1 << 10, 16 << 10, 1 << 20, 8 << 20}},
		{in: "100, 2k,3M", want: []int{100, 2 << 10, 3 << 20}},
		{in: "512B", want: []int{512}},
		{in: "1GB,2G", want: []int{1 << 30, 2 << 30}},
		{in: "", want: nil},
		{in: "1GBX", bad: true},
		{in: "-1KB", bad: true},
		{in: "0", bad: true},
	} {
		got, err := parseSizes(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("parseSizes(%q) error %v, want error %v", tc.in, err, tc.bad)
			continue
		}
		if !tc.bad && !slices.Equal(got, tc.want) {
			t.Errorf("parseSizes(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestSpliceInto(t *testing.T) {
	path := filepath.Join(t.TempDir(), "PERF.md")
	if err := os.WriteFile(path, []byte("# Perf\n\nhand-written\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := spliceInto(path, "first\n"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(must(os.ReadFile(path)), "\nafter\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := spliceInto(path, "second\n"); err != nil {
		t.Fatal(err)
	}
	want := "# Perf\n\nhand-written\n\n" + beginMarker + "\nsecond\n" + endMarker + "\n\nafter\n"
	if got := string(must(os.ReadFile(path))); got != want {
		t.Fatalf("PERF.md after two splices:\n%q\nwant\n%q", got, want)
	}
}

// TestEcShardOf checks where the bench expects a .dat byte in the shards:
// the uniform layout (a block per data shard) and the legacy one (1 MB
// rows below 10 GB of .dat).
func TestEcShardOf(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		off, block, dat int64
		want            int
	}{
		{0, 7 * mb, 64 * mb, 0},
		{7*mb - 1, 7 * mb, 64 * mb, 0},
		{7 * mb, 7 * mb, 64 * mb, 1},
		{63 * mb, 7 * mb, 64 * mb, 9},
		{0, 0, 64 * mb, 0},
		{mb, 0, 64 * mb, 1},
		{10*mb + 5, 0, 64 * mb, 0},
		{13 * mb, 0, 64 * mb, 3},
		{1<<30 + 5, 0, 11 << 30, 1},
		{10<<30 + 2*mb, 0, 11 << 30, 2},
	} {
		if got := ecShardOf(tc.off, tc.block, tc.dat); got != tc.want {
			t.Errorf("ecShardOf(%d, %d, %d) = %d, want %d", tc.off, tc.block, tc.dat, got, tc.want)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestFixtureIsReadableVolume opens a small fixture with the engine and
// reads needles back by key and cookie.
func TestFixtureIsReadableVolume(t *testing.T) {
	cache := t.TempDir()
	dir, err := fixture(cache, 1000)
	if err != nil {
		t.Fatal(err)
	}
	again, err := fixture(cache, 1000)
	if err != nil || again != dir {
		t.Fatalf("second fixture call: %q, %v; want the cached %q", again, err, dir)
	}
	v, err := engine.OpenVolume(engine.VolumeConfig{ID: fixtureVolume, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for _, key := range []uint64{1, 500, 1000} {
		var n needle.Needle
		if _, err := v.Read(&n, key, cookieOf(key), nil, engine.ReadOptions{}); err != nil {
			t.Fatalf("read key %d: %v", key, err)
		}
		if string(n.Data) != string(payload(fixtureDataSize, 1)) {
			t.Fatalf("key %d: wrong data", key)
		}
	}
	if _, err := v.Read(&needle.Needle{}, 1001, cookieOf(1001), nil, engine.ReadOptions{}); err == nil {
		t.Fatal("key past the fixture was found")
	}
}

// TestQuickRunAgainstRealServers runs a very short benchmark against the
// real upstream master and volume server and weedvol, and checks that every
// workload ran against both with no errors and that start-up was measured.
func TestQuickRunAgainstRealServers(t *testing.T) {
	weed, err := weedproc.Binary("WEED_BINARY", "weed")
	if err != nil {
		t.Skip(err)
	}
	weedvol, err := weedproc.Binary("WEEDVOL_BINARY", "weedvol")
	if err != nil {
		t.Skip(err)
	}
	if testing.Short() {
		t.Skip("starts real servers")
	}
	perf := filepath.Join(t.TempDir(), "PERF.md")
	cfg, err := parseFlags([]string{"-weed", weed, "-weedvol", weedvol, "-rounds", "1", "-duration", "300ms",
		"-sizes", "1KB,1MB", "-read-clients", "4", "-clients", "4", "-volumes", "2", "-rate", "200",
		"-cold-size", "", "-startup", "3000", "-cache", t.TempDir(), "-work", t.TempDir(), "-perf", perf,
		"-vacuum-size", "3MB", "-vacuum-window", "500ms",
		"-ec-size", "4MB", "-ec-rounds", "1", "-ec-clients", "4", "-ec-window", "300ms"})
	if err != nil {
		t.Fatal(err)
	}
	if err := run(cfg); err != nil {
		t.Fatal(err)
	}
	text := string(must(os.ReadFile(perf)))
	for _, want := range []string{"| write 1 KB | 4 |", "| read 1 MB uniform | 4 |", "| delete 1 KB | 4 |", "| 3000 | upstream |", "| 3000 | weedvol |"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	for _, want := range []string{vacuumBeginMarker, "### Vacuum under load", "| upstream |", "| weedvol |", "| weedvol/upstream |"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	// Every request before, during and after the vacuum succeeds with the
	// right bytes, on both servers (weedvol used to answer 404 for live
	// needles during the commit).
	if n := regexp.MustCompile(`\| 0 / 0 \| 0 of [1-9][0-9]* failed \|`).FindAllString(text, -1); len(n) != 2 {
		t.Errorf("vacuum rows with no errors and a clean read-back: %d, want 2:\n%s", len(n), text)
	}
	if strings.Contains(text, "vacuum failed") {
		t.Errorf("a vacuum failed:\n%s", text)
	}
	// Erasure coding: every step ran on both servers, every read came back
	// with the right bytes, and every rebuilt shard is the encoded one.
	for _, want := range []string{ecBeginMarker, "### Erasure coding", "| failed steps | 0 | 0 |",
		"| read errors: healthy / degraded | 0 / 0 | 0 / 0 |",
		"| rebuilt shards byte-identical to the encoded ones | 5 of 5 | 5 of 5 |"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if !regexp.MustCompile(`\| reads: healthy / degraded, all rounds \| [1-9][0-9]* / [1-9][0-9]* \([1-9][0-9]* on shard 0\) \| [1-9][0-9]* / [1-9][0-9]* \([1-9][0-9]* on shard 0\) \|`).MatchString(text) {
		t.Errorf("the ec reads did not run on both servers:\n%s", text)
	}
	if strings.Contains(text, "reads not run") {
		t.Errorf("ec reads skipped:\n%s", text)
	}
	// The checks below are for the throughput and start-up tables.
	text, _, _ = strings.Cut(text, vacuumBeginMarker)
	if !regexp.MustCompile(`\(weedvol [0-9a-f]{7}`).MatchString(text) {
		t.Errorf("report does not name the weedvol build's commit:\n%s", text)
	}
	if strings.Contains(text, "not run:") || strings.Contains(text, "first error") {
		t.Errorf("report has failed runs:\n%s", text)
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "| ") && strings.Contains(line, "x** |") && !strings.HasSuffix(line, "| 0 / 0 |") {
			t.Errorf("errors in %q", line)
		}
	}
}
