package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/internal/weedproc"
	"github.com/weedvol/weedvol/wlog"
)

// startAlone runs weedvol without a master (it keeps trying to reach one)
// with the given security.toml text and environment, and returns it with a
// gRPC client.
func startAlone(t *testing.T, bin, securityToml string, env ...string) (*weedproc.Process, volume_server_pb.VolumeServerClient) {
	t.Helper()
	dir := t.TempDir()
	sec := filepath.Join(dir, "security.toml")
	os.WriteFile(sec, []byte(securityToml), 0o600)
	port, err := weedproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	// weedproc.Start inherits the environment; add env for this process
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	p, err := weedproc.Start("weedvol", bin, filepath.Join(dir, "weedvol.log"), port, "volume", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-port="+strconv.Itoa(port), "-dir="+filepath.Join(dir, "data"), "-mserver=127.0.0.1:1", "-preStopSeconds=0", "-securityFile="+sec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	if err := p.WaitHTTP("/status", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(port+10000), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return p, volume_server_pb.NewVolumeServerClient(conn)
}

func httpDo(t *testing.T, method, url string, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSecurityTomlApplied: the guard white list of security.toml and the
// WEED_* environment act on a real weedvol process, as on upstream's.
func TestSecurityTomlApplied(t *testing.T) {
	bin := buildWeedvol(t, t.TempDir())

	t.Run("guard.white_list refuses writes and admin RPCs", func(t *testing.T) {
		p, g := startAlone(t, bin, "[guard]\nwhite_list = \"127.0.0.2\"\n")
		_, err := g.AllocateVolume(shortCtx(t), &volume_server_pb.AllocateVolumeRequest{VolumeId: 3})
		if status.Code(err) != codes.PermissionDenied {
			t.Fatalf("AllocateVolume from 127.0.0.1: %v, want PermissionDenied", err)
		}
		if _, err := g.BatchDelete(shortCtx(t), &volume_server_pb.BatchDeleteRequest{FileIds: []string{"3,01637037d6"}}); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("BatchDelete: %v, want PermissionDenied", err)
		}
		if code := httpDo(t, "DELETE", "http://"+p.Addr()+"/3,01637037d6", nil); code != http.StatusUnauthorized {
			t.Fatalf("DELETE from 127.0.0.1: %d, want 401", code)
		}
		if code := httpDo(t, "PUT", "http://"+p.Addr()+"/3,01637037d6", []byte("x")); code != http.StatusUnauthorized {
			t.Fatalf("PUT from 127.0.0.1: %d, want 401", code)
		}
	})

	t.Run("a CIDR entry lets its range in", func(t *testing.T) {
		p, g := startAlone(t, bin, "[guard]\nwhite_list = \"127.0.0.0/30\"\n")
		if _, err := g.AllocateVolume(shortCtx(t), &volume_server_pb.AllocateVolumeRequest{VolumeId: 3}); err != nil {
			t.Fatal(err)
		}
		if code := httpDo(t, "PUT", "http://"+p.Addr()+"/3,01637037d6", []byte("x")); code != http.StatusCreated {
			t.Fatalf("PUT: %d", code)
		}
		if code := httpDo(t, "DELETE", "http://"+p.Addr()+"/3,01637037d6", nil); code != http.StatusAccepted {
			t.Fatalf("DELETE: %d", code)
		}
	})

	t.Run("WEED_JWT_SIGNING_KEY alone requires signed writes", func(t *testing.T) {
		p, g := startAlone(t, bin, "", "WEED_JWT_SIGNING_KEY=secret")
		if _, err := g.AllocateVolume(shortCtx(t), &volume_server_pb.AllocateVolumeRequest{VolumeId: 3}); err != nil {
			t.Fatal(err)
		}
		if code := httpDo(t, "PUT", "http://"+p.Addr()+"/3,01637037d6", []byte("x")); code != http.StatusUnauthorized {
			t.Fatalf("an unsigned PUT with WEED_JWT_SIGNING_KEY set: %d, want 401", code)
		}
	})

	t.Run("a TLS setting that cannot be honoured stops start-up", func(t *testing.T) {
		dir := t.TempDir()
		sec := filepath.Join(dir, "security.toml")
		os.WriteFile(sec, []byte("[grpc.volume]\ncert = \"/nonexistent/volume.crt\"\nkey = \"/nonexistent/volume.key\"\n"), 0o600)
		out, err := exec.Command(bin, "volume", "-ip=127.0.0.1", "-port=1", "-dir="+dir, "-securityFile="+sec).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "grpc") {
			t.Fatalf("weedvol started (or failed without naming the setting): %v\n%s", err, out)
		}
	})
}

func TestBoundedLog(t *testing.T) {
	var b bytes.Buffer
	h, err := wlog.New(wlog.Options{ToStderr: true, Stderr: &b})
	if err != nil {
		t.Fatal(err)
	}
	defer wlog.SetDefault(wlog.SetDefault(h))
	wlog.Infof("volume %s", strings.Repeat("x", 1<<20))
	if b.Len() > wlog.MaxLine+100 || !strings.Contains(b.String(), "more bytes") {
		t.Fatalf("a 1 MB argument made a %d byte log line", b.Len())
	}
}
