package httpfast

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/nodestate"
)

// testServer serves a real store on a loopback port.
type testServer struct {
	url   string
	store *engine.Store
	state *nodestate.State
}

// httpCase is one request of a table-driven HTTP test and what its reply
// must carry: status, body and headers.
type httpCase struct {
	name, method, path string
	hdr                map[string]string
	status             int
	body               []byte
	header             map[string]string
}

func newTestServer(t testing.TB) *testServer { return newTestServerWith(t, nil) }

// newTestServerWith lets tune change the server's Config first.
func newTestServerWith(t testing.TB, tune func(*Config)) *testServer {
	t.Helper()
	store, err := engine.OpenStore(engine.StoreConfig{Locations: []engine.LocationConfig{{Dir: t.TempDir(), MaxVolumes: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.AllocateVolume(3, engine.AllocateOptions{}); err != nil {
		t.Fatal(err)
	}
	state := nodestate.New()
	state.SetHeartbeating(true)
	state.SetMasterReached()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Store: store, State: state, ReadMode: "local", FileSizeLimit: 8 << 20, SelfURL: l.Addr().String()}
	if tune != nil {
		tune(&cfg)
	}
	s := New(cfg)
	srv := NewFront(s.Admin, 0) // as cmd/weedvol serves it
	go srv.Serve(l)
	t.Cleanup(func() { srv.Shutdown(context.Background()); store.Close() })
	return &testServer{url: "http://" + l.Addr().String(), store: store, state: state}
}

func (ts *testServer) do(t *testing.T, method, path string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func multipartBody(name, mime string, data []byte) (io.Reader, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := map[string][]string{"Content-Disposition": {`form-data; name="file"; filename="` + name + `"`}}
	if mime != "" {
		h["Content-Type"] = []string{mime}
	}
	p, _ := w.CreatePart(h)
	p.Write(data)
	w.Close()
	return &buf, w.FormDataContentType()
}

func TestUploadReadDelete(t *testing.T) {
	ts := newTestServer(t)
	data := bytes.Repeat([]byte("0123456789"), 1000)
	body, ct := multipartBody("hello.bin", "application/x-custom", data)
	resp, b := ts.do(t, "POST", "/3,01637037d6", body, map[string]string{"Content-Type": ct})
	if resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	var up uploadResult
	json.Unmarshal(b, &up)
	if up.Name != "hello.bin" || up.Size != uint32(len(data)) || up.Mime != "application/x-custom" || resp.Header.Get("ETag") == "" {
		t.Fatalf("upload result %s, etag %q", b, resp.Header.Get("ETag"))
	}
	etag := resp.Header.Get("ETag")

	tests := []httpCase{
		{"get", "GET", "/3,01637037d6", nil, 200, data, map[string]string{"Content-Type": "application/x-custom", "ETag": etag, "Accept-Ranges": "bytes", "Content-Disposition": `inline; filename=hello.bin`}},
		{"get with ext", "GET", "/3,01637037d6.bin", nil, 200, data, nil},
		{"get slash form", "GET", "/3/01637037d6", nil, 200, data, nil},
		{"get slash with name", "GET", "/3/01637037d6/other.txt", nil, 200, data, map[string]string{"Content-Disposition": `inline; filename=other.txt`}},
		{"download", "GET", "/3,01637037d6?dl=true", nil, 200, data, map[string]string{"Content-Disposition": `attachment; filename=hello.bin`}},
		{"head", "HEAD", "/3,01637037d6", nil, 200, nil, map[string]string{"Content-Length": fmt.Sprint(len(data))}},
		{"range", "GET", "/3,01637037d6", map[string]string{"Range": "bytes=10-19"}, 206, data[10:20], map[string]string{"Content-Range": fmt.Sprintf("bytes 10-19/%d", len(data))}},
		{"suffix range", "GET", "/3,01637037d6", map[string]string{"Range": "bytes=-5"}, 206, data[len(data)-5:], nil},
		{"range past end", "GET", "/3,01637037d6", map[string]string{"Range": "bytes=999999-"}, 416, nil, map[string]string{"Content-Range": fmt.Sprintf("bytes */%d", len(data))}},
		{"if-none-match", "GET", "/3,01637037d6", map[string]string{"If-None-Match": etag}, 304, nil, nil},
		{"if-modified-since", "GET", "/3,01637037d6", map[string]string{"If-Modified-Since": time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, 304, nil, nil},
		{"wrong cookie", "GET", "/3,01637037d7", nil, 404, nil, nil},
		{"missing needle", "GET", "/3,02637037d6", nil, 404, nil, nil},
		{"missing volume", "GET", "/9,01637037d6", nil, 404, nil, nil},
		{"bad vid", "GET", "/x,01637037d6", nil, 400, nil, nil},
		{"bad fid", "GET", "/3,zz", nil, 400, nil, nil},
	}
	for _, tc := range tests {
		resp, b := ts.do(t, tc.method, tc.path, nil, tc.hdr)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, resp.StatusCode, tc.status, b)
			continue
		}
		if tc.body != nil && !bytes.Equal(b, tc.body) {
			t.Errorf("%s: body of %d bytes differs", tc.name, len(b))
		}
		for k, v := range tc.header {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: header %s = %q, want %q", tc.name, k, got, v)
			}
		}
		if resp.Header.Get("Server") != nodestate.ServerHeader {
			t.Errorf("%s: Server header %q", tc.name, resp.Header.Get("Server"))
		}
	}

	resp, b = ts.do(t, "DELETE", "/3,01637037d7", nil, nil)
	if resp.StatusCode != 400 {
		t.Fatalf("delete with wrong cookie: %d %s", resp.StatusCode, b)
	}
	resp, b = ts.do(t, "DELETE", "/3,01637037d6", nil, nil)
	if resp.StatusCode != 202 || !strings.Contains(string(b), `"size"`) {
		t.Fatalf("delete: %d %s", resp.StatusCode, b)
	}
	if resp, _ := ts.do(t, "GET", "/3,01637037d6", nil, nil); resp.StatusCode != 404 {
		t.Fatalf("get after delete: %d", resp.StatusCode)
	}
	if resp, b := ts.do(t, "DELETE", "/3,01637037d6", nil, nil); resp.StatusCode != 404 || string(b) != `{"size":0}` {
		t.Fatalf("second delete: %d %s", resp.StatusCode, b)
	}
}

func TestRawPutAndCompression(t *testing.T) {
	ts := newTestServer(t)
	text := []byte(strings.Repeat("compress me please ", 500))
	resp, b := ts.do(t, "PUT", "/3,0a00000001", bytes.NewReader(text), map[string]string{"Content-Type": "text/plain"})
	if resp.StatusCode != 201 {
		t.Fatalf("put: %d %s", resp.StatusCode, b)
	}
	// stored gzipped; served plain unless the client takes gzip
	resp, b = ts.do(t, "GET", "/3,0a00000001", nil, map[string]string{"Accept-Encoding": "identity"})
	if resp.StatusCode != 200 || !bytes.Equal(b, text) || resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("plain get: %d %d bytes enc %q", resp.StatusCode, len(b), resp.Header.Get("Content-Encoding"))
	}
	req, _ := http.NewRequest("GET", ts.url+"/3,0a00000001", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	tr := &http.Transport{DisableCompression: true}
	r2, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	zb, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.Header.Get("Content-Encoding") != "gzip" || len(zb) >= len(text) {
		t.Fatalf("gzip get: enc %q, %d bytes", r2.Header.Get("Content-Encoding"), len(zb))
	}
	// unchanged rewrite answers 204
	if resp, b := ts.do(t, "PUT", "/3,0a00000001", bytes.NewReader(text), map[string]string{"Content-Type": "text/plain"}); resp.StatusCode != 204 {
		t.Fatalf("unchanged put: %d %s", resp.StatusCode, b)
	}
	// Content-MD5 mismatch is refused
	if resp, b := ts.do(t, "PUT", "/3,0b00000001", bytes.NewReader([]byte("abc")), map[string]string{"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="}); resp.StatusCode != 400 {
		t.Fatalf("md5 mismatch: %d %s", resp.StatusCode, b)
	}
	// too large
	big := make([]byte, 9<<20)
	if resp, _ := ts.do(t, "PUT", "/3,0c00000001", bytes.NewReader(big), nil); resp.StatusCode != 400 {
		t.Fatalf("oversized upload: %d", resp.StatusCode)
	}
}

func TestLargeNeedleStreams(t *testing.T) {
	ts := newTestServer(t)
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	body, ct := multipartBody("big.bin", "", data)
	if resp, b := ts.do(t, "POST", "/3,0d00000001", body, map[string]string{"Content-Type": ct}); resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	resp, b := ts.do(t, "GET", "/3,0d00000001", nil, nil)
	if resp.StatusCode != 200 || !bytes.Equal(b, data) {
		t.Fatalf("get: %d, %d bytes", resp.StatusCode, len(b))
	}
	resp, b = ts.do(t, "GET", "/3,0d00000001", nil, map[string]string{"Range": "bytes=1048576-1048675"})
	if resp.StatusCode != 206 || !bytes.Equal(b, data[1<<20:1<<20+100]) {
		t.Fatalf("range: %d, %d bytes", resp.StatusCode, len(b))
	}
	// ranges long enough for the zero-copy path, one of them twice on the
	// same keep-alive connection, and a multi-range body
	for i := 0; i < 2; i++ {
		resp, b = ts.do(t, "GET", "/3,0d00000001", nil, map[string]string{"Range": "bytes=100001-2999998"})
		if resp.StatusCode != 206 || !bytes.Equal(b, data[100001:2999999]) {
			t.Fatalf("long range: %d, %d bytes", resp.StatusCode, len(b))
		}
	}
	resp, b = ts.do(t, "GET", "/3,0d00000001", nil, map[string]string{"Range": "bytes=0-99999,2000000-2199999"})
	if resp.StatusCode != 206 || !bytes.Contains(b, data[:100000]) || !bytes.Contains(b, data[2000000:2200000]) {
		t.Fatalf("multi-range: %d, %d bytes", resp.StatusCode, len(b))
	}
	resp, _ = ts.do(t, "HEAD", "/3,0d00000001", nil, nil)
	if resp.Header.Get("Content-Length") != fmt.Sprint(len(data)) {
		t.Fatalf("head length %q", resp.Header.Get("Content-Length"))
	}
}

func TestStatusAndHealth(t *testing.T) {
	ts := newTestServer(t)
	resp, b := ts.do(t, "GET", "/status", nil, nil)
	var st struct {
		Version      string
		Volumes      []map[string]any
		DiskStatuses []map[string]any
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &st) != nil || len(st.Volumes) != 1 || len(st.DiskStatuses) != 1 {
		t.Fatalf("status: %d %s", resp.StatusCode, b)
	}
	if resp, _ := ts.do(t, "GET", "/healthz", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
	for path, ct := range map[string]string{"/favicon.ico": "image/x-icon", "/seaweedfsstatic/seaweed50x50.png": "image/png"} {
		if resp, b := ts.do(t, "GET", path, nil, nil); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ct || len(b) < 50 {
			t.Fatalf("%s: %d %q %d bytes", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
		}
	}
	if resp, _ := ts.do(t, "GET", "/seaweedfsstatic/nope.png", nil, nil); resp.StatusCode != 404 {
		t.Fatalf("missing asset: %d", resp.StatusCode)
	}
	ts.state.SetStopping()
	if resp, _ := ts.do(t, "GET", "/healthz", nil, nil); resp.StatusCode != 503 {
		t.Fatalf("healthz while stopping: %d", resp.StatusCode)
	}
	if resp, _ := ts.do(t, "OPTIONS", "/", nil, nil); resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "DELETE") {
		t.Fatalf("options: %d %v", resp.StatusCode, resp.Header)
	}
}
