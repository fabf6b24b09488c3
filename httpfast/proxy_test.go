package httpfast

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/nodestate"
)

// TestNotLocalReadModes serves a volume on one server and reads it through
// a second that does not hold it, in each -readMode.
func TestNotLocalReadModes(t *testing.T) {
	owner := newTestServer(t)
	data := []byte("held elsewhere")
	if resp, b := owner.do(t, "PUT", "/3,0a00000002", bytes.NewReader(data), nil); resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	ownerAddr := owner.url[len("http://"):]
	for _, mode := range []string{"local", "proxy", "redirect"} {
		store, _ := engine.OpenStore(engine.StoreConfig{Locations: []engine.LocationConfig{{Dir: t.TempDir(), MaxVolumes: 1}}})
		s := New(Config{Store: store, State: nodestate.New(), ReadMode: mode, SelfURL: "127.0.0.1:1",
			Lookup: func(context.Context, uint32) ([]string, error) { return []string{ownerAddr}, nil }})
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		srv := NewFront(s.Admin, 0)
		go srv.Serve(l)
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Get("http://" + l.Addr().String() + "/3,0a00000002?collection=c")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch mode {
		case "local":
			if resp.StatusCode != 404 {
				t.Errorf("local: %d", resp.StatusCode)
			}
		case "proxy":
			if resp.StatusCode != 200 || !bytes.Equal(body, data) {
				t.Errorf("proxy: %d %q", resp.StatusCode, body)
			}
		case "redirect":
			if want := "http://" + ownerAddr + "/3,0a00000002?collection=c&proxied=true"; resp.StatusCode != 301 || resp.Header.Get("Location") != want {
				t.Errorf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		srv.Shutdown(context.Background())
		store.Close()
	}
}
