package engine_test

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/internal/weedproc"
)

// upstreamBinary returns the pinned upstream weed built for an offset width.
// Outside CI a missing binary skips the test; in CI it fails it.
func upstreamBinary(t *testing.T, offsetSize int) string {
	env, name := "WEED_BINARY", "weed"
	if offsetSize == 5 {
		env, name = "WEED5_BINARY", "weed-5b"
	}
	return weedproc.TestBinary(t, env, name)
}

type upload struct {
	fid  string
	vid  uint32
	key  uint64
	ck   uint32
	name string
	mime string
	data []byte
}

func parseFid(t *testing.T, fid string) (uint32, uint64, uint32) {
	vs, kc, ok := strings.Cut(fid, ",")
	if !ok {
		t.Fatalf("bad fid %q", fid)
	}
	vid, _ := strconv.ParseUint(vs, 10, 32)
	key, cookie, err := needle.ParseKeyCookie([]byte(kc))
	if err != nil {
		t.Fatal(err)
	}
	return uint32(vid), key, cookie
}

// readTar returns a tar file's regular files by name.
func readTar(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = b
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestReadVolumesWrittenByUpstream has upstream `weed volume` take uploads
// and deletes, stops it, and reads its data directory with the engine:
// every live needle byte-equal with its name and MIME type, every deleted
// one gone.
func TestReadVolumesWrittenByUpstream(t *testing.T) {
	for _, width := range []int{4, 5} {
		t.Run(fmt.Sprintf("offset%d", width), func(t *testing.T) {
			weed := upstreamBinary(t, width)
			root := t.TempDir()
			mdir, vdir := filepath.Join(root, "m"), filepath.Join(root, "v")
			os.MkdirAll(mdir, 0o755)
			os.MkdirAll(vdir, 0o755)
			master, err := weedproc.StartMaster(weed, mdir, "-volumeSizeLimitMB=64")
			if err != nil {
				t.Fatal(err)
			}
			defer master.Stop()
			vol, err := weedproc.StartVolume(weed, vdir, root, master.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer vol.Stop()

			sizes := []int{0, 1, 7, 8, 100, 4096, 65536, 1 << 20, 3<<20 + 5}
			var ups []upload
			for i := 0; i < 60; i++ {
				a, err := weedproc.Assign(master.Addr(), "")
				if err != nil {
					t.Fatal(err)
				}
				u := upload{fid: a.Fid, name: fmt.Sprintf("file%d.bin", i), mime: "application/x-test" + strconv.Itoa(i%3),
					data: randomBytes(sizes[i%len(sizes)])}
				if err := weedproc.Upload(a.URL, a.Fid, u.name, u.mime, u.data); err != nil {
					t.Fatal(err)
				}
				u.vid, u.key, u.ck = parseFid(t, a.Fid)
				ups = append(ups, u)
			}
			// overwrite one and delete every fifth
			over := &ups[1]
			over.data = randomBytes(333)
			if err := weedproc.Upload(vol.Addr(), over.fid, over.name, over.mime, over.data); err != nil {
				t.Fatal(err)
			}
			deleted := map[string]bool{}
			for i := 0; i < len(ups); i += 5 {
				if err := weedproc.Delete(vol.Addr(), ups[i].fid); err != nil {
					t.Fatal(err)
				}
				deleted[ups[i].fid] = true
			}
			if err := vol.Stop(); err != nil {
				t.Fatal(err)
			}

			store, err := engine.OpenStore(engine.StoreConfig{Locations: []engine.LocationConfig{{Dir: vdir, MaxVolumes: 16}}})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			var buf []byte
			for _, u := range ups {
				v, ok := store.Volume(u.vid)
				if !ok {
					t.Fatalf("volume %d of %s not loaded", u.vid, u.fid)
				}
				if v.OffsetSize() != width {
					t.Fatalf("volume %d has offset width %d, want %d", u.vid, v.OffsetSize(), width)
				}
				var n needle.Needle
				buf, err = v.Read(&n, u.key, u.ck, buf, engine.ReadOptions{})
				if deleted[u.fid] {
					if !errors.Is(err, engine.ErrDeleted) {
						t.Fatalf("deleted %s: err %v", u.fid, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("read %s: %v", u.fid, err)
				}
				if !bytes.Equal(n.Data, u.data) {
					t.Fatalf("%s: %d bytes differ from the %d uploaded", u.fid, len(n.Data), len(u.data))
				}
				if len(u.data) > 0 && (string(n.Name) != u.name || string(n.Mime) != u.mime) {
					t.Fatalf("%s: name %q mime %q", u.fid, n.Name, n.Mime)
				}
			}
		})
	}
}

// TestUpstreamServesVolumesWrittenByEngine writes volumes of needle
// versions 2 and 3 with the engine, then has upstream `weed volume` serve
// them: every live needle byte-equal, deleted ones 404; and upstream's
// offline `weed export` reads them without error.
func TestUpstreamServesVolumesWrittenByEngine(t *testing.T) {
	for _, width := range []int{4, 5} {
		t.Run(fmt.Sprintf("offset%d", width), func(t *testing.T) {
			weed := upstreamBinary(t, width)
			root := t.TempDir()
			mdir, vdir := filepath.Join(root, "m"), filepath.Join(root, "v")
			os.MkdirAll(mdir, 0o755)
			os.MkdirAll(vdir, 0o755)

			type written struct {
				fid     string
				data    []byte
				deleted bool
			}
			var all []written
			for i, ver := range []needle.Version{needle.Version3, needle.Version2} {
				vid := uint32(i + 1)
				v, err := engine.OpenVolume(engine.VolumeConfig{ID: vid, Dir: vdir, Create: true, Version: ver, OffsetSize: width})
				if err != nil {
					t.Fatal(err)
				}
				for k := uint64(1); k <= 50; k++ {
					n := needle.Needle{ID: k, Cookie: uint32(k * 2654435761), Data: randomBytes(int(k*k*37) % 200000)}
					n.SetName([]byte(fmt.Sprintf("n%d.bin", k)))
					n.SetMime([]byte("application/octet-stream"))
					n.SetLastModified(1700000000 + k)
					if _, err := v.Write(&n, engine.WriteOptions{}); err != nil {
						t.Fatal(err)
					}
					all = append(all, written{fid: needle.FormatFid(vid, n.ID, n.Cookie), data: n.Data})
				}
				for k := uint64(3); k <= 50; k += 7 {
					cookie := uint32(k * 2654435761)
					if _, err := v.Delete(k, cookie, engine.WriteOptions{}); err != nil {
						t.Fatal(err)
					}
					all[int(vid-1)*50+int(k-1)].deleted = true
				}
				if err := v.Close(); err != nil {
					t.Fatal(err)
				}
			}

			// upstream's offline reader exports every live needle of each
			// volume with the bytes we wrote
			for vid := uint32(1); vid <= 2; vid++ {
				tarPath := filepath.Join(root, fmt.Sprintf("export%d.tar", vid))
				out, err := exec.Command(weed, "export", "-dir="+vdir, fmt.Sprintf("-volumeId=%d", vid), "-o="+tarPath).CombinedOutput()
				if err != nil {
					t.Fatalf("weed export: %v\n%s", err, out)
				}
				exported := readTar(t, tarPath)
				live := 0
				for _, w := range all[int(vid-1)*50 : int(vid)*50] {
					if w.deleted || len(w.data) == 0 {
						continue
					}
					live++
					_, key, _ := parseFid(t, w.fid)
					name := fmt.Sprintf("%x_n%d.bin.bin", key, key) // upstream template {{.Id}}_{{.Name}}{{.Ext}}
					if got, ok := exported[name]; !ok || !bytes.Equal(got, w.data) {
						t.Fatalf("volume %d: export of %s (%s): present %v, %d bytes, want %d", vid, w.fid, name, ok, len(got), len(w.data))
					}
				}
				if len(exported) != live {
					t.Fatalf("volume %d: export holds %d files, want %d", vid, len(exported), live)
				}
			}

			master, err := weedproc.StartMaster(weed, mdir)
			if err != nil {
				t.Fatal(err)
			}
			defer master.Stop()
			vol, err := weedproc.StartVolume(weed, vdir, root, master.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer vol.Stop()
			for _, w := range all {
				status, body, _, err := weedproc.Get(vol.Addr(), w.fid)
				if err != nil {
					t.Fatal(err)
				}
				if w.deleted {
					if status != 404 {
						t.Fatalf("deleted %s: status %d", w.fid, status)
					}
					continue
				}
				if status != 200 || !bytes.Equal(body, w.data) {
					t.Fatalf("%s: status %d, %d bytes (want %d)", w.fid, status, len(body), len(w.data))
				}
			}
		})
	}
}
