package httpfast

import (
	"bytes"
	"context"
	"testing"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
)

// ecServer is a test server whose volume 3 holds the given needles and is
// then erasure-coded: the normal volume unmounted, every shard mounted.
func ecServer(t *testing.T, needles []needle.Needle) *testServer {
	t.Helper()
	ts := newTestServer(t)
	v, ok := ts.store.Volume(3)
	if !ok {
		t.Fatal("no volume 3")
	}
	for i := range needles {
		if _, err := v.Write(&needles[i], engine.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ts.store.EcGenerate(context.Background(), 3, ""); err != nil {
		t.Fatalf("EcGenerate: %v", err)
	}
	if err := ts.store.UnmountVolume(3); err != nil {
		t.Fatal(err)
	}
	var all []uint32
	for i := uint32(0); i < 14; i++ {
		all = append(all, i)
	}
	if err := ts.store.EcMount(3, "", all); err != nil {
		t.Fatalf("EcMount: %v", err)
	}
	return ts
}

// TestEcReadAndDelete: needles of an EC-only volume are served as normal
// ones are, and deleted with upstream's answers.
func TestEcReadAndDelete(t *testing.T) {
	payload := bytes.Repeat([]byte("erasure-coded payload "), 50)
	ts := ecServer(t, []needle.Needle{
		{ID: 0x10, Cookie: 0xabcd, Data: payload},
		{ID: 0x11, Cookie: 0x1111, Data: []byte("second")},
	})
	fid := "/" + needle.FormatFid(3, 0x10, 0xabcd)
	tests := []httpCase{
		{name: "get", method: "GET", path: fid, status: 200, body: payload, header: map[string]string{"Accept-Ranges": "bytes"}},
		{name: "head", method: "HEAD", path: fid, status: 200, header: map[string]string{"Content-Length": "1100"}},
		{name: "range", method: "GET", path: fid, hdr: map[string]string{"Range": "bytes=0-7"}, status: 206, body: payload[:8], header: map[string]string{"Content-Range": "bytes 0-7/1100"}},
		{name: "cookie mismatch", method: "GET", path: "/" + needle.FormatFid(3, 0x10, 0x9999), status: 404},
		{name: "absent", method: "GET", path: "/" + needle.FormatFid(3, 0x77, 0xabcd), status: 404},
		{name: "delete wrong cookie", method: "DELETE", path: "/" + needle.FormatFid(3, 0x11, 0x2222), status: 500},
		{name: "delete", method: "DELETE", path: "/" + needle.FormatFid(3, 0x11, 0x1111), status: 202},
		{name: "get deleted", method: "GET", path: "/" + needle.FormatFid(3, 0x11, 0x1111), status: 404},
		{name: "delete again", method: "DELETE", path: "/" + needle.FormatFid(3, 0x11, 0x1111), status: 404, body: []byte(`{"size":0}`)},
		{name: "delete absent", method: "DELETE", path: "/" + needle.FormatFid(3, 0x78, 0x1111), status: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.do(t, tt.method, tt.path, nil, tt.hdr)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			if tt.body != nil && !bytes.Equal(body, tt.body) && !(tt.body[0] == '{' && bytes.Equal(bytes.TrimSpace(body), tt.body)) {
				t.Fatalf("body %q, want %q", body, tt.body)
			}
			for k, v := range tt.header {
				if got := resp.Header.Get(k); got != v {
					t.Fatalf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
	resp, _ := ts.do(t, "GET", fid, nil, nil)
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on an EC read")
	}
	if resp, _ := ts.do(t, "GET", fid, nil, map[string]string{"If-None-Match": etag}); resp.StatusCode != 304 {
		t.Fatalf("If-None-Match: %d", resp.StatusCode)
	}
}
