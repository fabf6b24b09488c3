package reliability

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weedvol/weedvol/internal/weedproc"
)

var (
	flagCycles   = flag.Int("crash.cycles", 0, "crash cycles to run (0: $CRASH_CYCLES, or the short default of 4)")
	flagSeed     = flag.Uint64("crash.seed", 0, "seed of the data, sizes, timings and cuts (0: from the clock)")
	flagWriters  = flag.Int("crash.writers", 16, "concurrent writers")
	flagVolumes  = flag.Int("crash.volumes", 4, "volumes to write to")
	flagCutEvery = flag.Int("crash.cutEvery", 3, "cut file tails in every n-th cycle (0: never)")
	flagReverify = flag.Int("crash.reverifyMB", 512, "most bytes of earlier cycles' files read again per cycle (0: all)")
	flagDir      = flag.String("crash.dir", "", "work directory, kept afterwards (default: a temporary one)")
)

const shortCycles = 4

func cycleCount(t *testing.T) int {
	if *flagCycles > 0 {
		return *flagCycles
	}
	if s := os.Getenv("CRASH_CYCLES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("CRASH_CYCLES=%q: want a positive number", s)
		}
		return n
	}
	return shortCycles
}

// findBinary finds a server binary; without it the test skips, except in CI.
func findBinary(t *testing.T, env, name string) string {
	return weedproc.TestBinary(t, env, name)
}

// run is one TestCrash run: the servers, the writers and their files.
type run struct {
	t       *testing.T
	rng     *rand.Rand // timings and cuts; used by the test goroutine only
	seed    uint64
	dataDir string
	master  *weedproc.Process
	vol     *weedproc.Process

	transport *http.Transport
	client    *http.Client

	vids     []uint32 // every volume written to
	writable []uint32 // those open for writes
	writers  []*writer
	tally    tally

	// killed is set just before the SIGKILL: request errors after it are
	// the kill's doing.
	killed atomic.Bool

	acked, deleted int // acknowledged writes and deletes, all cycles
	cycles         int
	reverifyAt     int // where the rotating re-read of old files resumes
}

func TestCrash(t *testing.T) {
	weed := findBinary(t, "WEED_BINARY", "weed")
	weedvol := findBinary(t, "WEEDVOL_BINARY", "weedvol")
	cycles := cycleCount(t)
	seed := *flagSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	work := *flagDir
	if work == "" {
		work = t.TempDir()
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	} else if ents, _ := os.ReadDir(work); len(ents) > 0 {
		t.Fatalf("-crash.dir=%s: want a new or empty directory", work)
	}
	masterDir, dataDir := filepath.Join(work, "master"), filepath.Join(work, "data")
	for _, d := range []string{masterDir, dataDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("crash: %d cycles, seed %d (-crash.seed=%d gives the same file bytes per key and the same cut draws), work dir %s", cycles, seed, seed, work)

	setup := time.Now()
	master, err := weedproc.StartMaster(weed, masterDir, "-volumeSizeLimitMB=64")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Stop() })
	masterUp := time.Since(setup)
	vol, err := weedproc.StartVolume(weedvol, dataDir, work, master.Addr())
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 4 * *flagWriters, DisableCompression: true, IdleConnTimeout: 5 * time.Second}
	r := &run{
		t: t, rng: rand.New(rand.NewPCG(seed, 0x6b696c6c)), seed: seed, dataDir: dataDir,
		master: master, vol: vol, transport: tr,
		client: &http.Client{Transport: tr, Timeout: 60 * time.Second},
	}
	t.Cleanup(func() { r.vol.Stop(); tr.CloseIdleConnections() })
	volUp := time.Since(setup) - masterUp
	if err := r.allocate(*flagVolumes); err != nil {
		t.Fatal(err)
	}
	t.Logf("volumes %v on weedvol %s (pid %d); set-up: master %v, weedvol %v, volumes %v", r.vids, r.vol.Addr(), r.vol.Pid(),
		masterUp.Round(time.Millisecond), volUp.Round(time.Millisecond), (time.Since(setup) - masterUp - volUp).Round(time.Millisecond))
	for i := range *flagWriters {
		r.writers = append(r.writers, newWriter(i, seed))
	}
	start := time.Now()
	for c := range cycles {
		if !r.cycle(c, c == cycles-1) {
			break
		}
	}
	t.Logf("%s (%v)", r.summary(), time.Since(start).Round(time.Millisecond))
	t.Logf("allowed outcomes: %s", r.tally.outcomeLine())
	if r.tally.failed() {
		t.Errorf("crash test found problems:\n%s\nweedvol log %s, last lines:\n%s",
			r.tally.details(), r.vol.LogPath(), logTail(r.vol.LogPath(), 40))
	}
}

func (r *run) summary() string {
	return fmt.Sprintf("crash: %d cycles, %d acknowledged writes, %d deletes, %s",
		r.cycles, r.acked, r.deleted, r.tally.line())
}

// allocate has the master grow n volumes on weedvol and waits for weedvol
// to list them.
func (r *run) allocate(n int) error {
	resp, err := http.Get("http://" + r.master.Addr() + "/vol/grow?replication=000&count=" + strconv.Itoa(n))
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("grow %d volumes: %s: %s", n, resp.Status, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		vols, err := r.volumes()
		if err == nil && len(vols) >= n {
			for _, v := range vols {
				r.vids = append(r.vids, v.ID)
			}
			slices.Sort(r.vids)
			r.writable = slices.Clone(r.vids)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("weedvol lists %d volumes (%v) after growing %d: %s", len(vols), err, n, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type volumeStatus struct {
	ID       uint32 `json:"Id"`
	Size     uint64 `json:"Size"`
	ReadOnly bool   `json:"ReadOnly"`
}

// volumes lists the volumes weedvol's /status shows.
func (r *run) volumes() ([]volumeStatus, error) {
	resp, err := r.client.Get("http://" + r.vol.Addr() + "/status")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var st struct {
		Volumes []volumeStatus `json:"Volumes"`
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/status: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("/status: %w", err)
	}
	return st.Volumes, nil
}

// cycle runs one load, kill, (cut,) restart and verify round. It returns
// false when weedvol could not be brought back.
func (r *run) cycle(c int, last bool) bool {
	t := r.t
	r.cycles++
	r.killed.Store(false)
	loadFor := 300*time.Millisecond + time.Duration(r.rng.Int64N(int64(2200*time.Millisecond)))
	var stop atomic.Bool
	var wg sync.WaitGroup
	for _, w := range r.writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.load(r, c, r.writable, &stop)
		}()
	}
	time.Sleep(loadFor)
	r.killed.Store(true)
	if r.vol.Exited() {
		r.tally.add(catUnexpected, "weedvol", "running under load", "it had exited before the kill")
	}
	if err := r.vol.Kill(); err != nil {
		t.Logf("cycle %d: kill: %v", c, err)
	}
	stop.Store(true)
	wg.Wait()
	r.transport.CloseIdleConnections()

	var acked, deleted, inW, inD int
	for _, w := range r.writers {
		acked += w.cycleAcked
		deleted += w.cycleDeleted
		for _, e := range w.entries {
			switch e.state {
			case stPendingWrite:
				inW++
			case stPendingDelete:
				inD++
			}
		}
	}
	r.acked += acked
	r.deleted += deleted
	cutNote := ""
	if *flagCutEvery > 0 && c%*flagCutEvery == *flagCutEvery-1 {
		notes, err := r.cutTails()
		if err != nil {
			t.Errorf("cycle %d: cutting tails: %v", c, err)
			return false
		}
		cutNote = "; cut " + notes
	}

	restartStart := time.Now()
	if !r.restart(c) {
		return false
	}
	restartTook := time.Since(restartStart)
	verifyStart := time.Now()
	n, bytes := r.verify(c, last)
	t.Logf("cycle %d: %v of load: %d writes and %d deletes acknowledged, %d writes and %d deletes in flight at the kill%s; restart %v; read %d files (%d MB) in %v; %s",
		c, loadFor.Round(time.Millisecond), acked, deleted, inW, inD, cutNote, restartTook.Round(time.Millisecond),
		n, bytes>>20, time.Since(verifyStart).Round(time.Millisecond), r.tally.line())
	return true
}

// restart brings weedvol back on its directory and port and checks that it
// serves every volume, writable. A start that fails is tried once more.
//
// Another test process may take the port for a moment while weedvol is
// down (weedproc.FreePort probes ports by binding them): a start that
// fails on "address already in use" is retried and not counted.
func (r *run) restart(c int) bool {
	failures := 0
	for busy := 0; ; {
		logStart := fileSize(r.vol.LogPath())
		p, err := r.vol.Restart("/status", 60*time.Second)
		if p != nil {
			r.vol = p
		}
		if err == nil {
			break
		}
		if p != nil {
			_ = p.Kill()
		}
		startLog := logFrom(r.vol.LogPath(), logStart)
		if p != nil && busy < 5 && strings.Contains(startLog, "address already in use") {
			busy++
			r.t.Logf("cycle %d: restart: port taken, retrying: %v", c, err)
			time.Sleep(time.Second)
			continue
		}
		failures++
		r.tally.add(catFailedRestart, fmt.Sprintf("cycle %d, start %d", c, failures), "/status 200 within 60s",
			err.Error()+"\n"+lastLines(startLog, 20))
		if p == nil || failures == 2 {
			r.t.Errorf("cycle %d: weedvol does not come back; stopping", c)
			return false
		}
	}
	vols, err := r.volumes()
	if err != nil {
		r.tally.add(catFailedRestart, fmt.Sprintf("cycle %d", c), "/status listing the volumes", err.Error())
		return false
	}
	byID := map[uint32]volumeStatus{}
	for _, v := range vols {
		byID[v.ID] = v
	}
	r.writable = r.writable[:0]
	for _, id := range r.vids {
		v, ok := byID[id]
		switch {
		case !ok:
			r.tally.add(catFailedRestart, fmt.Sprintf("volume %d, cycle %d", id, c), "served after the restart", "missing from /status")
		case v.ReadOnly:
			r.tally.add(catReadOnly, fmt.Sprintf("volume %d, cycle %d", id, c), "writable after the restart", "read-only")
		default:
			r.writable = append(r.writable, id)
		}
	}
	if len(r.writable) == 0 {
		r.t.Errorf("cycle %d: no writable volume left; stopping", c)
		return false
	}
	return true
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// logFrom returns the file at path from byte off on.
func logFrom(path string, off int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if off > int64(len(b)) {
		off = 0
	}
	return string(b[off:])
}

// logTail returns the last n lines of the file at path.
func logTail(path string, n int) string {
	return lastLines(logFrom(path, 0), n)
}

func lastLines(b string, n int) string {
	end := len(b)
	for end > 0 && b[end-1] == '\n' {
		end--
	}
	start := end
	for lines := 0; start > 0; start-- {
		if b[start-1] == '\n' {
			lines++
			if lines == n {
				break
			}
		}
	}
	return b[start:end]
}
