package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/internal/weedproc"
)

// The scale workload: one data directory holding many small volumes (10
// needles each), the shape of a node that has been filled and rotated for
// years. It measures what such a node costs before it serves anything:
// time from exec to the first needle served on the first start (page
// cache dropped, no weedvol snapshot files yet) and on a restart, and what
// the idle node holds: anonymous memory (beside the same server on an
// empty directory, per volume), file descriptors and threads.

// scaleNeedles is how many needles each volume of the fixture holds.
const scaleNeedles = 10

// scaleResult is one contender's run on the scale fixture.
type scaleResult struct {
	contender       string
	volumes         int
	first, again    time.Duration // exec to first read
	anon, emptyAnon int64         // after the restart's first read; on an empty directory
	fds, threads    int
}

// scaleResults are rendered by scaleTable.
var scaleResults []scaleResult

// scaleFixture returns a directory of n volumes (ids 1..n) of scaleNeedles
// needles each, built once under cache. The files are in the format both
// servers read (the interop and difftest suites check the engine writes
// what upstream writes).
func scaleFixture(cache string, n int) (string, error) {
	dir := filepath.Join(cache, fmt.Sprintf("scale-%d", n))
	done := filepath.Join(dir, "complete")
	if _, err := os.Stat(done); err == nil {
		return dir, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	data := payload(fixtureDataSize, 7)
	for id := uint32(1); id <= uint32(n); id++ {
		v, err := engine.OpenVolume(engine.VolumeConfig{ID: id, Dir: dir, Create: true})
		if err != nil {
			return "", err
		}
		for key := uint64(1); key <= scaleNeedles; key++ {
			nd := needle.Needle{ID: key, Cookie: cookieOf(key), Data: data}
			if _, err := v.Write(&nd, engine.WriteOptions{}); err != nil {
				v.Close()
				return "", err
			}
		}
		if err := v.Close(); err != nil {
			return "", err
		}
	}
	return dir, os.WriteFile(done, nil, 0o644)
}

// linkScaleFixture hard-links (or copies) every volume file of src into the
// new directory dst.
func linkScaleFixture(src, dst string) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range ents {
		switch filepath.Ext(e.Name()) {
		case ".dat", ".idx", ".vif":
			names = append(names, e.Name())
		}
	}
	return linkFiles(src, dst, names)
}

// scaleStart starts bin on dir and times exec to the first read of a
// needle of volume vid (0: to /healthz only); it samples the process and
// stops it.
func scaleStart(bin string, args []string, dir, master string, slots int, vid uint32) (time.Duration, memory, int, int, error) {
	port, err := weedproc.FreePort()
	if err != nil {
		return 0, memory{}, 0, 0, err
	}
	argv := append([]string{"volume", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-port=" + strconv.Itoa(port),
		"-dir=" + dir, "-max=" + strconv.Itoa(slots), "-mserver=" + master, "-preStopSeconds=0"}, args...)
	t0 := time.Now()
	p, err := weedproc.Start("volume", bin, filepath.Join(dir, "volume.log"), port, argv...)
	if err != nil {
		return 0, memory{}, 0, 0, err
	}
	track(p)
	defer p.Stop()
	url := "http://" + p.Addr() + "/healthz"
	if vid != 0 {
		url = "http://" + p.Addr() + "/" + needle.FormatFid(vid, scaleNeedles, cookieOf(scaleNeedles))
	}
	deadline := t0.Add(5 * time.Minute)
	var took time.Duration
	for {
		if code, _ := get(url); code == http.StatusOK {
			took = time.Since(t0)
			break
		}
		if time.Now().After(deadline) {
			return 0, memory{}, 0, 0, fmt.Errorf("%s: %s not 200 after %v (log %s/volume.log)", bin, url, time.Since(t0), dir)
		}
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // let the first heartbeat go out
	mem, err := processMemory(p.Pid())
	if err != nil {
		return 0, mem, 0, 0, err
	}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.Pid()))
	return took, mem, len(fds), processThreads(p.Pid()), nil
}

// processThreads is the thread count of pid (0 when unknown).
func processThreads(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// scale runs the scale workload for each contender, alternating the order
// each round, under a master of its own.
func scale(cfg config, contenders []contender, n int) error {
	master, err := startMaster(cfg, "master-scale")
	if err != nil {
		return err
	}
	defer master.Stop()
	fmt.Fprintf(os.Stderr, "scale fixture of %d volumes\n", n)
	src, err := scaleFixture(cfg.cache, n)
	if err != nil {
		return fmt.Errorf("scale fixture: %w", err)
	}
	slots := n + n/10 + 8
	for r := 1; r <= cfg.rounds; r++ {
		order := append([]contender(nil), contenders...)
		if r%2 == 0 && len(order) > 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, c := range order {
			name := strings.ReplaceAll(c.name, " ", "")
			empty := filepath.Join(cfg.work, fmt.Sprintf("scale-%s-empty-r%d", name, r))
			if err := os.MkdirAll(empty, 0o755); err != nil {
				return err
			}
			_, emptyMem, _, _, err := scaleStart(c.bin, c.args, empty, master.Addr(), slots, 0)
			if err != nil {
				return err
			}
			os.RemoveAll(empty)
			dir := filepath.Join(cfg.work, fmt.Sprintf("scale-%s-%d-r%d", name, n, r))
			if err := linkScaleFixture(src, dir); err != nil {
				return err
			}
			if err := dropPageCache(); err != nil {
				fmt.Fprintf(os.Stderr, "  (page cache not dropped: %v)\n", err)
			}
			vid := uint32(n/2 + 1)
			first, _, _, _, err := scaleStart(c.bin, c.args, dir, master.Addr(), slots, vid)
			if err != nil {
				return err
			}
			again, mem, fds, threads, err := scaleStart(c.bin, c.args, dir, master.Addr(), slots, vid)
			if err != nil {
				return err
			}
			os.RemoveAll(dir)
			res := scaleResult{contender: c.name, volumes: n, first: first, again: again, anon: mem.Anon, emptyAnon: emptyMem.Anon, fds: fds, threads: threads}
			scaleResults = append(scaleResults, res)
			fmt.Fprintf(os.Stderr, "  %-8s %d volumes: first start %v, restart %v, anon %d MiB (empty %d MiB), %d fds, %d threads\n",
				c.name, n, first, again, mem.Anon>>20, emptyMem.Anon>>20, fds, threads)
		}
	}
	return nil
}

// scaleTable renders the scale results: medians over rounds, and the
// ratio of weedvol's times to upstream's.
func scaleTable(p func(string, ...any)) {
	if len(scaleResults) == 0 {
		return
	}
	by := map[string][]scaleResult{}
	for _, r := range scaleResults {
		by[r.contender] = append(by[r.contender], r)
	}
	med := func(rs []scaleResult, f func(scaleResult) int64) int64 {
		v := make([]int64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		for i := range v {
			for j := i + 1; j < len(v); j++ {
				if v[j] < v[i] {
					v[i], v[j] = v[j], v[i]
				}
			}
		}
		return v[len(v)/2]
	}
	n := scaleResults[0].volumes
	p("\n### Many small volumes (scale)\n\n")
	p("One data dir holding %d volumes of %d needles each (the same files for both). ", n, scaleNeedles)
	p("First start: page cache dropped, exec to the first needle served from volume %d. Restart: the next start on the same dir. ", n/2+1)
	p("Idle cost is sampled 0.5 s after the restart's first read: anonymous RSS (and per volume, beside the same server on an empty dir), open descriptors, threads. Median over rounds.\n\n")
	p("| server | first start | restart | anon RSS | anon per volume | fds | threads |\n")
	p("|---|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range []string{"upstream", "weedvol"} {
		rs := by[c]
		if len(rs) == 0 {
			continue
		}
		first := time.Duration(med(rs, func(r scaleResult) int64 { return int64(r.first) }))
		again := time.Duration(med(rs, func(r scaleResult) int64 { return int64(r.again) }))
		anon := med(rs, func(r scaleResult) int64 { return r.anon })
		per := med(rs, func(r scaleResult) int64 { return (r.anon - r.emptyAnon) / int64(max(r.volumes, 1)) })
		p("| %s | %s | %s | %s | %.1f KiB | %d | %d |\n", c, dur(first), dur(again), mib(anon), float64(per)/1024,
			med(rs, func(r scaleResult) int64 { return int64(r.fds) }), med(rs, func(r scaleResult) int64 { return int64(r.threads) }))
	}
	up, wv := by["upstream"], by["weedvol"]
	if len(up) > 0 && len(wv) > 0 {
		f := func(rs []scaleResult, pick func(scaleResult) time.Duration) float64 {
			return float64(med(rs, func(r scaleResult) int64 { return int64(pick(r)) }))
		}
		p("\nweedvol / upstream: first start %s, restart %s.\n",
			ratio(f(wv, func(r scaleResult) time.Duration { return r.first }), f(up, func(r scaleResult) time.Duration { return r.first })),
			ratio(f(wv, func(r scaleResult) time.Duration { return r.again }), f(up, func(r scaleResult) time.Duration { return r.again })))
	}
}
