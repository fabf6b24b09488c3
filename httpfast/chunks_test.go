package httpfast

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/weedvol/weedvol/engine"
)

// chunkCluster is a server A holding volume 3 and a server B holding
// volume 5, which A finds through its lookup (as through the master).
type chunkCluster struct {
	a, b *testServer
}

func newChunkCluster(t *testing.T) *chunkCluster {
	t.Helper()
	b := newTestServer(t)
	if err := b.store.AllocateVolume(5, engine.AllocateOptions{}); err != nil {
		t.Fatal(err)
	}
	bAddr := strings.TrimPrefix(b.url, "http://")
	a := newTestServerWith(t, func(c *Config) {
		c.Lookup = func(_ context.Context, vid uint32) ([]string, error) {
			if vid == 5 {
				return []string{bAddr}, nil
			}
			return nil, fmt.Errorf("volume id %d not found", vid)
		}
	})
	return &chunkCluster{a: a, b: b}
}

func mustPut(t *testing.T, ts *testServer, path string, body []byte, hdr map[string]string) {
	t.Helper()
	if resp, b := ts.do(t, "PUT", path, bytes.NewReader(body), hdr); resp.StatusCode != 201 {
		t.Fatalf("upload %s: %d %s", path, resp.StatusCode, b)
	}
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i%251)
	}
	return b
}

// putManifest stores m as a manifest needle at path.
func putManifest(t *testing.T, ts *testServer, path string, m chunkManifest) []byte {
	t.Helper()
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, ts, path+"?cm=true", body, map[string]string{"Content-Type": "application/json"})
	return body
}

func TestChunkManifestRead(t *testing.T) {
	c := newChunkCluster(t)
	// four chunks: a plain local one large enough to go out with sendfile,
	// a compressed local one, one on the other server, a small local one
	big := pattern(200<<10, 1)
	zipped := pattern(5000, 2)
	remote := pattern(3000, 3)
	small := []byte("the end")
	mustPut(t, c.a, "/3,0100000001", big, nil)
	mustPut(t, c.a, "/3,0200000002", gz(t, zipped), map[string]string{"Content-Encoding": "gzip"})
	mustPut(t, c.b, "/5,0300000003", remote, nil)
	mustPut(t, c.a, "/3,0400000004", small, nil)
	want := bytes.Join([][]byte{big, zipped, remote, small}, nil)
	total := int64(len(want))
	m := chunkManifest{Name: "movie.txt", Mime: "application/octet-stream", Size: total, Chunks: []chunkInfo{
		// stored out of order: the reader sorts by offset
		{Fid: "5,0300000003", Offset: int64(len(big) + len(zipped)), Size: int64(len(remote))},
		{Fid: "3,0100000001", Offset: 0, Size: int64(len(big))},
		{Fid: "3,0400000004", Offset: total - int64(len(small)), Size: int64(len(small))},
		{Fid: "3,0200000002", Offset: int64(len(big)), Size: int64(len(zipped))},
	}}
	raw := putManifest(t, c.a, "/3,0500000005", m)

	span := func(start, end int64) []byte { return want[start : end+1] }
	remoteStart := int64(len(big) + len(zipped))
	tests := []httpCase{
		{"expanded", "GET", "/3,0500000005", nil, 200, want, map[string]string{
			"X-File-Store": "chunked", "Content-Length": fmt.Sprint(total), "Content-Type": "text/plain; charset=utf-8",
			"Content-Disposition": "inline; filename=movie.txt", "Accept-Ranges": "bytes"}},
		{"url names the file", "GET", "/3/0500000005/other.bin", nil, 200, want, map[string]string{
			"Content-Disposition": "inline; filename=other.bin"}},
		{"head", "HEAD", "/3,0500000005", nil, 200, nil, map[string]string{"X-File-Store": "chunked", "Content-Length": fmt.Sprint(total)}},
		{"range across local chunks", "GET", "/3,0500000005", map[string]string{"Range": "bytes=204790-204900"}, 206, span(204790, 204900),
			map[string]string{"Content-Range": fmt.Sprintf("bytes 204790-204900/%d", total)}},
		{"range starting in the remote chunk", "GET", "/3,0500000005", map[string]string{"Range": fmt.Sprintf("bytes=%d-", remoteStart+10)}, 206, want[remoteStart+10:], nil},
		{"range within the compressed chunk", "GET", "/3,0500000005", map[string]string{"Range": "bytes=204900-204999"}, 206, span(204900, 204999), nil},
		{"suffix range", "GET", "/3,0500000005", map[string]string{"Range": "bytes=-3"}, 206, []byte("end"), nil},
		{"range past the end", "GET", "/3,0500000005", map[string]string{"Range": fmt.Sprintf("bytes=%d-", total)}, 416, nil, nil},
		{"manifest itself", "GET", "/3,0500000005?cm=false", nil, 200, raw, map[string]string{"X-File-Store": ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := c.a.do(t, tc.method, tc.path, nil, tc.hdr)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %.200s", resp.StatusCode, tc.status, body)
			}
			if tc.body != nil && !bytes.Equal(body, tc.body) {
				t.Fatalf("body: %d bytes, want %d", len(body), len(tc.body))
			}
			if tc.method == "HEAD" && len(body) != 0 {
				t.Fatalf("HEAD sent %d bytes", len(body))
			}
			for k, v := range tc.header {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}

	t.Run("multipart ranges", func(t *testing.T) {
		resp, body := c.a.do(t, "GET", "/3,0500000005", nil, map[string]string{"Range": fmt.Sprintf("bytes=0-9,%d-%d", remoteStart, remoteStart+9)})
		if resp.StatusCode != 206 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/byteranges") {
			t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if !bytes.Contains(body, want[:10]) || !bytes.Contains(body, want[remoteStart:remoteStart+10]) {
			t.Fatalf("parts missing from %q", body)
		}
	})
}

// TestChunkManifestMissingChunk: as upstream, a chunk that fails within the
// first chunkCommit bytes of the file turns the answer into a 500 naming
// the chunk's URL; one that fails later cuts the body short.
func TestChunkManifestMissingChunk(t *testing.T) {
	c := newChunkCluster(t)
	mustPut(t, c.a, "/3,0100000001", []byte("first"), nil)
	putManifest(t, c.a, "/3,0500000005", chunkManifest{Size: 10, Chunks: []chunkInfo{
		{Fid: "3,0100000001", Offset: 0, Size: 5},
		{Fid: "3,0900000009", Offset: 5, Size: 5}, // never written
	}})
	resp, body := c.a.do(t, "GET", "/3,0500000005", nil, nil)
	want := "http://" + strings.TrimPrefix(c.a.url, "http://") + "/3,0900000009: 404 Not Found\n"
	if resp.StatusCode != 500 || string(body) != want || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("early failure: %d %q %q, want 500 %q", resp.StatusCode, resp.Header.Get("Content-Type"), body, want)
	}
	if resp.Header.Get("X-File-Store") != "chunked" {
		t.Fatalf("headers set before the failure are kept: %v", resp.Header)
	}

	// several ranges, one of them in the missing chunk: no 206 with fewer
	// parts, the connection is cut as upstream's is
	req, _ := http.NewRequest("GET", c.a.url+"/3,0500000005", nil)
	req.Header.Set("Range", "bytes=0-1,6-7")
	if r, err := http.DefaultClient.Do(req); err == nil {
		b, rerr := io.ReadAll(r.Body)
		r.Body.Close()
		t.Fatalf("multi-range over a missing chunk answered %d %q (%v)", r.StatusCode, b, rerr)
	}

	big := bytes.Repeat([]byte("0123456789"), chunkCommit/10+1000)
	mustPut(t, c.a, "/3,0200000002", big, nil)
	putManifest(t, c.a, "/3,0600000006", chunkManifest{Size: int64(len(big)) + 5, Chunks: []chunkInfo{
		{Fid: "3,0200000002", Offset: 0, Size: int64(len(big))},
		{Fid: "3,0900000009", Offset: int64(len(big)), Size: 5},
	}})
	r, err := http.Get(c.a.url + "/3,0600000006")
	if err != nil {
		return // cut before the head: also not a complete reply
	}
	defer r.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(r.Body)
	if err == nil || buf.Len() >= len(big)+5 {
		t.Fatalf("late failure: status %d, %d bytes, err %v: want the body cut short", r.StatusCode, buf.Len(), err)
	}
}

func TestChunkManifestDelete(t *testing.T) {
	tests := []struct {
		name     string
		chunks   []chunkInfo
		status   int
		body     string
		gone     []string // chunks deleted, on A or B
		manifest bool     // the manifest is still there
	}{
		{
			name:   "children then manifest",
			chunks: []chunkInfo{{Fid: "3,0100000001", Size: 3}, {Fid: "5,0300000003", Offset: 3, Size: 3}},
			status: 202, body: `{"size":6}`,
			gone: []string{"3,0100000001", "5,0300000003"},
		},
		{
			name:   "malformed child",
			chunks: []chunkInfo{{Fid: "3,0100000001", Size: 3}, {Fid: "not-a-valid-fid", Offset: 3, Size: 3}},
			status: 500, body: `{"error":"Delete chunks error: chunk delete not-a-valid-fid: Wrong fid format."}`,
			// as upstream, the other chunks are deleted all the same
			gone: []string{"3,0100000001"}, manifest: true,
		},
		{
			name:   "child on a volume nobody holds",
			chunks: []chunkInfo{{Fid: "7,0100000001", Size: 3}},
			status: 500, body: `{"error":"Delete chunks error: chunk delete 7,0100000001: lookup error: volume id 7 not found"}`,
			manifest: true,
		},
		{
			name:   "child key too short",
			chunks: []chunkInfo{{Fid: "3,0102", Size: 3}},
			status: 500, body: `{"error":"Delete chunks error: chunk delete 3,0102: KeyHash is too short."}`,
			manifest: true,
		},
		{
			name:   "child already gone",
			chunks: []chunkInfo{{Fid: "3,0800000008", Size: 3}},
			status: 202, body: `{"size":6}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newChunkCluster(t)
			mustPut(t, c.a, "/3,0100000001", []byte("abc"), nil)
			mustPut(t, c.b, "/5,0300000003", []byte("def"), nil)
			putManifest(t, c.a, "/3,0500000005", chunkManifest{Name: "x", Size: 6, Chunks: tc.chunks})
			resp, body := c.a.do(t, "DELETE", "/3,0500000005", nil, nil)
			if resp.StatusCode != tc.status || strings.TrimSpace(string(body)) != tc.body {
				t.Fatalf("delete: %d %s, want %d %s", resp.StatusCode, body, tc.status, tc.body)
			}
			for _, fid := range tc.gone {
				ts := c.a
				if fid[0] == '5' {
					ts = c.b
				}
				if resp, _ := ts.do(t, "GET", "/"+fid, nil, nil); resp.StatusCode != 404 {
					t.Errorf("chunk %s: %d after delete", fid, resp.StatusCode)
				}
			}
			resp, body = c.a.do(t, "GET", "/3,0500000005?cm=false", nil, nil)
			if tc.manifest {
				var m chunkManifest
				if resp.StatusCode != 200 || json.Unmarshal(body, &m) != nil || len(m.Chunks) != len(tc.chunks) {
					t.Fatalf("manifest after failed delete: %d %s", resp.StatusCode, body)
				}
			} else if resp.StatusCode != 404 {
				t.Fatalf("manifest after delete: %d", resp.StatusCode)
			}
		})
	}
}
