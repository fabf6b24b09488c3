package packaging

import (
	"archive/tar"
	"compress/gzip"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRelease runs `make release` for one platform and checks the tarball:
// a static binary that reports the stamped version, with the licence, the
// notes and the systemd files beside it, and a checksum line for it.
func TestRelease(t *testing.T) {
	dist := t.TempDir()
	cmd := exec.Command("make", "-s", "-C", root, "release", "RELEASE_TARGETS=linux/"+goarch(t), "DIST="+dist, "VERSION=9.8.7-test")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make release: %v\n%s", err, out)
	}
	name := "weedvol-9.8.7-test-linux-" + goarch(t)
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil || !strings.Contains(string(sums), name+".tar.gz") {
		t.Fatalf("SHA256SUMS: %v %q", err, sums)
	}
	f, err := os.Open(filepath.Join(dist, name+".tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string]bool{}
	bin := filepath.Join(dist, "weedvol")
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = true
		if h.Name == name+"/weedvol" {
			out, _ := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
			io.Copy(out, tr)
			out.Close()
		}
	}
	for _, f := range []string{"weedvol", "LICENSE", "README.md", "RELEASE_NOTES.md", "weedvol.service", "weedvol.default"} {
		if !files[name+"/"+f] {
			t.Errorf("%s missing from the tarball (has %v)", f, files)
		}
	}
	e, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range e.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the release binary has a dynamic loader")
		}
	}
	e.Close()
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "9.8.7-test") {
		t.Fatalf("weedvol version: %v %s", err, out)
	}
}

func goarch(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOARCH").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
