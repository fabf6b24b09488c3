package grpcsvc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"

	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/internal/weedproc"
)

// weedBinary returns the upstream binary, skipping the test when it is not
// built (and failing under CI, where it must be).
func weedBinary(t *testing.T) string {
	t.Helper()
	return weedproc.TestBinary(t, "WEED_BINARY", "weed")
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually polls cond every 100ms for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			t.Logf("%s after %v", what, d-time.Until(deadline))
			return
		}
		last = state
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v; last seen: %s", what, d, last)
}

// lookupURLs asks the master's HTTP API where volume vid is.
func lookupURLs(t *testing.T, master string, vid uint32) ([]string, string) {
	_, body := httpGet(t, fmt.Sprintf("http://%s/dir/lookup?volumeId=%d", master, vid))
	var r struct {
		Locations []struct {
			URL string `json:"url"`
		} `json:"locations"`
		Error string `json:"error"`
	}
	_ = json.Unmarshal([]byte(body), &r)
	var urls []string
	for _, l := range r.Locations {
		urls = append(urls, l.URL)
	}
	return urls, body
}

func TestHeartbeatWithUpstreamMaster(t *testing.T) {
	weed := weedBinary(t)
	master, err := weedproc.StartMaster(weed, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer master.Stop()
	port, err := weedproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	self := "127.0.0.1:" + strconv.Itoa(port)
	e := newEnv(t, func(c *Config) {
		c.Port, c.GrpcPort = port, port+grpcPortOffset
		c.Masters = []string{master.Addr()}
		c.Pulse = time.Second
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.svc.StartHeartbeat(ctx)

	eventually(t, 20*time.Second, "master lists the node", func() (bool, string) {
		_, body := httpGet(t, "http://"+master.Addr()+"/dir/status")
		return strings.Contains(body, `"`+self+`"`) && e.svc.Connected(), body
	})
	if got, want := e.svc.CurrentMaster(), master.Addr(); got != want {
		t.Fatalf("current master %q, want %q", got, want)
	}
	if lim := e.svc.VolumeSizeLimit(); lim == 0 {
		t.Fatal("volume size limit not learnt from the master")
	}

	// The master grows a volume: it calls AllocateVolume here.
	if code, body := httpGet(t, "http://"+master.Addr()+"/vol/grow?count=1&replication=000"); code != http.StatusOK {
		t.Fatalf("/vol/grow: %d %s", code, body)
	}
	vols := e.store.Volumes()
	if len(vols) == 0 {
		t.Fatal("no volume allocated by /vol/grow")
	}
	grown := vols[0].ID
	eventually(t, 10*time.Second, "grown volume is looked up here", func() (bool, string) {
		urls, body := lookupURLs(t, master.Addr(), grown)
		return len(urls) == 1 && urls[0] == self, body
	})

	// A volume created here is announced by the next heartbeat.
	const own = 77
	e.allocate(t, own, "mine")
	eventually(t, 10*time.Second, "own volume is announced", func() (bool, string) {
		urls, body := lookupURLs(t, master.Addr(), own)
		return len(urls) == 1 && urls[0] == self, body
	})
	locs, err := e.svc.LookupVolume(ctx, own)
	if err != nil || len(locs) != 1 || locs[0].URL != self || locs[0].GrpcPort != port+grpcPortOffset {
		t.Fatalf("LookupVolume(%d) = %+v, %v", own, locs, err)
	}
	if _, err := e.svc.LookupVolume(ctx, 4242); err == nil {
		t.Fatal("LookupVolume of an unknown volume succeeded")
	}

	// Light heartbeats (nothing changed) keep the master's list; a write
	// reaches it with the next pulse's full list.
	time.Sleep(3500 * time.Millisecond)
	for _, id := range []uint32{grown, own} {
		if urls, body := lookupURLs(t, master.Addr(), id); len(urls) != 1 {
			t.Fatalf("volume %d lost by the master after light heartbeats: %s", id, body)
		}
	}
	v, _ := e.store.Volume(own)
	write(t, v, needle.Needle{ID: 9, Cookie: 9, Data: []byte("counted by the master")})
	eventually(t, 10*time.Second, "master counts the write", func() (bool, string) {
		_, body := httpGet(t, "http://"+master.Addr()+"/vol/status")
		return masterFileCount(body, own) == 1, body
	})

	// Pinging the master works once it is known.
	pong, err := e.client.Ping(ctx, &volume_server_pb.PingRequest{TargetType: "master", Target: master.Addr()})
	if err != nil || pong.GetRemoteTimeNs() == 0 {
		t.Fatalf("ping master: %v, %v", pong, err)
	}
	// Marking read-only goes through the master.
	if _, err := e.client.VolumeMarkReadonly(ctx, &volume_server_pb.VolumeMarkReadonlyRequest{VolumeId: own}); err != nil {
		t.Fatalf("VolumeMarkReadonly: %v", err)
	}
	if _, err := e.client.VolumeMarkWritable(ctx, &volume_server_pb.VolumeMarkWritableRequest{VolumeId: own}); err != nil {
		t.Fatalf("VolumeMarkWritable: %v", err)
	}

	// Deleting it is announced too.
	if _, err := e.client.VolumeDelete(ctx, &volume_server_pb.VolumeDeleteRequest{VolumeId: own}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "deleted volume is withdrawn", func() (bool, string) {
		urls, body := lookupURLs(t, master.Addr(), own)
		return len(urls) == 0, body
	})

	// Stopping says goodbye: the master forgets the node's volumes.
	if already := e.svc.StopHeartbeat(); already {
		t.Fatal("StopHeartbeat reports an earlier stop")
	}
	if e.state.IsHeartbeating() || e.svc.Connected() {
		t.Fatal("still heartbeating after StopHeartbeat")
	}
	eventually(t, 10*time.Second, "volumes withdrawn after stop", func() (bool, string) {
		urls, body := lookupURLs(t, master.Addr(), grown)
		return len(urls) == 0, body
	})
	if !e.svc.StopHeartbeat() {
		t.Fatal("second StopHeartbeat does not report the earlier stop")
	}
}

// masterFileCount finds volume id in the master's /vol/status JSON and
// returns its FileCount, or -1.
func masterFileCount(body string, id uint32) int {
	var doc any
	if json.Unmarshal([]byte(body), &doc) != nil {
		return -1
	}
	found := -1
	var walk func(x any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			if n, ok := x["Id"].(float64); ok && uint32(n) == id {
				if c, ok := x["FileCount"].(float64); ok {
					found = int(c)
				}
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(doc)
	return found
}
