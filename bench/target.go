package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/weedvol/weedvol/engine/needle"
)

// target is one running volume server (or the bare bound server) under load:
// where it listens, the volumes the benchmark writes to, and the keys it has
// stored so far, by needle size.
type target struct {
	base   []byte // "http://127.0.0.1:port/"
	small  *fasthttp.HostClient
	stream *fasthttp.HostClient // large bodies, read as a stream and discarded
	vids   []uint32

	mu      sync.Mutex
	written map[int][]uint64 // needle size -> keys stored with that size
	next    atomic.Uint64
}

func newTarget(addr string, clients int, vids []uint32) *target {
	mk := func(stream bool) *fasthttp.HostClient {
		return &fasthttp.HostClient{
			Addr:                addr,
			MaxConns:            clients,
			ReadTimeout:         60 * time.Second,
			WriteTimeout:        60 * time.Second,
			MaxResponseBodySize: 64 << 20,
			StreamResponseBody:  stream,
			ReadBufferSize:      16 << 10,
			WriteBufferSize:     16 << 10,
		}
	}
	return &target{
		base:    []byte("http://" + addr + "/"),
		small:   mk(false),
		stream:  mk(true),
		vids:    vids,
		written: map[int][]uint64{},
	}
}

// setClients resizes the connection pools for a workload's client count
// and closes idle connections, so that every workload starts on fresh ones.
func (t *target) setClients(n int) {
	t.small.CloseIdleConnections()
	t.stream.CloseIdleConnections()
	t.small.MaxConns = n
	t.stream.MaxConns = n
}

func (t *target) client(size int) *fasthttp.HostClient {
	if size >= 256<<10 {
		return t.stream
	}
	return t.small
}

// cookieOf derives a needle's cookie from its key, so a reader needs only
// the key to form the fid.
func cookieOf(key uint64) uint32 { return uint32(key*0x9E3779B97F4A7C15>>32) | 1 }

// fidURI writes the full URL of key's fid into w.uri.
func (t *target) fidURI(w *worker, key uint64) []byte {
	vid := t.vids[key%uint64(len(t.vids))]
	u := append(w.uri[:0], t.base...)
	u = strconv.AppendUint(u, uint64(vid), 10)
	u = append(u, ',')
	u = needle.FormatKeyCookie(u, key, cookieOf(key))
	w.uri = u
	return u
}

func (t *target) keys(size int) []uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.written[size]
}

func (t *target) addKeys(size int, ks []uint64) {
	t.mu.Lock()
	t.written[size] = append(t.written[size], ks...)
	t.mu.Unlock()
}

// write stores payload under a fresh key.
func (t *target) write(w *worker, payload []byte) (int, error) {
	key := t.next.Add(1)
	req, resp := w.req, w.resp
	req.Reset()
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURIBytes(t.fidURI(w, key))
	req.Header.SetContentType("application/octet-stream")
	req.SetBodyRaw(payload)
	if err := t.client(len(payload)).Do(req, resp); err != nil {
		return 0, err
	}
	if sc := resp.StatusCode(); sc != fasthttp.StatusCreated {
		return 0, errStatus{fasthttp.StatusCreated, sc, "write"}
	}
	w.written = append(w.written, key)
	return len(payload), nil
}

// read fetches key and checks that size bytes came back.
func (t *target) read(w *worker, key uint64, size int) (int, error) {
	return t.readURI(w, t.fidURI(w, key), size)
}

// readURI fetches uri and checks that size bytes came back.
func (t *target) readURI(w *worker, uri []byte, size int) (int, error) {
	req, resp := w.req, w.resp
	req.Reset()
	req.SetRequestURIBytes(uri)
	c := t.client(size)
	if err := c.Do(req, resp); err != nil {
		return 0, err
	}
	// BodyStream first: Body would read a streamed body into memory.
	var n int
	if s := resp.BodyStream(); s != nil {
		w.sink.n = 0
		_, err := io.CopyBuffer(&w.sink, s, w.buf())
		resp.CloseBodyStream()
		if err != nil {
			return 0, err
		}
		n = int(w.sink.n)
	} else {
		n = len(resp.Body())
	}
	if sc := resp.StatusCode(); sc != fasthttp.StatusOK {
		return 0, errStatus{fasthttp.StatusOK, sc, "read"}
	}
	if n != size {
		return 0, errShortBody
	}
	return n, nil
}

// remove deletes key.
func (t *target) remove(w *worker, key uint64) (int, error) {
	req, resp := w.req, w.resp
	req.Reset()
	req.Header.SetMethod(fasthttp.MethodDelete)
	req.SetRequestURIBytes(t.fidURI(w, key))
	if err := t.small.Do(req, resp); err != nil {
		return 0, err
	}
	if sc := resp.StatusCode(); sc != fasthttp.StatusAccepted {
		return 0, errStatus{fasthttp.StatusAccepted, sc, "delete"}
	}
	return 0, nil
}

func (w *worker) buf() []byte {
	if w.copyBuf == nil {
		w.copyBuf = make([]byte, 256<<10)
	}
	return w.copyBuf
}

// zipfIndex picks an index below n with a Zipf (hot-set) distribution:
// low indexes, the earliest written needles, are the hot ones.
func (w *worker) zipfIndex(n int) int {
	if w.zipf == nil || w.zipfN != n {
		w.zipf = rand.NewZipf(w.rng, 1.1, 1, uint64(n-1))
		w.zipfN = n
	}
	return int(w.zipf.Uint64())
}

// volumeStatus is the part of a volume server's /status the benchmark reads.
type volumeStatus struct {
	Volumes []struct {
		Id         uint32
		Collection string
	}
}

// growVolumes has the master create count volumes of collection on the one
// volume server registered with it and returns their ids as that server
// reports them.
func growVolumes(master, server, collection string, count int) ([]uint32, error) {
	resp, err := http.Get(fmt.Sprintf("http://%s/vol/grow?collection=%s&count=%d", master, collection, count))
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("grow %s: %d %s", collection, resp.StatusCode, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st volumeStatus
		resp, err := http.Get("http://" + server + "/status")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
		}
		var vids []uint32
		for _, v := range st.Volumes {
			if v.Collection == collection {
				vids = append(vids, v.Id)
			}
		}
		if len(vids) >= count {
			return vids, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("server %s lists %d of %d volumes of %s (last error %v)", server, len(vids), count, collection, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
