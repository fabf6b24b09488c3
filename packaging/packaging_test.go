// Package packaging holds what ships beside the binary: the container entry
// point, the systemd unit and its defaults. Its tests run those files
// against the real weedvol binary and the real upstream master, and check
// the Dockerfile, the unit and `make release` against the code they
// describe (the version variable, the ports, the stop timeout).
package packaging

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weedvol/weedvol/internal/weedproc"
)

// root is the repository's top directory (tests run in packaging/).
const root = ".."

// TestEntrypointRunsVolume starts the container entry point as the image
// does (`/entrypoint.sh volume <flags>`) with the real binary under the
// real master: it serves uploads from the data volume, takes -max=0 unless
// given -max, and refuses commands the image does not run.
func TestEntrypointRunsVolume(t *testing.T) {
	weed := weedproc.TestBinary(t, "WEED_BINARY", "weed")
	weedvol := weedproc.TestBinary(t, "WEEDVOL_BINARY", "weedvol")
	entry, _ := filepath.Abs(filepath.Join(root, "packaging", "entrypoint.sh"))
	cases := []struct {
		name    string
		extra   []string
		wantMax func(int) bool
	}{
		// -max=0: slots from free space
		{"default max", nil, func(m int) bool { return m > 0 }},
		// at least the 7 slots the master grows a 000 volume layout by at
		// once: with fewer it may refuse the assignment outright
		{"explicit max", []string{"-max=9"}, func(m int) bool { return m == 9 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "data")
			os.MkdirAll(data, 0o755)
			master, err := weedproc.StartMaster(weed, dir, "-volumeSizeLimitMB=64")
			if err != nil {
				t.Fatal(err)
			}
			defer master.Stop()
			port, err := weedproc.FreePort()
			if err != nil {
				t.Fatal(err)
			}
			t.Setenv("WEEDVOL_BIN", weedvol)
			t.Setenv("WEEDVOL_DATA", data)
			args := append([]string{entry, "volume", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
				"-port=" + strconv.Itoa(port), "-mserver=" + master.Addr(), "-preStopSeconds=0"}, c.extra...)
			vol, err := weedproc.Start("entrypoint", "/bin/sh", filepath.Join(dir, "volume.log"), port, args...)
			if err != nil {
				t.Fatal(err)
			}
			defer vol.Stop()
			if err := vol.WaitHTTP("/status", 60*time.Second); err != nil {
				t.Fatal(err)
			}
			// The first assignment waits until the master records the
			// node's slots. weedvol answers HTTP before its first heartbeat
			// is taken (upstream listens only after), and an assignment
			// that reaches the master between its registering the node and
			// its taking the slot counts fails its growth ("0 node
			// candidates"); upstream's master then kept refusing every
			// assignment of that layout for minutes in about half the runs
			// here, with writable volumes listed in /dir/status.
			deadline := time.Now().Add(60 * time.Second)
			for weedproc.NodeMax(master.Addr(), vol.Addr()) <= 0 && time.Now().Before(deadline) {
				time.Sleep(200 * time.Millisecond)
			}
			if m := weedproc.NodeMax(master.Addr(), vol.Addr()); !c.wantMax(m) {
				t.Fatalf("master records Max %d", m)
			}
			var a weedproc.Assignment
			for {
				if a, err = weedproc.Assign(master.Addr(), ""); err == nil || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("assign: %v", err)
			}
			if err := weedproc.Upload(a.URL, a.Fid, "a.txt", "text/plain", []byte("hello")); err != nil {
				t.Fatal(err)
			}
			dats, _ := filepath.Glob(filepath.Join(data, "*.dat"))
			if len(dats) == 0 {
				t.Fatalf("no volume in the data volume %s", data)
			}
			if m := weedproc.NodeMax(master.Addr(), vol.Addr()); !c.wantMax(m) {
				t.Fatalf("master records Max %d", m)
			}
		})
	}
	t.Run("other commands refused", func(t *testing.T) {
		out, err := exec.Command("/bin/sh", entry, "master").CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "volume server only") {
			t.Fatalf("entrypoint master: %v %s", err, out)
		}
	})
}

// unitSettings reads a systemd unit's Key=Value lines (the last one of a
// key wins, as systemd takes it for these settings).
func unitSettings(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not Key=Value: %q", path, line)
		}
		m[k] = v
	}
	return m
}

// TestSystemdUnit: the unit runs the installed binary with the flags of
// /etc/default/weedvol, restarts it on failure, raises the descriptor
// limit, stops it with SIGTERM and gives the graceful stop (preStopSeconds
// from the defaults file, then up to 10 s each for HTTP, public HTTP and
// gRPC) time before the SIGKILL.
func TestSystemdUnit(t *testing.T) {
	u := unitSettings(t, filepath.Join(root, "packaging", "weedvol.service"))
	want := map[string]*regexp.Regexp{
		"ExecStart":       regexp.MustCompile(`^/usr/local/bin/weedvol .*\bvolume \$WEEDVOL_ARGS$`),
		"Restart":         regexp.MustCompile(`^(on-failure|always)$`),
		"LimitNOFILE":     regexp.MustCompile(`^[0-9]{6,}$`),
		"KillSignal":      regexp.MustCompile(`^SIGTERM$`),
		"EnvironmentFile": regexp.MustCompile(`^-/etc/default/weedvol$`),
		"User":            regexp.MustCompile(`^[a-z]+$`),
	}
	for k, re := range want {
		if !re.MatchString(u[k]) {
			t.Errorf("%s=%q, want %v", k, u[k], re)
		}
	}
	stop, err := time.ParseDuration(u["TimeoutStopSec"])
	if err != nil {
		t.Fatalf("TimeoutStopSec=%q: %v", u["TimeoutStopSec"], err)
	}
	def := unitSettings(t, filepath.Join(root, "packaging", "weedvol.default"))
	m := regexp.MustCompile(`-preStopSeconds=([0-9]+)`).FindStringSubmatch(def["WEEDVOL_ARGS"])
	if m == nil {
		t.Fatalf("the defaults file sets no -preStopSeconds: %q", def["WEEDVOL_ARGS"])
	}
	pre, _ := strconv.Atoi(m[1])
	if need := time.Duration(pre)*time.Second + 30*time.Second; stop <= need {
		t.Fatalf("TimeoutStopSec %v leaves no time for the final sync after preStopSeconds %d + 30 s of draining", stop, pre)
	}
}

// dockerfile returns the Dockerfile's instructions as (keyword, rest).
func dockerfile(t *testing.T) [][2]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	joined := strings.ReplaceAll(string(b), "\\\n", " ")
	for _, line := range strings.Split(joined, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, _ := strings.Cut(line, " ")
		out = append(out, [2]string{strings.ToUpper(k), strings.TrimSpace(v)})
	}
	return out
}

// TestDockerfile checks the image description against the code: the
// version variable it stamps is the one `make release` stamps, the final
// stage runs as a non-root user, exposes the default HTTP port and its
// derived gRPC port, and copies the entry point tested above.
func TestDockerfile(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	mv := regexp.MustCompile(`(?m)^VERSION_VAR\s*:?=\s*(\S+)`).FindSubmatch(mk)
	if mv == nil {
		t.Fatal("no VERSION_VAR in the Makefile")
	}
	var froms int
	var user, entry string
	exposed := map[string]bool{}
	stamped, copied := false, false
	for _, in := range dockerfile(t) {
		switch in[0] {
		case "FROM":
			froms++
			user = "" // each stage starts as root
			exposed = map[string]bool{}
		case "USER":
			user = in[1]
		case "EXPOSE":
			for _, p := range strings.Fields(in[1]) {
				exposed[p] = true
			}
		case "ENTRYPOINT":
			entry = in[1]
		case "RUN":
			if strings.Contains(in[1], "-X "+string(mv[1])+"=") {
				stamped = true
			}
		case "COPY":
			if strings.HasPrefix(in[1], "packaging/entrypoint.sh ") {
				copied = true
			}
		}
	}
	if froms < 2 {
		t.Errorf("%d stages, want a build stage and a final one", froms)
	}
	if user == "" || user == "root" || user == "0" {
		t.Errorf("final stage runs as %q", user)
	}
	if !exposed["8080"] || !exposed["18080"] {
		t.Errorf("exposed %v, want 8080 and 18080", exposed)
	}
	if entry != `["/entrypoint.sh"]` || !copied {
		t.Errorf("entry point %s (copied from packaging/entrypoint.sh: %v)", entry, copied)
	}
	if !stamped {
		t.Errorf("the build stage does not stamp %s", mv[1])
	}
}
