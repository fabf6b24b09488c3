package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weedvol/weedvol/diskstat"
	"github.com/weedvol/weedvol/internal/weedproc"
)

// The end-to-end tests of the command line: real weedvol and weed
// binaries, real sockets and real data directories. Their ports are taken
// from 16000-16999 (gRPC at +10000).

// flagsPort returns a free port whose gRPC twin is free too.
func flagsPort(t *testing.T) int {
	t.Helper()
	p, err := weedproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// buildVersioned builds weedvol with the release version and commit set
// as `make release` will.
func buildVersioned(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "weedvol")
	out, err := exec.Command("go", "build", "-ldflags",
		"-X github.com/weedvol/weedvol/buildinfo.Version=9.9.9-test -X github.com/weedvol/weedvol/buildinfo.Commit=0123456789abcdef0123",
		"-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// start runs bin with args on port, logging into the test's directory,
// and stops it when the test ends.
func start(t *testing.T, name, bin string, port int, args ...string) *weedproc.Process {
	t.Helper()
	p, err := weedproc.Start(name, bin, filepath.Join(t.TempDir(), name+".log"), port, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	return p
}

func startFlagsMaster(t *testing.T, weed string, port int, extra ...string) *weedproc.Process {
	t.Helper()
	args := append([]string{"master", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-port=" + strconv.Itoa(port),
		"-mdir=" + t.TempDir(), "-peers=none", "-defaultReplication=000", "-telemetry=false"}, extra...)
	m := start(t, "master", weed, port, args...)
	if err := m.WaitHTTP("/cluster/status", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	return m
}

func volumeArgs(port int, dir, master string, extra ...string) []string {
	return append([]string{"volume", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-port=" + strconv.Itoa(port),
		"-dir=" + dir, "-mserver=" + master, "-preStopSeconds=0"}, extra...)
}

// httpCode is the status of a GET of url, 0 when nothing answers.
func httpCode(url string) int {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func getJSON(t *testing.T, url string, into any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v: %s", url, err, b)
	}
}

// eventually polls cond every 100 ms for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within %v", what, d)
}

// seedData has upstream write a data directory: a few needles in several
// volumes, one of them deleted. It returns the directory (its vol_dir.uuid
// removed, so copies may join one master side by side) and the fids.
func seedData(t *testing.T, weed string) (string, []string) {
	t.Helper()
	mport, vport := flagsPort(t), flagsPort(t)
	m := startFlagsMaster(t, weed, mport, "-volumeSizeLimitMB=64")
	dir := t.TempDir()
	v := start(t, "seed", weed, vport, volumeArgs(vport, dir, m.Addr(), "-max=8")...)
	if err := v.WaitHTTP("/status", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	waitSlots(t, m.Addr(), v.Addr())
	var fids []string
	for i := 1; i <= 5; i++ {
		a, err := weedproc.Assign(m.Addr(), "")
		if err != nil {
			t.Fatal(err)
		}
		if err := weedproc.Upload(v.Addr(), a.Fid, fmt.Sprintf("f%d.bin", i), "application/octet-stream", []byte(strings.Repeat("x", 1000*i))); err != nil {
			t.Fatal(err)
		}
		fids = append(fids, a.Fid)
	}
	if err := weedproc.Delete(v.Addr(), fids[0]); err != nil {
		t.Fatal(err)
	}
	v.Stop()
	m.Stop()
	if err := os.Remove(filepath.Join(dir, "vol_dir.uuid")); err != nil {
		t.Fatal(err)
	}
	return dir, fids
}

// waitSlots waits until the master records the slots of the volume
// server at addr, before anything is assigned on it. The master grows a
// 000 layout by 7 volumes at once; an assignment on a node with fewer
// free slots, or one that races the node's first heartbeat, can leave
// upstream's master refusing the layout for minutes (CI saw both), so
// servers that take assignments get at least 8 slots.
func waitSlots(t *testing.T, master, addr string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); weedproc.NodeMax(master, addr) <= 0; {
		if time.Now().After(deadline) {
			t.Fatalf("master %s never recorded the slots of %s", master, addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// copyDir copies the regular files of src into a new directory, keeping
// their modification times (which /status reports).
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		st, _ := e.Info()
		p := filepath.Join(dst, e.Name())
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, st.ModTime(), st.ModTime())
	}
	return dst
}

// helpFlags returns the "  -name type" lines with their default (the
// "(default x)" suffix of the help line, "" when none) of the section of
// `-h` output between start and the line starting with end.
func helpFlags(out, start, end string) [][2]string {
	var flags [][2]string
	in := false
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, start):
			in = true
		case in && strings.HasPrefix(l, end):
			return flags
		case in && strings.HasPrefix(l, "  -"):
			def := ""
			if i+1 < len(lines) {
				if j := strings.LastIndex(lines[i+1], " (default "); j >= 0 && strings.HasSuffix(lines[i+1], ")") {
					def = lines[i+1][j:]
				}
			}
			flags = append(flags, [2]string{l, def})
		}
	}
	return flags
}

// TestHelpMatchesUpstream: -h lists every upstream volume flag, in
// upstream's order, with its type and default, then weedvol's own; both
// exit 2 as upstream does.
func TestHelpMatchesUpstream(t *testing.T) {
	weed := weedproc.TestBinary(t, "WEED_BINARY", "weed")
	bin := buildWeedvol(t, t.TempDir())
	run := func(bin string, args ...string) string {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Fatalf("%s %q: %v, want exit status 2\n%s", bin, args, err, out)
		}
		return string(out)
	}
	up := helpFlags(run(weed, "volume", "-h"), "Default Usage:", "Description:")
	if len(up) < 40 {
		t.Fatalf("upstream -h lists only %d flags", len(up))
	}
	for _, args := range [][]string{{"volume", "-h"}, {"-help"}, {"volume", "--help"}} {
		out := run(bin, args...)
		ours := helpFlags(out, "Default Usage:", "Description:")
		if fmt.Sprint(ours) != fmt.Sprint(up) {
			t.Errorf("%q lists\n%q\nupstream lists\n%q", args, ours, up)
		}
		own := helpFlags(out, "weedvol additions", "Global flags")
		if len(own) != len(weedvolFlags) {
			t.Errorf("%q: weedvol's section lists %q", args, own)
		}
	}
}

// TestVersionOutput: `weedvol version` and `-version` print upstream's
// version line byte for byte, then weedvol's version, commit and Go
// version; /status and the Server header carry weedvol's version beside
// upstream's.
func TestVersionOutput(t *testing.T) {
	weed := weedproc.TestBinary(t, "WEED_BINARY", "weed")
	bin := buildVersioned(t)
	upOut, err := exec.Command(weed, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	upLine := strings.SplitN(string(upOut), "\n", 2)[0]
	for _, args := range [][]string{{"version"}, {"-version"}, {"volume", "-version"}} {
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 2 || lines[0] != upLine || !strings.HasPrefix(lines[1], "weedvol 9.9.9-test (commit 0123456789ab, go1.") {
			t.Errorf("%q printed %q; upstream's line is %q", args, out, upLine)
		}
	}
	port := flagsPort(t)
	v := start(t, "weedvol", bin, port, volumeArgs(port, t.TempDir(), "127.0.0.1:1")...)
	if err := v.WaitHTTP("/status", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + v.Addr() + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if got := resp.Header.Get("Server"); got != "SeaweedFS Volume 30GB 4.53" { // upstream's, byte for byte
		t.Errorf("Server header %q", got)
	}
	if st["Version"] != "30GB 4.53 " || !strings.HasPrefix(fmt.Sprint(st["WeedvolVersion"]), "weedvol 9.9.9-test (commit 0123456789ab") {
		t.Errorf("/status versions %q and %q", st["Version"], st["WeedvolVersion"])
	}
}

// TestStatusMatchesUpstream starts upstream and weedvol on copies of one
// data directory upstream wrote and compares their /status: the same
// fields with the same values, but for the directory paths and free
// space, and weedvol's WeedvolVersion.
func TestStatusMatchesUpstream(t *testing.T) {
	weed := weedproc.TestBinary(t, "WEED_BINARY", "weed")
	bin := buildWeedvol(t, t.TempDir())
	seed, _ := seedData(t, weed)
	mport := flagsPort(t)
	m := startFlagsMaster(t, weed, mport, "-volumeSizeLimitMB=64")
	var docs [2]map[string]any
	for i, b := range []string{weed, bin} {
		port := flagsPort(t)
		v := start(t, filepath.Base(b), b, port, volumeArgs(port, copyDir(t, seed), m.Addr(), "-max=4")...)
		if err := v.WaitHTTP("/status", 60*time.Second); err != nil {
			t.Fatal(err)
		}
		getJSON(t, "http://"+v.Addr()+"/status", &docs[i])
	}
	up, ours := docs[0], docs[1]
	if _, ok := ours["WeedvolVersion"]; !ok {
		t.Error("no WeedvolVersion in weedvol's /status")
	}
	delete(ours, "WeedvolVersion")
	for _, d := range docs {
		for _, ds := range d["DiskStatuses"].([]any) {
			for _, k := range []string{"dir", "used", "free", "percent_free", "percent_used"} {
				if _, ok := ds.(map[string]any)[k]; !ok {
					t.Errorf("disk status without %s: %v", k, ds)
				}
				delete(ds.(map[string]any), k)
			}
		}
	}
	a, _ := json.Marshal(up)
	b, _ := json.Marshal(ours)
	if string(a) != string(b) {
		t.Errorf("/status differs\nupstream %s\nweedvol  %s", a, b)
	}
	if n := len(up["Volumes"].([]any)); n < 2 {
		t.Errorf("only %d volumes compared", n)
	}
}

// TestHealthWithMaster: before any master has answered, upstream does not
// listen at all and weedvol, which serves its data meanwhile, answers
// /healthz and /readyz 503; once the master answers both say 200, and
// both keep saying so while the master they reached is away.
func TestHealthWithMaster(t *testing.T) {
	weed := weedproc.TestBinary(t, "WEED_BINARY", "weed")
	bin := buildWeedvol(t, t.TempDir())
	mport := flagsPort(t)
	master := "127.0.0.1:" + strconv.Itoa(mport)
	var vols [2]*weedproc.Process
	for i, b := range []string{weed, bin} {
		port := flagsPort(t)
		vols[i] = start(t, filepath.Base(b), b, port, volumeArgs(port, t.TempDir(), master, "-max=2")...)
	}
	up, ours := vols[0], vols[1]
	if err := ours.WaitHTTP("/status", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // upstream has had time to listen, were it going to
	for _, path := range []string{"/healthz", "/readyz"} {
		if c := httpCode("http://" + up.Addr() + path); c != 0 {
			t.Errorf("upstream %s answered %d without a master", path, c)
		}
		if c := httpCode("http://" + ours.Addr() + path); c != http.StatusServiceUnavailable {
			t.Errorf("weedvol %s answered %d without a master", path, c)
		}
	}
	m := startFlagsMaster(t, weed, mport)
	for _, v := range vols {
		for _, path := range []string{"/healthz", "/readyz"} {
			eventually(t, 30*time.Second, v.Name+" "+path+" 200 once the master answers", func() bool {
				return httpCode("http://"+v.Addr()+path) == http.StatusOK
			})
		}
	}
	m.Stop()
	time.Sleep(3 * time.Second)
	for _, v := range vols {
		for _, path := range []string{"/healthz", "/readyz"} {
			if c := httpCode("http://" + v.Addr() + path); c != http.StatusOK {
				t.Errorf("%s %s answered %d with the master gone", v.Name, path, c)
			}
		}
	}
}

// TestDuplicateDirsShutDown: a master that keeps reporting weedvol's data
// directory as another server's makes it shut down, as upstream does
// after three retries.
func TestDuplicateDirsShutDown(t *testing.T) {
	weed := weedproc.TestBinary(t, "WEED_BINARY", "weed")
	bin := buildWeedvol(t, t.TempDir())
	m := startFlagsMaster(t, weed, flagsPort(t))
	first := t.TempDir()
	p1 := flagsPort(t)
	a := start(t, "first", bin, p1, volumeArgs(p1, first, m.Addr(), "-max=2")...)
	eventually(t, 30*time.Second, "first registered", func() bool { return httpCode("http://"+a.Addr()+"/healthz") == 200 })
	second := copyDir(t, first) // the same vol_dir.uuid
	p2 := flagsPort(t)
	cmd := exec.Command(bin, volumeArgs(p2, second, m.Addr(), "-max=2")...)
	logPath := filepath.Join(t.TempDir(), "second.log")
	log, _ := os.Create(logPath)
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		ee, ok := err.(*exec.ExitError)
		b, _ := os.ReadFile(logPath)
		if !ok || ee.ExitCode() != 1 || !strings.Contains(string(b), "3 retries later; is another volume server using the same directory?") {
			t.Fatalf("second server exited with %v\n%s", err, b)
		}
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		<-done
		b, _ := os.ReadFile(logPath)
		t.Fatalf("second server still running\n%s", b)
	}
	if c := httpCode("http://" + a.Addr() + "/healthz"); c != 200 {
		t.Errorf("first server /healthz %d", c)
	}
}

// TestOptionsFile: `-options=file` supplies flags, the command line wins
// over it and the environment over the file, as upstream.
func TestOptionsFile(t *testing.T) {
	bin := buildWeedvol(t, t.TempDir())
	port, other := flagsPort(t), flagsPort(t)
	dir := t.TempDir()
	opts := filepath.Join(t.TempDir(), "volume.options")
	body := fmt.Sprintf("# weedvol options\nport=%d\ndir %s\n-ip.bind=127.0.0.1\nip:127.0.0.1\nmserver=127.0.0.1:1\npreStopSeconds=0\nmax=0\nrack=from-file\n", other, dir)
	if err := os.WriteFile(opts, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "volume", "-options="+opts, "-port="+strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "WEED_MAX=3")
	log, _ := os.Create(filepath.Join(t.TempDir(), "v.log"))
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	eventually(t, 30*time.Second, "serving on the command line's port", func() bool {
		return httpCode("http://127.0.0.1:"+strconv.Itoa(port)+"/status") == 200
	})
	if httpCode("http://127.0.0.1:"+strconv.Itoa(other)+"/status") != 0 {
		t.Error("the file's port is served too")
	}
	if _, err := os.Stat(filepath.Join(dir, "vol_dir.uuid")); err != nil {
		t.Errorf("the file's -dir is not used: %v", err)
	}
	// a bad value in the file stops start-up with its line
	bad := filepath.Join(t.TempDir(), "bad.options")
	os.WriteFile(bad, []byte("port=9\nidleTimeout=soon\n"), 0o644)
	out, err := exec.Command(bin, "-options="+bad).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "line 2: invalid value \"soon\" for configuration variable idleTimeout") {
		t.Errorf("bad options file: %v\n%s", err, out)
	}
}

// TestMinFreeSpace: with -minFreeSpace above the disk's free space, both
// upstream and weedvol serve their volumes read-only: uploads get the same
// refusal, deletes still work, /status and the master show the volumes
// read-only and no free slot.
func TestMinFreeSpace(t *testing.T) {
	weed := weedproc.TestBinary(t, "WEED_BINARY", "weed")
	bin := buildWeedvol(t, t.TempDir())
	seed, fids := seedData(t, weed)
	m := startFlagsMaster(t, weed, flagsPort(t), "-volumeSizeLimitMB=64")
	var vols [2]*weedproc.Process
	for i, b := range []string{weed, bin} {
		dir := copyDir(t, seed)
		free := diskstat.Of(dir, "").Free
		minFree := fmt.Sprintf("-minFreeSpace=%dMiB", free>>20+1024)
		port := flagsPort(t)
		vols[i] = start(t, filepath.Base(b), b, port, volumeArgs(port, dir, m.Addr(), "-max=8", minFree)...)
		if err := vols[i].WaitHTTP("/healthz", 60*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	type answer struct {
		code int
		body string
	}
	do := func(method, url string, body io.Reader, ctype string) answer {
		req, _ := http.NewRequest(method, url, body)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return answer{resp.StatusCode, strings.TrimSpace(string(b))}
	}
	var uploads, deletes [2]answer
	for i, v := range vols {
		uploads[i] = do(http.MethodPut, "http://"+v.Addr()+"/"+fids[1]+"1", strings.NewReader("new data"), "application/octet-stream")
		deletes[i] = do(http.MethodDelete, "http://"+v.Addr()+"/"+fids[2], nil, "")
		var st struct{ Volumes []struct{ ReadOnly bool } }
		getJSON(t, "http://"+v.Addr()+"/status", &st)
		for _, vol := range st.Volumes {
			if !vol.ReadOnly {
				t.Errorf("%s /status: a volume is writable on a low disk", v.Name)
			}
		}
	}
	if uploads[0] != uploads[1] || uploads[1].code != http.StatusConflict {
		t.Errorf("upload on a low disk: upstream %v, weedvol %v", uploads[0], uploads[1])
	}
	if deletes[0].code != deletes[1].code || deletes[1].code != http.StatusAccepted {
		t.Errorf("delete on a low disk: upstream %v, weedvol %v", deletes[0], deletes[1])
	}
	// the master hears every volume read-only and no free slot on either
	var vs struct {
		Volumes struct {
			DataCenters map[string]map[string]map[string][]struct{ ReadOnly bool }
		}
	}
	getJSON(t, "http://"+m.Addr()+"/vol/status", &vs)
	seen := map[string]int{}
	for _, racks := range vs.Volumes.DataCenters {
		for _, nodes := range racks {
			for node, list := range nodes {
				for _, v := range list {
					if !v.ReadOnly {
						t.Errorf("master: a volume of %s is writable", node)
					}
					seen[node]++
				}
			}
		}
	}
	dats, _ := filepath.Glob(filepath.Join(seed, "*.dat"))
	for _, v := range vols {
		if seen[v.Addr()] != len(dats) || len(dats) == 0 {
			t.Errorf("master lists %d volumes of %s", seen[v.Addr()], v.Addr())
		}
	}
	var ds struct{ Topology struct{ Free int } }
	getJSON(t, "http://"+m.Addr()+"/dir/status", &ds)
	if ds.Topology.Free != 0 {
		t.Errorf("master counts %d free slots", ds.Topology.Free)
	}
}

// TestMaxZero: -max=0 has the slot count derived from the free space and
// the master's volume size limit; weedvol's agrees with upstream's on the
// same disk.
func TestMaxZero(t *testing.T) {
	weed := weedproc.TestBinary(t, "WEED_BINARY", "weed")
	bin := buildWeedvol(t, t.TempDir())
	free := diskstat.Of(t.TempDir(), "").Free
	limitMB := free / 5 >> 20 // about five volumes fit
	if limitMB > 30000 {
		limitMB = 30000 // the master's ceiling
	}
	if limitMB < 1 {
		t.Fatalf("%d bytes free", free)
	}
	m := startFlagsMaster(t, weed, flagsPort(t), "-volumeSizeLimitMB="+strconv.FormatUint(limitMB, 10))
	var vols [2]*weedproc.Process
	for i, b := range []string{weed, bin} {
		port := flagsPort(t)
		vols[i] = start(t, filepath.Base(b), b, port, volumeArgs(port, t.TempDir(), m.Addr(), "-max=0", "-minFreeSpace=101B")...)
	}
	want := int(free / (limitMB << 20))
	var got [2]int
	for i, v := range vols {
		eventually(t, 60*time.Second, v.Name+" sized from the free space", func() bool {
			got[i] = weedproc.NodeMax(m.Addr(), v.Addr())
			return got[i] >= want-1 && got[i] <= want+1 && got[i] > 0
		})
	}
	if d := got[0] - got[1]; d < -1 || d > 1 {
		t.Errorf("-max=0: upstream %d slots, weedvol %d", got[0], got[1])
	}
}

// TestPprofFlags: -pprof serves the profiles on the admin port, and only
// then; -debug serves them on 127.0.0.1:-debug.port.
func TestPprofFlags(t *testing.T) {
	bin := buildWeedvol(t, t.TempDir())
	p1, p2, dbg := flagsPort(t), flagsPort(t), flagsPort(t)
	on := start(t, "pprof", bin, p1, volumeArgs(p1, t.TempDir(), "127.0.0.1:1", "-pprof")...)
	off := start(t, "plain", bin, p2, volumeArgs(p2, t.TempDir(), "127.0.0.1:1", "-debug", "-debug.port="+strconv.Itoa(dbg))...)
	for _, v := range []*weedproc.Process{on, off} {
		if err := v.WaitHTTP("/status", 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if c, body := get("http://" + on.Addr() + "/debug/pprof/cmdline"); c != 200 || !strings.Contains(body, "-pprof") {
		t.Errorf("-pprof cmdline: %d %q", c, body)
	}
	if c, body := get("http://" + on.Addr() + "/debug/pprof/"); c != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("-pprof index: %d", c)
	}
	if c, body := get("http://" + off.Addr() + "/debug/pprof/cmdline"); c == 200 && strings.Contains(body, "-debug") {
		t.Errorf("pprof served on the admin port without -pprof")
	}
	if c, body := get("http://127.0.0.1:" + strconv.Itoa(dbg) + "/debug/pprof/cmdline"); c != 200 || !strings.Contains(body, "-debug") {
		t.Errorf("-debug: %d %q", c, body)
	}
}
