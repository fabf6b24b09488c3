package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/weedvol/weedvol/internal/weedproc"
)

// buildWeedvol compiles this command into dir.
func buildWeedvol(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "weedvol")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// TestWithUpstreamMaster runs weedvol as the only volume server of the
// real upstream master and drives it with upstream's own clients:
// weed upload, weed download and weed benchmark.
func TestWithUpstreamMaster(t *testing.T) {
	weed := weedproc.TestBinary(t, "WEED_BINARY", "weed")
	root := t.TempDir()
	weedvol := buildWeedvol(t, root)
	mdir, vdir, work := filepath.Join(root, "m"), filepath.Join(root, "v"), filepath.Join(root, "w")
	for _, d := range []string{mdir, vdir, work} {
		os.MkdirAll(d, 0o755)
	}
	master, err := weedproc.StartMaster(weed, mdir, "-volumeSizeLimitMB=100")
	if err != nil {
		t.Fatal(err)
	}
	defer master.Stop()
	vol, err := weedproc.StartVolume(weedvol, vdir, root, master.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer vol.Stop()

	src := filepath.Join(work, "payload.bin")
	payload := bytes.Repeat([]byte("weedvol payload "), 5000)
	os.WriteFile(src, payload, 0o644)
	out, err := exec.Command(weed, "upload", "-master="+master.Addr(), src).CombinedOutput()
	if err != nil {
		t.Fatalf("weed upload: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`"fid":"([0-9]+,[0-9a-f]+)"`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no fid in %s", out)
	}
	fid := string(m[1])
	dl := filepath.Join(work, "dl")
	os.MkdirAll(dl, 0o755)
	if out, err := exec.Command(weed, "download", "-server="+master.Addr(), "-dir="+dl, fid).CombinedOutput(); err != nil {
		t.Fatalf("weed download: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dl, "payload.bin"))
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("downloaded %d bytes, %v", len(got), err)
	}

	// delete the payload and have the master vacuum its volume through us
	vid := fid[:strings.IndexByte(fid, ',')]
	datPath := filepath.Join(vdir, vid+".dat")
	before, err := os.Stat(datPath)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodDelete, "http://"+vol.Addr()+"/"+fid, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("delete %s: %v %v", fid, resp, err)
	}
	resp.Body.Close()
	shell := exec.Command(weed, "shell", "-master="+master.Addr())
	shell.Stdin = strings.NewReader("lock\nvolume.vacuum -garbageThreshold 0.01 -volumeId " + vid + "\nunlock\nexit\n")
	if out, err := shell.CombinedOutput(); err != nil {
		t.Fatalf("weed shell volume.vacuum: %v\n%s", err, out)
	}
	after, err := os.Stat(datPath)
	if err != nil || after.Size() >= before.Size() {
		t.Fatalf("volume %s .dat %d bytes before vacuum, %v after (%v)", vid, before.Size(), after, err)
	}
	resp, err = http.Get("http://" + vol.Addr() + "/" + fid)
	if err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("deleted %s after vacuum: %v %v", fid, resp, err)
	}
	resp.Body.Close()

	out, err = exec.Command(weed, "benchmark", "-master="+master.Addr(), "-n=2000", "-c=8", "-size=1024").CombinedOutput()
	if err != nil {
		t.Fatalf("weed benchmark: %v\n%s", err, out)
	}
	if c := strings.Count(string(out), "Failed requests:        0"); c != 2 {
		t.Fatalf("weed benchmark reported failures:\n%s", out)
	}
}
