package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/weedvol/weedvol/internal/weedproc"
)

// glogLine is upstream's log line: Lmmdd hh:mm:ss.uuuuuu file:line msg.
var glogLine = regexp.MustCompile(`^[IWE]\d{4} \d\d:\d\d:\d\d\.\d{6} [^ :]+\.go:\d+ `)

// logLines reads the file the program.SEVERITY symlink in dir points at,
// checking its header and that every line after it is a glog line.
func logLines(t *testing.T, dir, program, severity string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, program+"."+severity))
	if err != nil {
		t.Fatalf("%s log: %v", severity, err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) < 4 || !strings.HasPrefix(lines[0], "Log file created at: ") {
		t.Fatalf("%s log has no glog header: %q", severity, lines)
	}
	for _, l := range lines[4:] {
		if !glogLine.MatchString(l) {
			t.Fatalf("%s log: %q is not a glog line", severity, l)
		}
	}
	return lines[4:]
}

func withText(lines []string, text string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, text) {
			out = append(out, l)
		}
	}
	return out
}

// TestLogs runs the weedvol binary with -logdir against the real upstream
// master: at -v=0 it logs volume creation, one ERROR line (with the
// answer's request id) for an HTTP 500 and for a gRPC Unknown answer, and
// a normal stop without upstream's V(1) "stops and deletes all volumes";
// at -v=1, installed as `weed`, it writes weed.* files and that line.
func TestLogs(t *testing.T) {
	weed := weedproc.TestBinary(t, "WEED_BINARY", "weed")
	root := t.TempDir()
	weedvol := buildWeedvol(t, root)
	mdir, vdir, logdir := filepath.Join(root, "m"), filepath.Join(root, "v"), filepath.Join(root, "logs")
	for _, d := range []string{mdir, vdir, logdir} {
		os.MkdirAll(d, 0o755)
	}
	master, err := weedproc.StartMaster(weed, mdir, "-volumeSizeLimitMB=100")
	if err != nil {
		t.Fatal(err)
	}
	defer master.Stop()
	vol, err := weedproc.StartVolume(weedvol, vdir, root, master.Addr(), "-logdir="+logdir, "-v=0")
	if err != nil {
		t.Fatal(err)
	}
	defer vol.Stop()

	a, err := weedproc.Assign(master.Addr(), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := weedproc.Upload(vol.Addr(), a.Fid, "a.txt", "text/plain", []byte("hello logs")); err != nil {
		t.Fatal(err)
	}
	vid := a.Fid[:strings.IndexByte(a.Fid, ',')]
	if got := withText(logLines(t, logdir, "weedvol", "INFO"), "adds volume:"+vid+" "); len(got) != 1 {
		t.Errorf("volume %s creation logged %d times at -v=0: %q", vid, len(got), got)
	}

	t.Run("an HTTP 500 is one ERROR line with its request id", func(t *testing.T) {
		// the needle's bytes vanish under the server: its read fails
		if err := os.Truncate(filepath.Join(vdir, vid+".dat"), 8); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get("http://" + vol.Addr() + "/" + a.Fid)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		id := resp.Header.Get("x-amz-request-id")
		if resp.StatusCode != http.StatusInternalServerError || !regexp.MustCompile(`^[0-9A-F]{20,}$`).MatchString(id) {
			t.Fatalf("GET of a needle past the end of its .dat: %d, request id %q; want a 500 with an id", resp.StatusCode, id)
		}
		info := withText(logLines(t, logdir, "weedvol", "INFO"), id)
		if len(info) != 1 || info[0][0] != 'E' || !strings.Contains(info[0], "httpStatus:500") {
			t.Fatalf("lines with request id %s: %q, want one ERROR line", id, info)
		}
		t.Log(info[0])
		if errs := withText(logLines(t, logdir, "weedvol", "ERROR"), id); len(errs) != 1 {
			t.Fatalf("ERROR log lines with %s: %q", id, errs)
		}
	})

	t.Run("a gRPC Unknown answer is one ERROR line with the caller's request id", func(t *testing.T) {
		conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(vol.Port+10000), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		const id = "weedvol-logs-test-7f3a"
		ctx = metadata.AppendToOutgoingContext(ctx, "x-amz-request-id", id)
		var trailer metadata.MD
		_, err = volume_server_pb.NewVolumeServerClient(conn).VolumeMount(ctx, &volume_server_pb.VolumeMountRequest{VolumeId: 4242}, grpc.Trailer(&trailer))
		if err == nil {
			t.Fatal("mounting a volume that has no files succeeded")
		}
		if got := trailer.Get("x-amz-request-id"); len(got) != 1 || got[0] != id {
			t.Errorf("trailer request id %q, want %q", got, id)
		}
		lines := withText(logLines(t, logdir, "weedvol", "INFO"), "request_id:"+id)
		if len(lines) != 1 || lines[0][0] != 'E' || !strings.Contains(lines[0], "VolumeMount") {
			t.Fatalf("lines with request id %s: %q, want one ERROR line", id, lines)
		}
		t.Log(lines[0])
	})

	if err := vol.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := withText(logLines(t, logdir, "weedvol", "INFO"), "stops and deletes all volumes"); len(got) != 0 {
		t.Errorf("a normal stop at -v=0 logged %q (upstream: V(1))", got)
	}
	if got := withText(logLines(t, logdir, "weedvol", "INFO"), "weedvol: stopping"); len(got) != 1 {
		t.Errorf("the stop was not logged: %q", got)
	}
	stderr, _ := os.ReadFile(filepath.Join(root, "volume.log"))
	if !strings.Contains(string(stderr), "httpStatus:500") {
		t.Errorf("stderr (-alsologtostderr defaults to true) lacks the error line:\n%s", stderr)
	}

	// installed as weed, at -v=1
	weedDir, logdir1, vdir1 := filepath.Join(root, "bin"), filepath.Join(root, "logs1"), filepath.Join(root, "v1")
	for _, d := range []string{weedDir, logdir1, vdir1} {
		os.MkdirAll(d, 0o755)
	}
	asWeed := filepath.Join(weedDir, "weed")
	if err := os.Link(weedvol, asWeed); err != nil {
		t.Fatal(err)
	}
	vol1, err := weedproc.StartVolume(asWeed, vdir1, weedDir, master.Addr(), "-logdir="+logdir1, "-v=1")
	if err != nil {
		t.Fatal(err)
	}
	if err := vol1.Stop(); err != nil {
		t.Fatal(err)
	}
	want := "volume server 127.0.0.1:" + strconv.Itoa(vol1.Port) + " stops and deletes all volumes"
	if got := withText(logLines(t, logdir1, "weed", "INFO"), want); len(got) != 1 {
		t.Errorf("a normal stop at -v=1 logged %q, want one %q line", got, want)
	}
	if _, err := os.Lstat(filepath.Join(logdir1, "weedvol.INFO")); err == nil {
		t.Error("installed as weed, it still wrote weedvol.* files")
	}
}
