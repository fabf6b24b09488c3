package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/weedvol/weedvol/internal/s3test"
	"github.com/weedvol/weedvol/internal/weedproc"
)

// basePortTierE2E is the weed mini of TestTierWithShell (base..base+4).
const basePortTierE2E = 9820

// TestTierWithShell moves a volume to a real S3 endpoint (the pinned weed
// mini) and back with weed shell's volume.tier.upload and
// volume.tier.download, under the real master configured with
// [storage.backend.s3.default] in its master.toml, first with weedvol and
// then with upstream's weed volume as the only volume server. Every needle
// reads byte-identical before, during (a reader loop runs through each
// move) and after each move, and after a restart while the volume is
// remote; deletes while the volume is remote (right after the upload and
// after the restart) are accepted and stay deleted through the download
// and the restart after it; the master lists the volume as remote; the .vif names the
// remote file with the fields upstream writes, and weedvol's .vif has the
// same fields and values as upstream's (but the key, the time and the
// replication a creation recorded).
func TestTierWithShell(t *testing.T) {
	weed := weedproc.TestBinary(t, "WEED_BINARY", "weed")
	root := t.TempDir()
	weedvol := buildWeedvol(t, root)
	srv := s3test.Start(t, basePortTierE2E)
	vifs := map[string]map[string]any{}
	for _, c := range []struct{ name, bin string }{{"weedvol", weedvol}, {"upstream", weed}} {
		t.Run(c.name, func(t *testing.T) {
			bucket := "tier-" + c.name
			srv.MakeBucket(t, bucket)
			vifs[c.name] = runTier(t, weed, c.bin, srv, bucket)
		})
	}
	ours, theirs := vifs["weedvol"], vifs["upstream"]
	if ours == nil || theirs == nil {
		return
	}
	for _, m := range []map[string]any{ours, theirs} {
		// replication is the volume creation's (weedvol records the
		// placement when it creates the .vif, upstream leaves it empty);
		// the tier move does not touch it
		delete(m, "replication")
		f := m["files"].([]any)[0].(map[string]any)
		delete(f, "key")
		delete(f, "modifiedTime")
	}
	a, _ := json.Marshal(ours)
	b, _ := json.Marshal(theirs)
	if !bytes.Equal(a, b) {
		t.Errorf(".vif after the upload differs from upstream's (key and mtime left out):\nweedvol  %s\nupstream %s", a, b)
	}
}

type tierFile struct {
	fid  string
	data []byte
}

// runTier runs the moves against the volume server bin and returns the
// .vif (decoded JSON) it wrote for the remote volume.
func runTier(t *testing.T, weed, bin string, srv *s3test.Server, bucket string) map[string]any {
	work := t.TempDir()
	toml := fmt.Sprintf(`
[storage.backend]
	[storage.backend.s3.default]
	enabled = true
	aws_access_key_id = %q
	aws_secret_access_key = %q
	region = %q
	bucket = %q
	endpoint = %q
	storage_class = "STANDARD"
`, s3test.AccessKey, s3test.SecretKey, s3test.Region, bucket, srv.Endpoint)
	if err := os.WriteFile(filepath.Join(work, "master.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	mdir := t.TempDir()
	master, err := weedproc.StartMasterIn(weed, mdir, work, "-volumeSizeLimitMB=64")
	if err != nil {
		t.Fatal(err)
	}
	defer master.Stop()
	dir, logs := t.TempDir(), t.TempDir()
	vs, err := weedproc.StartVolume(bin, dir, logs, master.Addr(), "-max=10")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { vs.Stop() }()

	const collection = "tiered"
	var files []tierFile
	var vid string
	for i := 0; len(files) < 30; i++ {
		if i > 300 {
			t.Fatal("the master never assigned 30 fids on one volume")
		}
		a, onVolume, err := weedproc.AssignToVolume(master.Addr(), "collection="+collection, &vid)
		if err != nil {
			t.Fatal(err)
		}
		if !onVolume {
			continue
		}
		n := 1 + (len(files)*len(files)*7919)%40000
		if len(files) == 3 {
			n = 700_000 // past the sendfile threshold
		}
		data := make([]byte, n)
		rand.Read(data)
		if err := weedproc.Upload(a.URL, a.Fid, "f.bin", "application/octet-stream", data); err != nil {
			t.Fatal(err)
		}
		files = append(files, tierFile{a.Fid, data})
	}
	base := filepath.Join(dir, collection+"_"+vid)
	check := func(what string) {
		t.Helper()
		for _, f := range files {
			code, body, _, err := getRetry(vs.Addr(), f.fid)
			if err != nil || code != http.StatusOK || !bytes.Equal(body, f.data) {
				t.Fatalf("%s: %s answered %d with %d bytes (%v), want %d", what, f.fid, code, len(body), err, len(f.data))
			}
		}
	}
	check("before the upload")
	local, err := os.ReadFile(base + ".dat")
	if err != nil {
		t.Fatal(err)
	}

	// the shell selects by the master's view: a size past 0% full, no
	// write within the last 0 s
	waitMasterSize(t, weed, master.Addr(), vid)
	time.Sleep(1100 * time.Millisecond)
	stop := tierReaders(t, vs.Addr(), files, false)
	shell(t, weed, master.Addr(), "volume.tier.upload -dest=s3.default -collection="+collection+" -fullPercent=0 -quietFor=0s")
	t.Logf("%d reads during the upload", stop())
	check("after the upload")
	if _, err := os.Stat(base + ".dat"); !os.IsNotExist(err) {
		t.Fatalf("local .dat after the upload: %v", err)
	}
	raw, err := os.ReadFile(base + ".vif")
	if err != nil {
		t.Fatal(err)
	}
	var vifJSON map[string]any
	if err := json.Unmarshal(raw, &vifJSON); err != nil {
		t.Fatal(err)
	}
	files0, _ := vifJSON["files"].([]any)
	if len(files0) != 1 {
		t.Fatalf(".vif after the upload: %s", raw)
	}
	rf := files0[0].(map[string]any)
	key, _ := rf["key"].(string)
	if rf["backendType"] != "s3" || rf["backendId"] != "default" || rf["extension"] != ".dat" || key == "" ||
		fmt.Sprint(rf["fileSize"]) != fmt.Sprint(len(local)) || fmt.Sprint(rf["modifiedTime"]) == "0" {
		t.Fatalf(".vif remote file %v (local .dat was %d bytes)", rf, len(local))
	}
	obj, err := srv.Client(t).GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var remote bytes.Buffer
	if _, err := remote.ReadFrom(obj); err != nil || !bytes.Equal(remote.Bytes(), local) {
		t.Fatalf("the S3 object differs from the .dat (%d bytes, %v)", remote.Len(), err)
	}
	waitRemoteOnMaster(t, weed, master.Addr(), vid)
	// the status page lists the volume under Remote Volumes, with its key
	if got, page := uiSections(t, vs.Addr()); strings.Join(got, "|") != "Disk Stats|System Stats|Volumes|Remote Volumes" || !strings.Contains(page, key) {
		t.Fatalf("status page sections %q; key %s shown: %v", got, key, strings.Contains(page, key))
	}
	// a tiered single-copy volume takes deletes (index rows only)
	var deleted []string
	deleteOne := func(what string) {
		t.Helper()
		f := files[len(files)-1]
		if err := weedproc.Delete(vs.Addr(), f.fid); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		files, deleted = files[:len(files)-1], append(deleted, f.fid)
	}
	checkDeleted := func(what string) {
		t.Helper()
		for _, fid := range deleted {
			if code, _, _, err := weedproc.Get(vs.Addr(), fid); err != nil || code != http.StatusNotFound {
				t.Fatalf("%s: deleted %s answered %d (%v)", what, fid, code, err)
			}
		}
	}
	deleteOne("delete right after the upload")
	checkDeleted("after a delete while remote")

	vs.Stop()
	if vs, err = weedproc.StartVolume(bin, dir, logs, master.Addr(), "-max=10"); err != nil {
		t.Fatal(err)
	}
	checkEventually(t, vs.Addr(), files, "after a restart while remote")
	checkDeleted("after a restart while remote")
	waitRemoteOnMaster(t, weed, master.Addr(), vid)
	deleteOne("delete after a restart while remote")
	checkDeleted("after a second delete while remote")

	stop = tierReaders(t, vs.Addr(), files, true)
	shell(t, weed, master.Addr(), "volume.tier.download -collection="+collection)
	t.Logf("%d reads during the download", stop())
	check("after the download")
	checkDeleted("after the download")
	got, err := os.ReadFile(base + ".dat")
	if err != nil || !bytes.Equal(got, local) {
		t.Fatalf("downloaded .dat differs from the uploaded one (%d bytes, %v)", len(got), err)
	}
	raw2, _ := os.ReadFile(base + ".vif")
	if bytes.Contains(raw2, []byte(key)) {
		t.Fatalf(".vif still names the remote file: %s", raw2)
	}
	if _, err := srv.Client(t).StatObject(context.Background(), bucket, key, minio.StatObjectOptions{}); err == nil {
		t.Fatalf("S3 object %s still there after the download", key)
	}
	vs.Stop()
	if vs, err = weedproc.StartVolume(bin, dir, logs, master.Addr(), "-max=10"); err != nil {
		t.Fatal(err)
	}
	checkEventually(t, vs.Addr(), files, "after a restart once local again")
	checkDeleted("after a restart once local again")
	return vifJSON
}

// tierReaders reads every file over and over from addr until the returned
// stop is called, failing the test on any answer that is not the file
// byte for byte; stop returns the count of reads. With unmounts, a 404 is
// allowed too: volume.tier.download unmounts and mounts the volume once
// the download is done (upstream's shell), and an unmounted volume is
// not found, on weed volume as on weedvol.
func tierReaders(t *testing.T, addr string, files []tierFile, unmounts bool) (stop func() int64) {
	var wg sync.WaitGroup
	var reads atomic.Int64
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			for _, f := range files {
				select {
				case <-done:
					return
				default:
				}
				code, body, _, err := weedproc.Get(addr, f.fid)
				if unmounts && err == nil && code == http.StatusNotFound {
					continue
				}
				if err != nil || code != http.StatusOK || !bytes.Equal(body, f.data) {
					t.Errorf("read %s during a move: %d, %d bytes, %v", f.fid, code, len(body), err)
					return
				}
				reads.Add(1)
			}
		}
	}()
	return func() int64 { close(done); wg.Wait(); return reads.Load() }
}

// checkEventually waits for every file to read back byte-identical (a
// restarted server may answer before the master announced the backends).
func checkEventually(t *testing.T, addr string, files []tierFile, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, f := range files {
		for {
			code, body, _, err := weedproc.Get(addr, f.fid)
			if err == nil && code == http.StatusOK && bytes.Equal(body, f.data) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s answered %d with %d bytes (%v), want %d", what, f.fid, code, len(body), err, len(f.data))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// waitMasterSize waits until the master's topology gives volume vid a
// size other than 0.
func waitMasterSize(t *testing.T, weed, master, vid string) {
	t.Helper()
	re := regexp.MustCompile(`\bId:` + vid + `, Size:(\d+)`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		out := shell(t, weed, master, "volume.list")
		if m := re.FindStringSubmatch(out); m != nil && m[1] != "0" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("master never gave volume %s a size:\n%s", vid, out)
		}
		time.Sleep(time.Second)
	}
}

// waitRemoteOnMaster waits until the master's topology lists volume vid
// with its remote storage (as volume.list prints it).
func waitRemoteOnMaster(t *testing.T, weed, master, vid string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := shell(t, weed, master, "volume.list")
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "Id:"+vid+",") && strings.Contains(line, "s3.default") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("master never listed volume %s as remote:\n%s", vid, out)
		}
		time.Sleep(time.Second)
	}
}

// uiSections fetches the status page of the volume server at addr and
// returns its section headings, in order, and the page.
func uiSections(t *testing.T, addr string) ([]string, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/ui/index.html")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status page: %s, %v", resp.Status, err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`<h2>\s*([^<]*?)\s*</h2>`).FindAllStringSubmatch(b.String(), -1) {
		out = append(out, m[1])
	}
	return out, b.String()
}
