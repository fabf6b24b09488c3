package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/internal/weedproc"
)

// startup is one server start on a fixture.
type startup struct {
	healthz   time.Duration // exec until /healthz answers 200
	firstRead time.Duration // exec until a stored needle is served
	mem       memory        // after the first read
}

// pollClient gives up on a connection quickly: a server that is not
// listening yet refuses at once, one that is loading may not answer.
var pollClient = &http.Client{
	Timeout:   2 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

func get(url string) (int, error) {
	resp, err := pollClient.Get(url)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// measureStart starts bin on dir (a volume server of master), times how
// long it takes to answer /healthz and then to serve needle key of the
// fixture, samples its memory and stops it.
func measureStart(bin string, args []string, dir, master string, key uint64) (startup, error) {
	var s startup
	port, err := weedproc.FreePort()
	if err != nil {
		return s, err
	}
	argv := append([]string{"volume", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-port=" + strconv.Itoa(port),
		"-dir=" + dir, "-max=16", "-mserver=" + master, "-preStopSeconds=0"}, args...)
	t0 := time.Now()
	p, err := weedproc.Start("volume", bin, filepath.Join(dir, "volume.log"), port, argv...)
	if err != nil {
		return s, err
	}
	track(p)
	defer p.Stop()
	base := "http://" + p.Addr()
	fid := base + "/" + needle.FormatFid(fixtureVolume, key, cookieOf(key))
	deadline := t0.Add(5 * time.Minute)
	for {
		if code, _ := get(base + "/healthz"); code == http.StatusOK {
			s.healthz = time.Since(t0)
			break
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("%s: /healthz not 200 after %v (log %s/volume.log)", bin, time.Since(t0), dir)
		}
		time.Sleep(2 * time.Millisecond)
	}
	for {
		code, _ := get(fid)
		if code == http.StatusOK {
			s.firstRead = time.Since(t0)
			break
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("%s: %s answers %d after %v", bin, fid, code, time.Since(t0))
		}
		time.Sleep(2 * time.Millisecond)
	}
	s.mem, err = processMemory(p.Pid())
	return s, err
}
