package httpfast

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/superblock"
)

// replicaPair starts two servers holding volume 5 with placement 001, each
// told by its Lookup that both hold it (holders may shrink it).
func replicaPair(t *testing.T, holders func(a, b string) []string) (a, b *testServer) {
	t.Helper()
	var aURL, bURL string
	lookup := func(context.Context, uint32) ([]string, error) { return holders(aURL, bURL), nil }
	tune := func(c *Config) { c.Lookup = lookup }
	a, b = newTestServerWith(t, tune), newTestServerWith(t, tune)
	aURL, bURL = strings.TrimPrefix(a.url, "http://"), strings.TrimPrefix(b.url, "http://")
	rp, _ := superblock.ParsePlacement("001")
	for _, ts := range []*testServer{a, b} {
		if err := ts.store.AllocateVolume(5, engine.AllocateOptions{ReplicaPlacement: rp}); err != nil {
			t.Fatal(err)
		}
	}
	return a, b
}

func TestReplicatedWriteAndDelete(t *testing.T) {
	a, b := replicaPair(t, func(a, b string) []string { return []string{a, b} })
	data := []byte("replicated bytes")
	hdr := map[string]string{"Content-Type": "text/plain", "Seaweed-Color": "blue"}
	if resp, body := a.do(t, "POST", "/5,0a01020304?ts=1700000000", bytes.NewReader(data), hdr); resp.StatusCode != http.StatusCreated {
		t.Fatalf("write: %d %s", resp.StatusCode, body)
	}
	resp, got := b.do(t, "GET", "/5,0a01020304", nil, nil)
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("replica read: %d %q", resp.StatusCode, got)
	}
	if resp.Header.Get("Color") != "blue" || resp.Header.Get("Last-Modified") != "Tue, 14 Nov 2023 22:13:20 GMT" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("replica lost metadata: %v", resp.Header)
	}
	// a forwarded write is not forwarded again: b alone gets this one
	if resp, body := b.do(t, "POST", "/5,0b01020304?type=replicate", bytes.NewReader(data), hdr); resp.StatusCode != http.StatusCreated {
		t.Fatalf("replicate write: %d %s", resp.StatusCode, body)
	}
	if resp, _ := a.do(t, "GET", "/5,0b01020304", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("type=replicate write was forwarded: %d", resp.StatusCode)
	}
	if resp, body := a.do(t, "DELETE", "/5,0a01020304", nil, nil); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}
	if resp, _ := b.do(t, "GET", "/5,0a01020304", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("replica still serves a deleted needle: %d", resp.StatusCode)
	}
}

func TestReplicatedWriteFailures(t *testing.T) {
	// the master names one holder for a two-copy volume
	a, _ := replicaPair(t, func(a, b string) []string { return []string{a} })
	resp, body := a.do(t, "POST", "/5,0c01020304", bytes.NewReader([]byte("x")), map[string]string{"Content-Type": "text/plain"})
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "replication locations [1] is less than volume 5 replication copy count [2]") {
		t.Fatalf("too few holders: %d %s", resp.StatusCode, body)
	}
	// the other holder is down
	a, _ = replicaPair(t, func(a, b string) []string { return []string{a, "127.0.0.1:1"} })
	resp, body = a.do(t, "POST", "/5,0d01020304", bytes.NewReader([]byte("x")), map[string]string{"Content-Type": "text/plain"})
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "failed to write to replicas for volume 5") {
		t.Fatalf("replica down: %d %s", resp.StatusCode, body)
	}
}
