package httpfast

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/nodestate"
)

func signFid(t *testing.T, key, fid string, expires time.Duration) string {
	t.Helper()
	claims := fileIDClaims{Fid: fid}
	claims.ExpiresAt = jwt.NewNumericDate(time.Now().Add(expires))
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWT(t *testing.T) {
	store, err := engine.OpenStore(engine.StoreConfig{Locations: []engine.LocationConfig{{Dir: t.TempDir(), MaxVolumes: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	store.AllocateVolume(3, engine.AllocateOptions{})
	s := New(Config{Store: store, State: nodestate.New(), ReadMode: "local", SigningKey: []byte("w"), ReadSigningKey: []byte("r")})
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := NewFront(s.Admin, 0)
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())
	base := "http://" + l.Addr().String()
	fid := "3,0a12345678"
	do := func(method, url string, hdr map[string]string) int {
		req, _ := http.NewRequest(method, url, bytes.NewReader([]byte("data")))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	write := signFid(t, "w", fid, time.Minute)
	read := signFid(t, "r", fid, time.Minute)
	tests := []struct {
		name   string
		method string
		url    string
		hdr    map[string]string
		want   int
	}{
		{"write without token", "PUT", base + "/" + fid, nil, 401},
		{"write with read token", "PUT", base + "/" + fid + "?jwt=" + read, nil, 401},
		{"write for another fid", "PUT", base + "/" + fid + "?jwt=" + signFid(t, "w", "3,0b12345678", time.Minute), nil, 401},
		{"expired write", "PUT", base + "/" + fid + "?jwt=" + signFid(t, "w", fid, -time.Minute), nil, 401},
		{"write with bearer", "PUT", base + "/" + fid, map[string]string{"Authorization": "Bearer " + write}, 201},
		{"read without token", "GET", base + "/" + fid, nil, 401},
		{"read with cookie", "GET", base + "/" + fid, map[string]string{"Cookie": "AT=" + read}, 200},
		{"query wins over header", "GET", base + "/" + fid + "?jwt=bad", map[string]string{"Authorization": "Bearer " + read}, 401},
		{"delete with write token", "DELETE", base + "/" + fid + "?jwt=" + write, nil, 202},
	}
	for _, tc := range tests {
		if got := do(tc.method, tc.url, tc.hdr); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestManifestDeleteNeedsChunkTokens: with JWT signing on, the holder of a
// token for file X cannot delete file Y by storing a chunk manifest at X
// that names Y and deleting X: the manifest goes, Y stays.
func TestManifestDeleteNeedsChunkTokens(t *testing.T) {
	store, err := engine.OpenStore(engine.StoreConfig{Locations: []engine.LocationConfig{{Dir: t.TempDir(), MaxVolumes: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	store.AllocateVolume(3, engine.AllocateOptions{})
	s := New(Config{Store: store, State: nodestate.New(), ReadMode: "local", SigningKey: []byte("w")})
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := NewFront(s.Admin, 0)
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())
	base := "http://" + l.Addr().String()
	send := func(method, fid, query string, body []byte) int {
		req, _ := http.NewRequest(method, base+"/"+fid+"?jwt="+signFid(t, "w", fid, time.Minute)+query, bytes.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	victim, attacker := "3,0b00000002", "3,0a00000001"
	if code := send("PUT", victim, "", []byte("someone else's file")); code != 201 {
		t.Fatalf("victim upload: %d", code)
	}
	manifest := `{"name":"x","size":19,"chunks":[{"fid":"` + victim + `","offset":0,"size":19}]}`
	if code := send("PUT", attacker, "&cm=true", []byte(manifest)); code != 201 {
		t.Fatalf("manifest upload: %d", code)
	}
	if code := send("DELETE", attacker, "", nil); code != 202 {
		t.Fatalf("manifest delete: %d", code)
	}
	v, _ := store.Volume(3)
	if _, size, ok := v.Lookup(0x0b); !ok || size <= 0 {
		t.Fatal("deleting a manifest deleted a chunk its token did not name")
	}
	if _, size, ok := v.Lookup(0x0a); !ok || size >= 0 {
		t.Fatal("the manifest itself was not deleted")
	}
}
