package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weedvol/weedvol/internal/weedproc"
)

// ecNode is one volume server of the EC cluster test.
type ecNode struct {
	bin, dir string
	p        *weedproc.Process
}

// TestEcClusterWithShell runs weed shell's erasure-coding commands on a
// cluster of three volume servers (weedvol only, and upstream mixed with
// weedvol) under the real master: ec.encode of a volume, reads of every
// needle from every node, deletes, the loss of one node's shards and
// ec.rebuild, ec.balance, ec.decode; afterwards every remaining needle is
// byte-identical and the deleted ones stay 404.
func TestEcClusterWithShell(t *testing.T) {
	weed := weedproc.TestBinary(t, "WEED_BINARY", "weed")
	root := t.TempDir()
	weedvol := buildWeedvol(t, root)
	for _, mix := range []struct {
		name string
		bins [3]string
	}{
		{"weedvol", [3]string{weedvol, weedvol, weedvol}},
		{"mixed", [3]string{weed, weedvol, weedvol}},
	} {
		t.Run(mix.name, func(t *testing.T) { runEcCluster(t, weed, mix.bins) })
	}
}

func runEcCluster(t *testing.T, weed string, bins [3]string) {
	root := t.TempDir()
	mdir := filepath.Join(root, "m")
	os.MkdirAll(mdir, 0o755)
	master, err := weedproc.StartMaster(weed, mdir, "-volumeSizeLimitMB=64")
	if err != nil {
		t.Fatal(err)
	}
	defer master.Stop()
	nodes := make([]*ecNode, 3)
	for i, bin := range bins {
		dir := filepath.Join(root, "v"+strconv.Itoa(i))
		os.MkdirAll(dir, 0o755)
		logs := filepath.Join(root, "log"+strconv.Itoa(i))
		os.MkdirAll(logs, 0o755)
		p, err := weedproc.StartVolume(bin, dir, logs, master.Addr(), "-max=10", "-volume.allowUntrustedRemoteEndpoints")
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = &ecNode{bin: bin, dir: dir, p: p}
		defer func() { nodes[i].p.Stop() }()
	}

	type file struct {
		fid  string
		data []byte
	}
	var files []file
	var vid string
	for i := 0; len(files) < 40; i++ {
		if i > 400 {
			t.Fatal("the master never assigned 40 fids on one volume")
		}
		a, onVolume, err := weedproc.AssignToVolume(master.Addr(), "", &vid)
		if err != nil {
			t.Fatal(err)
		}
		if !onVolume {
			continue
		}
		data := make([]byte, 1+(len(files)*len(files)*977)%300000)
		rand.Read(data)
		if err := weedproc.Upload(a.URL, a.Fid, "f.bin", "application/octet-stream", data); err != nil {
			t.Fatal(err)
		}
		files = append(files, file{a.Fid, data})
	}
	deleted := map[string]bool{}
	check := func(what string, skip ...*ecNode) {
		t.Helper()
		for _, n := range nodes {
			if slices.Contains(skip, n) {
				continue
			}
			for _, f := range files {
				code, body, _, err := getRetry(n.p.Addr(), f.fid)
				if err != nil {
					t.Fatalf("%s: GET %s from %s: %v", what, f.fid, n.p.Addr(), err)
				}
				if deleted[f.fid] {
					if code != http.StatusNotFound {
						for i, m := range nodes {
							ecj, _ := filepath.Glob(filepath.Join(m.dir, "*.ecj"))
							for _, j := range ecj {
								b, _ := os.ReadFile(j)
								t.Logf("node %d %s: .ecj %x", i, m.p.Addr(), b)
							}
							sh, _ := filepath.Glob(filepath.Join(m.dir, "*.ec[0-9][0-9]"))
							t.Logf("node %d shards %v", i, sh)
						}
						t.Fatalf("%s: deleted %s answered %d on %s", what, f.fid, code, n.p.Addr())
					}
					continue
				}
				if code != http.StatusOK || !bytes.Equal(body, f.data) {
					t.Fatalf("%s: %s on %s answered %d with %d bytes, want %d\n%s", what, f.fid, n.p.Addr(), code, len(body), len(f.data), body[:min(len(body), 200)])
				}
			}
		}
	}

	shell(t, weed, master.Addr(), "ec.encode -volumeId="+vid+" -force")
	waitEcShards(t, master.Addr(), vid, 14)
	check("after ec.encode")

	// Deletes go through the weedvol nodes: weedvol records an EC delete on
	// every node holding shards of the volume, so it survives the loss of
	// one node below; upstream's reaches only the holders of the needle's
	// first shard, and is lost with them (the same in an upstream-only
	// cluster).
	var deleters []*ecNode
	for _, n := range nodes {
		if n.bin != weed {
			deleters = append(deleters, n)
		}
	}
	for i := 0; i < len(files); i += 5 {
		req, _ := http.NewRequest(http.MethodDelete, "http://"+deleters[i%len(deleters)].p.Addr()+"/"+files[i].fid, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("DELETE %s: %d", files[i].fid, resp.StatusCode)
		}
		deleted[files[i].fid] = true
	}
	check("after deletes")

	// the node with the fewest shards (at most 4, the parity count, so
	// the volume stays repairable) loses them: stopped, files removed,
	// restarted
	var lost *ecNode
	var shards []string
	for _, n := range nodes {
		sh, _ := filepath.Glob(filepath.Join(n.dir, "*.ec[0-9][0-9]"))
		if len(sh) > 0 && (lost == nil || len(sh) < len(shards)) {
			lost, shards = n, sh
		}
	}
	if lost == nil || len(shards) > 4 {
		t.Fatalf("no node holds 1 to 4 shards after ec.encode's balancing (fewest: %d)", len(shards))
	}
	if err := lost.p.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, s := range shards {
		os.Remove(s)
	}
	logs := filepath.Join(root, "log2b")
	os.MkdirAll(logs, 0o755)
	if lost.p, err = weedproc.StartVolume(lost.bin, lost.dir, logs, master.Addr(), "-max=10", "-volume.allowUntrustedRemoteEndpoints"); err != nil {
		t.Fatal(err)
	}
	waitEcShards(t, master.Addr(), vid, 14-len(shards))
	shell(t, weed, master.Addr(), "ec.rebuild -apply")
	waitEcShards(t, master.Addr(), vid, 14)
	check("after ec.rebuild")

	shell(t, weed, master.Addr(), "ec.balance -apply")
	waitEcShards(t, master.Addr(), vid, 14)
	check("after ec.balance")

	shell(t, weed, master.Addr(), "ec.decode -volumeId="+vid)
	// An upstream node that proxied reads for the volume while it was EC
	// keeps the master's old answer for 10 minutes (its lookup cache) and
	// proxies to nodes that no longer hold it; the weedvol nodes, and the
	// node the master now names, must serve every needle.
	var proxiers []*ecNode
	for _, n := range nodes {
		if n.bin == weed && !holdsVolume(n, vid) {
			proxiers = append(proxiers, n)
		}
	}
	check("after ec.decode", proxiers...)
}

// holdsVolume reports whether node n has the .dat of volume vid.
func holdsVolume(n *ecNode, vid string) bool {
	_, err := os.Stat(filepath.Join(n.dir, vid+".dat"))
	return err == nil
}

// shell runs weed shell commands under the cluster lock.
func shell(t *testing.T, weed, master, commands string) string {
	t.Helper()
	cmd := exec.Command(weed, "shell", "-master="+master)
	cmd.Stdin = strings.NewReader("lock\n" + commands + "\nunlock\nexit\n")
	out, err := cmd.CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("error:")) {
		t.Fatalf("weed shell %q: %v\n%s", commands, err, out)
	}
	t.Logf("weed shell %q:\n%s", commands, out)
	return string(out)
}

// waitEcShards waits until the master counts want shards of volume vid.
func waitEcShards(t *testing.T, master, vid string, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	got := -1
	for time.Now().Before(deadline) {
		if got = masterEcShards(master, vid); got == want {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("master counts %d shards of volume %s, want %d", got, vid, want)
}

// masterEcShards sums the EC shard counts of the data nodes in the
// master's /dir/status (the test's cluster holds one EC volume).
func masterEcShards(master, vid string) int {
	resp, err := http.Get("http://" + master + "/dir/status")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var top any
	if err := json.NewDecoder(resp.Body).Decode(&top); err != nil {
		return -1
	}
	return sumField(top, "EcShards")
}

// sumField adds up every numeric field named key in decoded JSON.
func sumField(v any, key string) int {
	total := 0
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if f, ok := c.(float64); ok && k == key {
				total += int(f)
				continue
			}
			total += sumField(c, key)
		}
	case []any:
		for _, c := range x {
			total += sumField(c, key)
		}
	}
	return total
}

// getRetry GETs fid, retrying on 5xx while shard locations settle. The
// budget (15 s) is longer than upstream's shortest EC location cache
// lifetime (11 s): an upstream node whose cached locations predate an
// ec.rebuild or ec.balance answers 500 ("cannot recover shard") until a
// failed read has shrunk its cache below the data shard count and the
// 11 s lifetime has run out; CI caught one doing so for 5 s.
func getRetry(addr, fid string) (int, []byte, http.Header, error) {
	var code int
	var body []byte
	var h http.Header
	var err error
	for i := 0; i < 60; i++ {
		code, body, h, err = weedproc.Get(addr, fid)
		if err == nil && code < 500 {
			return code, body, h, nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err == nil && code >= 500 {
		err = fmt.Errorf("status %d: %s", code, body)
	}
	return code, body, h, err
}
