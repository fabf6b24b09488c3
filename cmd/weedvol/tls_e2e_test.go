package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"

	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/weedvol/weedvol/internal/testcerts"
	"github.com/weedvol/weedvol/internal/weedproc"
)

// tlsCluster is a master, a filer and two weedvol nodes sharing one
// security.toml that turns on mutual TLS for gRPC and HTTPS with client
// certificates for the volume servers' admin ports.
type tlsCluster struct {
	weed, weedvol, confDir  string
	master, filer           *weedproc.Process
	vols                    []*weedproc.Process
	client                  *http.Client // HTTPS with a client certificate
	clientCert              tls.Certificate
	caPool                  *x509.CertPool
	shellCert, shellKey, ca string
}

// writeTLSConfig makes the CA and certificates and the security.toml.
func writeTLSConfig(t *testing.T, dir string) *tlsCluster {
	t.Helper()
	ca, err := testcerts.NewCA(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	issue := func(name string) (string, string) {
		c, k, err := ca.Issue(name, name)
		if err != nil {
			t.Fatal(err)
		}
		return c, k
	}
	mc, mk := issue("master")
	vc, vk := issue("volume")
	fc, fk := issue("filer")
	cc, ck := issue("client")
	conf := fmt.Sprintf(`[jwt.signing]
key = "tls-cluster-secret"

[grpc]
ca = %[1]q

[grpc.master]
cert = %[2]q
key = %[3]q

[grpc.volume]
cert = %[4]q
key = %[5]q

[grpc.filer]
cert = %[6]q
key = %[7]q

[grpc.client]
cert = %[8]q
key = %[9]q

[https.volume]
cert = %[4]q
key = %[5]q
ca = %[1]q

[https.client]
enabled = true
cert = %[8]q
key = %[9]q
ca = %[1]q
`, ca.CertFile, mc, mk, vc, vk, fc, fk, cc, ck)
	if err := os.WriteFile(filepath.Join(dir, "security.toml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(cc, ck)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(ca.CertFile)
	pool.AppendCertsFromPEM(pem)
	c := &tlsCluster{confDir: dir, clientCert: pair, caPool: pool, shellCert: cc, shellKey: ck, ca: ca.CertFile}
	c.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}}}
	return c
}

// waitHTTPS polls url until it answers 200.
func waitHTTPS(c *http.Client, p *weedproc.Process, url string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if p.Exited() {
			return fmt.Errorf("%s exited (log %s)", p.Name, p.LogPath())
		}
		if resp, err := c.Get(url); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready at %s (log %s)", p.Name, url, p.LogPath())
}

// waitListed polls the master until its topology lists want.
func waitListed(master, want string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + master + "/dir/status"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), want) {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("master %s never listed %s", master, want)
}

func (c *tlsCluster) shell(t *testing.T, commands string) string {
	t.Helper()
	cmd := exec.Command(c.weed, "-config_dir="+c.confDir, "shell", "-master="+c.master.Addr())
	cmd.Stdin = strings.NewReader("lock\n" + commands + "\nunlock\nexit\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("weed shell %q: %v\n%s", commands, err, out)
	}
	return string(out)
}

// TestTLSCluster: a master, a filer, weed shell and two weedvol nodes, all
// configured by one security.toml with mutual TLS on gRPC and HTTPS with
// client certificates on the volume servers, register, take uploads through
// the filer and weed upload, serve downloads, vacuum and move a volume; and
// plaintext or certificate-less clients are refused.
func TestTLSCluster(t *testing.T) {
	weed := weedproc.TestBinary(t, "WEED_BINARY", "weed")
	root := t.TempDir()
	confDir := filepath.Join(root, "conf")
	os.MkdirAll(confDir, 0o755)
	c := writeTLSConfig(t, confDir)
	c.weed, c.weedvol = weed, buildWeedvol(t, root)

	mport, err := weedproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	mdir := filepath.Join(root, "m")
	os.MkdirAll(mdir, 0o755)
	c.master, err = weedproc.Start("master", weed, filepath.Join(root, "master.log"), mport, "-config_dir="+c.confDir, "master",
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-port="+strconv.Itoa(mport), "-mdir="+mdir, "-peers=none",
		"-defaultReplication=000", "-volumeSizeLimitMB=64", "-telemetry=false")
	if err != nil {
		t.Fatal(err)
	}
	defer c.master.Stop()
	if err := c.master.WaitHTTP("/cluster/status", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		port, err := weedproc.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(root, fmt.Sprintf("v%d", i))
		os.MkdirAll(dir, 0o755)
		v, err := weedproc.Start(fmt.Sprintf("weedvol%d", i), c.weedvol, filepath.Join(root, fmt.Sprintf("weedvol%d.log", i)), port,
			"-config_dir="+c.confDir, "volume", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-port="+strconv.Itoa(port),
			"-dir="+dir, "-max=8", "-mserver="+c.master.Addr(), "-preStopSeconds=0", "-volume.allowUntrustedRemoteEndpoints")
		if err != nil {
			t.Fatal(err)
		}
		defer v.Stop()
		if err := waitHTTPS(c.client, v, "https://"+v.Addr()+"/status"); err != nil {
			t.Fatal(err)
		}
		if err := waitListed(c.master.Addr(), v.Addr()); err != nil {
			t.Fatalf("%v (weedvol log %s)", err, v.LogPath())
		}
		c.vols = append(c.vols, v)
	}

	t.Run("refuses plaintext and clients without certificates", func(t *testing.T) {
		v := c.vols[0]
		if resp, err := http.Get("http://" + v.Addr() + "/status"); err == nil && resp.StatusCode == 200 {
			t.Fatal("the admin port answered plain HTTP")
		}
		noCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.caPool}}}
		if resp, err := noCert.Get("https://" + v.Addr() + "/status"); err == nil {
			resp.Body.Close()
			t.Fatal("HTTPS without a client certificate was served")
		}
		grpcAddr := "127.0.0.1:" + strconv.Itoa(v.Port+10000)
		plain, _ := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		defer plain.Close()
		if _, err := volume_server_pb.NewVolumeServerClient(plain).VolumeServerStatus(shortCtx(t), &volume_server_pb.VolumeServerStatusRequest{}); err == nil {
			t.Fatal("plaintext gRPC was served")
		}
		withCert, _ := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
			RootCAs: c.caPool, Certificates: []tls.Certificate{c.clientCert}, ServerName: "localhost"})))
		defer withCert.Close()
		if _, err := volume_server_pb.NewVolumeServerClient(withCert).VolumeServerStatus(shortCtx(t), &volume_server_pb.VolumeServerStatusRequest{}); err != nil {
			t.Fatalf("mutual TLS gRPC with a CA-signed certificate: %v", err)
		}
	})

	// the filer writes to the volume servers over HTTPS with its client
	// certificate and talks gRPC to the master with mutual TLS
	fport, _ := weedproc.FreePort()
	fdir := filepath.Join(root, "f")
	os.MkdirAll(fdir, 0o755)
	c.filer, err = weedproc.Start("filer", weed, filepath.Join(root, "filer.log"), fport, "-config_dir="+c.confDir, "filer",
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-port="+strconv.Itoa(fport), "-master="+c.master.Addr(),
		"-defaultStoreDir="+fdir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.filer.Stop()
	if err := c.filer.WaitHTTP("/", 60*time.Second); err != nil {
		t.Fatal(err)
	}

	payload := bytes.Repeat([]byte("over mutual TLS\n"), 4000)
	filerURL := "http://" + c.filer.Addr() + "/tls/file.txt"
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, _ := mw.CreateFormFile("file", "file.txt")
	part.Write(payload)
	mw.Close()
	resp, err := http.Post(filerURL, mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("filer upload: %d %s (filer log %s)", resp.StatusCode, msg, c.filer.LogPath())
	}
	readBack := func(what string) {
		t.Helper()
		resp, err := http.Get(filerURL)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(got, payload) {
			t.Fatalf("%s: filer read %d, %d bytes (filer log %s)", what, resp.StatusCode, len(got), c.filer.LogPath())
		}
	}
	readBack("after the upload")

	// weed upload: master assignment over gRPC, the volume over HTTPS
	src := filepath.Join(root, "upload.bin")
	os.WriteFile(src, bytes.Repeat([]byte{7, 9}, 30000), 0o644)
	out, err := exec.Command(weed, "-config_dir="+c.confDir, "upload", "-master="+c.master.Addr(), src).CombinedOutput()
	if err != nil {
		t.Fatalf("weed upload: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`"fid":"(([0-9]+),[0-9a-f]+)"`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no fid in %s", out)
	}
	fid, vid := string(m[1]), string(m[2])
	// every node answers 200 (one proxies to the other): the holder is the
	// one whose /status lists the volume
	holder := ""
	for _, v := range c.vols {
		resp, err := c.client.Get("https://" + v.Addr() + "/" + fid)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s serves %s over HTTPS with %d", v.Addr(), fid, resp.StatusCode)
		}
		resp, err = c.client.Get("https://" + v.Addr() + "/status")
		if err != nil {
			t.Fatal(err)
		}
		var st struct{ Volumes []struct{ Id uint32 } }
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s/status: %v", v.Addr(), err)
		}
		for _, vol := range st.Volumes {
			if strconv.FormatUint(uint64(vol.Id), 10) == vid {
				holder = v.Addr()
			}
		}
	}
	if holder == "" {
		t.Fatalf("no weedvol node lists volume %s in /status", vid)
	}

	// delete some, vacuum through the master, then move the volume to the
	// other node (VolumeCopy between weedvol nodes over mutual TLS)
	deleted := 0
	for i := 0; i < 80 && deleted < 3; i++ {
		out, err := exec.Command(weed, "-config_dir="+c.confDir, "upload", "-master="+c.master.Addr(), src).CombinedOutput()
		if err != nil {
			t.Fatalf("weed upload: %v\n%s", err, out)
		}
		if m := regexp.MustCompile(`"fid":"(` + vid + `,[0-9a-f]+)"`).FindSubmatch(out); m != nil {
			req, _ := http.NewRequest(http.MethodDelete, "https://"+holder+"/"+string(m[1]), nil)
			// writes need the master's JWT: ask for one as a client would
			token := assignToken(t, c.master.Addr(), string(m[1]))
			if token == "" {
				t.Fatal("the master gave no write token")
			}
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := c.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("delete %s with the master's token: %d", m[1], resp.StatusCode)
			}
			deleted++
		}
	}
	if deleted == 0 {
		t.Fatal("no upload landed in the volume to vacuum")
	}
	t.Logf("deleted %d needles of volume %s", deleted, vid)
	datSize := func() int64 {
		for i, v := range c.vols {
			if v.Addr() == holder {
				st, err := os.Stat(filepath.Join(root, fmt.Sprintf("v%d", i), vid+".dat"))
				if err == nil {
					return st.Size()
				}
			}
		}
		return -1
	}
	before := datSize()
	out1 := c.shell(t, "volume.vacuum -garbageThreshold 0.0001 -volumeId "+vid)
	if after := datSize(); after <= 0 || after >= before {
		t.Fatalf("vacuum over mutual TLS did not compact volume %s: .dat %d -> %d bytes\n%s", vid, before, after, out1)
	}
	target := c.vols[0].Addr()
	if target == holder {
		target = c.vols[1].Addr()
	}
	out2 := c.shell(t, "volume.move -source "+holder+" -target "+target+" -volumeId "+vid)
	t.Logf("move: %s", out2)
	resp, err = c.client.Get("https://" + target + "/" + fid)
	if err != nil {
		t.Fatalf("%v\nvacuum: %s\nmove: %s", err, out1, out2)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, bytes.Repeat([]byte{7, 9}, 30000)) {
		t.Fatalf("after volume.move the target answers %d with %d bytes\nvacuum: %s\nmove: %s", resp.StatusCode, len(got), out1, out2)
	}
	readBack("after vacuum and move")
}

// assignToken asks the master for a write token of fid, as weed's clients
// do: /dir/lookup with a fileId answers with it in Authorization.
func assignToken(t *testing.T, master, fid string) string {
	t.Helper()
	resp, err := http.Get("http://" + master + "/dir/lookup?fileId=" + fid)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return strings.TrimPrefix(resp.Header.Get("Authorization"), "Bearer ")
}

func shortCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
