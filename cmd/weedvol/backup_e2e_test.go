package main

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/weedvol/weedvol/internal/weedproc"
)

// TestWeedBackupResumes runs upstream's `weed backup` (which resumes by
// the backup's last index entry: VolumeIncrementalCopy with entry_count and
// the rows' hash) against a weedvol node and, for reference, an upstream
// one: a first backup from nothing, a second after more uploads and some
// deletes, a third with nothing new. After each the backup's .dat and .idx
// are byte-identical to the source's.
func TestWeedBackupResumes(t *testing.T) {
	weed := weedproc.TestBinary(t, "WEED_BINARY", "weed")
	weedvol := buildWeedvol(t, t.TempDir())
	for _, tc := range []struct{ name, bin string }{{"weedvol", weedvol}, {"upstream", weed}} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			mdir, vdir, bdir := filepath.Join(root, "m"), filepath.Join(root, "v"), filepath.Join(root, "b")
			for _, d := range []string{mdir, vdir, bdir} {
				os.MkdirAll(d, 0o755)
			}
			master, err := weedproc.StartMaster(weed, mdir, "-volumeSizeLimitMB=64")
			if err != nil {
				t.Fatal(err)
			}
			defer master.Stop()
			vol, err := weedproc.StartVolume(tc.bin, vdir, root, master.Addr(), "-max=10")
			if err != nil {
				t.Fatal(err)
			}
			defer vol.Stop()

			var vid string
			var fids []string
			upload := func(n int) {
				t.Helper()
				for added := 0; added < n; {
					a, onVolume, err := weedproc.AssignToVolume(master.Addr(), "", &vid)
					if err != nil {
						t.Fatal(err)
					}
					if !onVolume {
						continue
					}
					data := make([]byte, 1+len(fids)*3001%70000)
					rand.Read(data)
					if err := weedproc.Upload(a.URL, a.Fid, "f.bin", "application/octet-stream", data); err != nil {
						t.Fatal(err)
					}
					fids = append(fids, a.Fid)
					added++
				}
			}
			backup := func(what string) {
				t.Helper()
				out, err := exec.Command(weed, "backup", "-dir="+bdir, "-volumeId="+vid, "-master="+master.Addr()).CombinedOutput()
				if err != nil {
					t.Fatalf("%s: weed backup: %v\n%s", what, err, out)
				}
				for _, ext := range []string{".dat", ".idx"} {
					src, err := os.ReadFile(filepath.Join(vdir, vid+ext))
					if err != nil {
						t.Fatal(err)
					}
					got, err := os.ReadFile(filepath.Join(bdir, vid+ext))
					if err != nil {
						t.Fatalf("%s: %v\n%s", what, err, out)
					}
					if !bytes.Equal(got, src) {
						t.Fatalf("%s: backup %s has %d bytes, differs from the source's %d\n%s", what, ext, len(got), len(src), out)
					}
				}
			}
			upload(20)
			backup("from nothing")
			upload(10)
			for i := 0; i < 6; i += 2 {
				if err := weedproc.Delete(vol.Addr(), fids[i]); err != nil {
					t.Fatal(err)
				}
			}
			backup("resumed after uploads and deletes")
			backup("up to date")
			if _, err := strconv.Atoi(vid); err != nil {
				t.Fatalf("volume id %q", vid)
			}
		})
	}
}
