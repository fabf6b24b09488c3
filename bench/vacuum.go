package main

// The vacuum workload: how each server serves reads and writes while one of
// its volumes is vacuumed under that load.
//
// A fixture volume (about -vacuum-size of .dat, needles of 4 KB to 256 KB
// with log-uniform sizes, 30 % of them deleted) is written once through
// upstream `weed volume` and kept under -cache. Each contender, each round,
// gets a synced copy of its files in a fresh directory, under a master of
// its own, and -clients clients read live 4-16 KB needles in closed loop
// (every body checked byte for byte against the content its key derives),
// writing fresh 4-16 KB needles to the same volume at -vacuum-write-rate
// between their reads. After a warm-up, a baseline window of
// -vacuum-window is measured; then, with the load still running, the bench
// itself drives the vacuum over gRPC as the master does (VacuumVolumeCheck,
// VacuumVolumeCompact, VacuumVolumeCommit; VacuumVolumeCleanup when a step
// fails), timing compact and commit exactly. When the commit returns, the
// load stops and every needle is read back: live ones (fixture and load
// writes) must come back byte-identical, deleted ones must be 404.
//
// Every port the vacuum runs use, gRPC included, is below 22000: masters
// and volume servers are given explicit -port.grpc values instead of the
// default HTTP port + 10000.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"github.com/valyala/fasthttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/weedvol/weedvol/internal/weedproc"
)

// Shape of the vacuum fixture and load.
const (
	vacMinSize = 4 << 10   // smallest fixture needle
	vacMaxSize = 256 << 10 // largest fixture needle
	vacLoadMin = 4 << 10   // smallest needle the load reads or writes
	vacLoadMax = 16 << 10  // largest needle the load reads or writes
	// vacDeletePercent of the fixture's needles (picked by key hash, so
	// about the same share of its bytes) are deleted before the runs.
	vacDeletePercent = 30
	// vacLoadKeys is where the keys of the load's writes start, far above
	// the fixture's keys.
	vacLoadKeys uint64 = 1 << 40
	// vacFormat names the fixture generator; bump it when the functions
	// below change, so that a stale cached fixture is not reused.
	vacFormat = 1
	// vacPoolSize is the random pool every needle's content is cut from.
	vacPoolSize = 4 << 20
)

// Phases a request of the vacuum load is counted in.
const (
	phaseBaseline = iota
	phaseVacuum
	phases
)

// Operations of the vacuum load.
const (
	opRead = iota
	opWrite
	ops
)

var phaseNames = [phases]string{"baseline", "vacuum"}

// vacPool is the deterministic random pool needle contents are cut from.
var vacPool = sync.OnceValue(func() []byte { return payload(vacPoolSize, 0xfacade) })

// mix64 is splitmix64's finaliser: a well-spread hash of x.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// vacSize is the payload size of key: log-uniform over 4 KB-256 KB for the
// fixture's keys, uniform over 4 KB-16 KB for the load's writes.
func vacSize(key uint64) int {
	h := mix64(key ^ 0x51ce)
	if key > vacLoadKeys {
		return vacLoadMin + int(h%uint64(vacLoadMax-vacLoadMin+1))
	}
	u := float64(h>>11) / (1 << 53)
	n := int(float64(vacMinSize) * math.Exp(u*math.Log(float64(vacMaxSize)/float64(vacMinSize))))
	return min(max(n, vacMinSize), vacMaxSize)
}

// vacDeleted reports whether the fixture deletes key.
func vacDeleted(key uint64) bool { return mix64(key^0xde1e7e)%100 < vacDeletePercent }

// vacOffset is where in the pool key's content (after its first 8 bytes)
// starts.
func vacOffset(key uint64) int { return int(mix64(key^0x0ff5e7) % uint64(vacPoolSize-vacMaxSize)) }

// vacContent appends to dst[:0] the content of key: the key itself (8 bytes,
// little-endian, so no two needles hold the same bytes) and size-8 bytes of
// the pool from key's offset.
func vacContent(dst []byte, key uint64, size int) []byte {
	dst = binary.LittleEndian.AppendUint64(dst[:0], key)
	off := vacOffset(key)
	return append(dst, vacPool()[off:off+size-8]...)
}

// vacMatches reports whether body is exactly key's content.
func vacMatches(body []byte, key uint64) bool {
	size := vacSize(key)
	if len(body) != size || binary.LittleEndian.Uint64(body) != key {
		return false
	}
	off := vacOffset(key)
	return bytes.Equal(body[8:], vacPool()[off:off+size-8])
}

// vacFixture is the manifest of a built vacuum fixture.
type vacFixture struct {
	Dir          string `json:"-"` // holds the volume's .dat, .idx, .vif
	Volume       uint32 // the volume's id
	Keys         uint64 // keys 1..Keys were written
	Bytes        int64  // payload bytes written
	Deleted      int    // keys deleted
	DeletedBytes int64  // payload bytes of the deleted keys
	DatSize      int64  // size of the .dat after the deletes
}

// cluster is a master and one volume server started by the vacuum runs,
// with every port below 22000.
type cluster struct {
	master, volume *weedproc.Process
	grpcAddr       string // the volume server's gRPC address
}

func (c *cluster) stop() {
	if c == nil {
		return
	}
	c.volume.Stop()
	c.master.Stop()
}

// startCluster starts an upstream master with its metadata in dir/master
// and bin as a volume server serving dataDir, logging into dir, and waits
// until the master lists the volume server.
func startCluster(weed, bin, dir, dataDir string, volArgs []string) (*cluster, error) {
	mdir := filepath.Join(dir, "master")
	if err := os.MkdirAll(mdir, 0o755); err != nil {
		return nil, err
	}
	mgrpc, err := weedproc.FreePort()
	if err != nil {
		return nil, err
	}
	// No automatic vacuum sweep may interfere with the one the bench drives.
	master, err := weedproc.StartMaster(weed, mdir, "-port.grpc="+strconv.Itoa(mgrpc), "-vacuumIntervalSeconds=86400")
	if err != nil {
		return nil, err
	}
	track(master)
	c := &cluster{master: master}
	vport, err1 := weedproc.FreePort()
	vgrpc, err2 := weedproc.FreePort()
	if err := errors.Join(err1, err2); err != nil {
		master.Stop()
		return nil, err
	}
	argv := append([]string{"volume", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-port=" + strconv.Itoa(vport), "-port.grpc=" + strconv.Itoa(vgrpc),
		"-dir=" + dataDir, "-max=8", "-mserver=" + master.Addr() + "." + strconv.Itoa(mgrpc),
		"-preStopSeconds=0"}, volArgs...)
	v, err := weedproc.Start("volume", bin, filepath.Join(dir, "volume.log"), vport, argv...)
	if err != nil {
		master.Stop()
		return nil, err
	}
	track(v)
	c.volume, c.grpcAddr = v, "127.0.0.1:"+strconv.Itoa(vgrpc)
	if err := v.WaitHTTP("/status", 60*time.Second); err != nil {
		c.stop()
		return nil, err
	}
	want := []byte(`"` + v.Addr())
	for deadline := time.Now().Add(60 * time.Second); ; {
		resp, err := http.Get("http://" + master.Addr() + "/dir/status")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if bytes.Contains(b, want) {
				return c, nil
			}
		}
		if time.Now().After(deadline) || v.Exited() {
			c.stop()
			return nil, fmt.Errorf("%s did not register with the master (log %s)", bin, v.LogPath())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitVolume waits until server's /status lists volume vid.
func waitVolume(server string, vid uint32) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		var st volumeStatus
		resp, err := http.Get("http://" + server + "/status")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
		}
		for _, v := range st.Volumes {
			if v.Id == vid {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not list volume %d (last error %v)", server, vid, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// vacuumFixture returns the fixture for cfg.vacuumSize, building it under
// cfg.cache through upstream `weed volume` when it is not there yet.
func vacuumFixture(cfg config) (vacFixture, error) {
	root := filepath.Join(cfg.cache, fmt.Sprintf("vacuum-v%d-%d", vacFormat, cfg.vacuumSize))
	manifest := filepath.Join(root, "manifest.json")
	var fx vacFixture
	if b, err := os.ReadFile(manifest); err == nil && json.Unmarshal(b, &fx) == nil && fx.Volume != 0 {
		fx.Dir = filepath.Join(root, "data")
		return fx, nil
	}
	if err := os.RemoveAll(root); err != nil {
		return fx, err
	}
	fx.Dir = filepath.Join(root, "data")
	if err := os.MkdirAll(fx.Dir, 0o755); err != nil {
		return fx, err
	}
	fmt.Fprintf(os.Stderr, "vacuum fixture: writing %d MB through upstream into %s\n", cfg.vacuumSize>>20, root)
	c, err := startCluster(cfg.weed, cfg.weed, root, fx.Dir, nil)
	if err != nil {
		return fx, err
	}
	defer c.stop()
	vids, err := growVolumes(c.master.Addr(), c.volume.Addr(), "", 1)
	if err != nil {
		return fx, err
	}
	fx.Volume = vids[0]
	for fx.Bytes < cfg.vacuumSize {
		fx.Keys++
		fx.Bytes += int64(vacSize(fx.Keys))
	}
	t := newTarget(c.volume.Addr(), 8, []uint32{fx.Volume})
	all := make([]uint64, fx.Keys)
	for i := range all {
		all[i] = uint64(i) + 1
	}
	if err := vacEach(all, 8, func(w *vacWorker, key uint64) error { return vacWrite(t, w, key) }); err != nil {
		return fx, err
	}
	var dead []uint64
	for _, k := range all {
		if vacDeleted(k) {
			dead = append(dead, k)
			fx.Deleted++
			fx.DeletedBytes += int64(vacSize(k))
		}
	}
	if err := vacEach(dead, 8, func(w *vacWorker, key uint64) error { _, err := t.remove(w.worker, key); return err }); err != nil {
		return fx, err
	}
	if err := c.volume.Stop(); err != nil {
		return fx, err
	}
	base := filepath.Join(fx.Dir, strconv.Itoa(int(fx.Volume)))
	st, err := os.Stat(base + ".dat")
	if err != nil {
		return fx, err
	}
	fx.DatSize = st.Size()
	for _, ext := range []string{".idx", ".vif"} {
		if _, err := os.Stat(base + ext); err != nil {
			return fx, fmt.Errorf("upstream left no %s: %w", ext, err)
		}
	}
	b, err := json.MarshalIndent(fx, "", "  ")
	if err != nil {
		return fx, err
	}
	return fx, os.WriteFile(manifest, b, 0o644)
}

// vacEach runs fn for every key on the given number of workers and returns
// the first error.
func vacEach(keys []uint64, workers int, fn func(w *vacWorker, key uint64) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newVacWorker(i)
			defer w.release()
			for {
				j := next.Add(1) - 1
				if j >= int64(len(keys)) {
					return
				}
				if err := fn(w, keys[j]); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(len(keys)))
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// vacWorker is one client of the vacuum runs: a load worker and the buffer
// its uploads are built in.
type vacWorker struct {
	*worker
	body []byte
}

func newVacWorker(i int) *vacWorker {
	return &vacWorker{
		worker: &worker{
			id:   i,
			rng:  rand.New(rand.NewPCG(uint64(i)+1, uint64(time.Now().UnixNano()))),
			req:  fasthttp.AcquireRequest(),
			resp: fasthttp.AcquireResponse(),
			uri:  make([]byte, 0, 64),
		},
		body: make([]byte, 0, vacMaxSize),
	}
}

func (w *vacWorker) release() {
	fasthttp.ReleaseRequest(w.req)
	fasthttp.ReleaseResponse(w.resp)
}

// vacWrite stores key's content under key.
func vacWrite(t *target, w *vacWorker, key uint64) error {
	w.body = vacContent(w.body, key, vacSize(key))
	req, resp := w.req, w.resp
	req.Reset()
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURIBytes(t.fidURI(w.worker, key))
	req.Header.SetContentType("application/octet-stream")
	req.SetBodyRaw(w.body)
	if err := t.small.Do(req, resp); err != nil {
		return fmt.Errorf("write %d: %w", key, err)
	}
	if sc := resp.StatusCode(); sc != fasthttp.StatusCreated {
		return fmt.Errorf("write %d: status %d, want 201", key, sc)
	}
	return nil
}

// errWrongBytes is a read that answered 200 with bytes other than the
// needle's.
var errWrongBytes = errors.New("read returned wrong bytes")

// vacRead fetches key and checks its content (live) or its 404 (deleted).
func vacRead(t *target, w *vacWorker, key uint64, deleted bool) error {
	req, resp := w.req, w.resp
	req.Reset()
	req.SetRequestURIBytes(t.fidURI(w.worker, key))
	if err := t.small.Do(req, resp); err != nil {
		return fmt.Errorf("read %d: %w", key, err)
	}
	sc := resp.StatusCode()
	switch {
	case deleted && sc == fasthttp.StatusNotFound:
		return nil
	case deleted:
		return fmt.Errorf("read of deleted %d: status %d, want 404", key, sc)
	case sc != fasthttp.StatusOK:
		return fmt.Errorf("read %d: status %d, want 200: %.120q", key, sc, resp.Body())
	case !vacMatches(resp.Body(), key):
		return fmt.Errorf("read %d: %w (%d bytes)", key, errWrongBytes, len(resp.Body()))
	}
	return nil
}

// vacStats is what one run of one contender measured.
type vacStats struct {
	hist     [phases][ops]*hdrhistogram.Histogram
	errors   [phases][ops]int64
	firstErr [phases]string
	// the vacuum window's requests split: those that ended before the
	// commit began, and those that overlapped the commit
	compactHist, commitHist [ops]*hdrhistogram.Histogram
	window                  [phases]time.Duration
	compact                 time.Duration
	commit                  time.Duration
	vacErr                  string // a failed vacuum step
	garbage                 float64
	garbageLeft             float64
	sizeAfter               uint64
	written                 int // load writes acknowledged
	checked                 int // needles read back after the vacuum
	checkFailed             int
	checkFirst              string
}

func newVacStats() *vacStats {
	s := &vacStats{}
	for p := range s.hist {
		for o := range s.hist[p] {
			s.hist[p][o] = newHist()
		}
	}
	for o := range s.commitHist {
		s.compactHist[o], s.commitHist[o] = newHist(), newHist()
	}
	return s
}

// merge adds o's measurements to s (compact and commit times are kept per
// round by the report, not here).
func (s *vacStats) merge(o *vacStats) {
	for p := range s.hist {
		for op := range s.hist[p] {
			s.hist[p][op].Merge(o.hist[p][op])
			s.errors[p][op] += o.errors[p][op]
		}
		if s.firstErr[p] == "" {
			s.firstErr[p] = o.firstErr[p]
		}
		s.window[p] += o.window[p]
	}
	for op := range s.commitHist {
		s.compactHist[op].Merge(o.compactHist[op])
		s.commitHist[op].Merge(o.commitHist[op])
	}
	s.written += o.written
	s.checked += o.checked
	s.checkFailed += o.checkFailed
	if s.checkFirst == "" {
		s.checkFirst = o.checkFirst
	}
	if s.vacErr == "" {
		s.vacErr = o.vacErr
	}
}

// vacuumBench runs the vacuum workload for each contender, round after
// round with the order alternating, and adds the results to rep.
func vacuumBench(cfg config, contenders []contender, rep *report) error {
	vr := &vacReport{started: time.Now(), runs: map[string][]*vacStats{}}
	rep.vacuum = vr
	fx, err := vacuumFixture(cfg)
	if err != nil {
		return fmt.Errorf("vacuum fixture: %w", err)
	}
	vr.fixture = fx
	for r := 1; r <= cfg.rounds; r++ {
		order := append([]contender(nil), contenders...)
		if r%2 == 0 && len(order) > 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, c := range order {
			fmt.Fprintf(os.Stderr, "vacuum round %d: %s\n", r, c.name)
			s, err := vacuumRun(cfg, r, c, fx)
			if err != nil {
				return fmt.Errorf("vacuum round %d, %s: %w", r, c.name, err)
			}
			if !slices.Contains(vr.order, c.name) {
				vr.order = append(vr.order, c.name)
			}
			vr.runs[c.name] = append(vr.runs[c.name], s)
			fmt.Fprintf(os.Stderr, "  reads p99 %s -> %s, writes p99 %s -> %s, max %s / %s, compact %v, commit %v, errors %d, check %d/%d failed\n",
				us(s.hist[0][opRead].ValueAtQuantile(99)), us(s.hist[1][opRead].ValueAtQuantile(99)),
				us(s.hist[0][opWrite].ValueAtQuantile(99)), us(s.hist[1][opWrite].ValueAtQuantile(99)),
				us(s.hist[1][opRead].Max()), us(s.hist[1][opWrite].Max()),
				s.compact.Round(time.Millisecond), s.commit.Round(time.Millisecond),
				s.errors[0][0]+s.errors[0][1]+s.errors[1][0]+s.errors[1][1], s.checkFailed, s.checked)
		}
	}
	vr.finished = time.Now()
	return nil
}

// vacuumRun is one contender's run on a fresh copy of the fixture.
func vacuumRun(cfg config, round int, c contender, fx vacFixture) (*vacStats, error) {
	dir := filepath.Join(cfg.work, fmt.Sprintf("vacuum-%s-r%d", strings.ReplaceAll(c.name, " ", ""), round))
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// A copy, not hard links: the run appends to the .dat and the .idx.
	// The copies are synced, so the run starts, as on a server that has
	// held the volume for a while, with no dirty pages of the fixture left
	// for a server's fsync to write back.
	for _, ext := range []string{".dat", ".idx", ".vif"} {
		name := strconv.Itoa(int(fx.Volume)) + ext
		if err := copySynced(filepath.Join(fx.Dir, name), filepath.Join(data, name)); err != nil {
			return nil, err
		}
	}
	cl, err := startCluster(cfg.weed, c.bin, dir, data, c.args)
	if err != nil {
		return nil, err
	}
	defer cl.stop()
	if err := waitVolume(cl.volume.Addr(), fx.Volume); err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(cl.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	vs := volume_server_pb.NewVolumeServerClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	var live []uint64
	for k := uint64(1); k <= fx.Keys; k++ {
		if s := vacSize(k); !vacDeleted(k) && s >= vacLoadMin && s <= vacLoadMax {
			live = append(live, k)
		}
	}
	if len(live) == 0 {
		return nil, errors.New("the fixture has no live 4-16 KB needles to read")
	}
	t := newTarget(cl.volume.Addr(), cfg.writeClients, []uint32{fx.Volume})
	s := newVacStats()
	lg := &vacLoad{t: t, live: live, writeRate: cfg.vacuumWriteRate, stats: s}
	lg.start(cfg.writeClients)

	warm := min(time.Second, cfg.vacuumWindow/2)
	time.Sleep(warm)
	lg.mark(&lg.baseStart)
	time.Sleep(cfg.vacuumWindow)
	lg.mark(&lg.vacStart)
	s.vacErr = vacuumVolume(ctx, vs, fx.Volume, s, func() { lg.mark(&lg.commitStart) })
	lg.mark(&lg.vacEnd)
	written := lg.stop()
	s.window[phaseBaseline] = time.Duration(lg.vacStart.Load() - lg.baseStart.Load())
	s.window[phaseVacuum] = time.Duration(lg.vacEnd.Load() - lg.vacStart.Load())
	s.written = len(written)
	if resp, err := vs.VacuumVolumeCheck(ctx, &volume_server_pb.VacuumVolumeCheckRequest{VolumeId: fx.Volume}); err == nil {
		s.garbageLeft = resp.GetGarbageRatio()
	}

	// Every needle back: the fixture's (live and deleted) and the load's.
	all := make([]uint64, 0, int(fx.Keys)+len(written))
	for k := uint64(1); k <= fx.Keys; k++ {
		all = append(all, k)
	}
	all = append(all, written...)
	var mu sync.Mutex
	vacEach(all, cfg.writeClients, func(w *vacWorker, key uint64) error {
		err := vacRead(t, w, key, key <= fx.Keys && vacDeleted(key))
		mu.Lock()
		s.checked++
		if err != nil {
			s.checkFailed++
			if s.checkFirst == "" {
				s.checkFirst = err.Error()
			}
		}
		mu.Unlock()
		return nil
	})
	return s, nil
}

// copySynced copies the file from to the new file to and fsyncs it.
func copySynced(from, to string) error {
	if err := copyFile(from, to); err != nil {
		return err
	}
	f, err := os.OpenFile(to, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// vacuumVolume vacuums vid as the master does, timing compact and commit
// into s; commitStarts is called as the commit is sent. It returns the
// failed step's error text, or "".
func vacuumVolume(ctx context.Context, vs volume_server_pb.VolumeServerClient, vid uint32, s *vacStats, commitStarts func()) string {
	check, err := vs.VacuumVolumeCheck(ctx, &volume_server_pb.VacuumVolumeCheckRequest{VolumeId: vid})
	if err != nil {
		return "check: " + err.Error()
	}
	s.garbage = check.GetGarbageRatio()
	cleanup := func(step string, err error) string {
		_, cerr := vs.VacuumVolumeCleanup(ctx, &volume_server_pb.VacuumVolumeCleanupRequest{VolumeId: vid})
		msg := step + ": " + err.Error()
		if cerr != nil {
			msg += "; cleanup: " + cerr.Error()
		}
		return msg
	}
	t0 := time.Now()
	stream, err := vs.VacuumVolumeCompact(ctx, &volume_server_pb.VacuumVolumeCompactRequest{VolumeId: vid})
	if err != nil {
		return cleanup("compact", err)
	}
	for {
		if _, err := stream.Recv(); err == io.EOF {
			break
		} else if err != nil {
			return cleanup("compact", err)
		}
	}
	s.compact = time.Since(t0)
	commitStarts()
	t0 = time.Now()
	resp, err := vs.VacuumVolumeCommit(ctx, &volume_server_pb.VacuumVolumeCommitRequest{VolumeId: vid})
	s.commit = time.Since(t0)
	if err != nil {
		return cleanup("commit", err)
	}
	s.sizeAfter = resp.GetVolumeSize()
	return ""
}

// vacLoad is the load of a vacuum run: each worker, until stopped, writes a
// fresh small needle when a write is due (writes are due at writeRate per
// second from the start, so both servers store the same bytes whatever
// their speed and the volume the vacuum works on is the same size), and
// otherwise reads a random live small needle (closed loop). A request is counted in the baseline when it ended
// before the vacuum began, in the vacuum window when it overlapped the
// vacuum (from the check's start to the commit's end), and not at all when
// it started in the warm-up or after the vacuum.
type vacLoad struct {
	t         *target
	live      []uint64
	writeRate float64
	stats     *vacStats

	epoch time.Time
	// offsets from epoch in ns; math.MaxInt64 until reached
	baseStart, vacStart, commitStart, vacEnd atomic.Int64

	nextKey atomic.Uint64
	writes  atomic.Int64 // writes issued
	stopped atomic.Bool
	wg      sync.WaitGroup
	mu      sync.Mutex
	written []uint64
}

func (l *vacLoad) mark(at *atomic.Int64) { at.Store(int64(time.Since(l.epoch))) }

func (l *vacLoad) start(clients int) {
	l.epoch = time.Now()
	for _, a := range []*atomic.Int64{&l.baseStart, &l.vacStart, &l.commitStart, &l.vacEnd} {
		a.Store(math.MaxInt64)
	}
	l.nextKey.Store(vacLoadKeys)
	for i := 0; i < clients; i++ {
		l.wg.Add(1)
		go l.work(i)
	}
}

// stop ends the load and returns the keys of the acknowledged writes.
func (l *vacLoad) stop() []uint64 {
	l.stopped.Store(true)
	l.wg.Wait()
	return l.written
}

func (l *vacLoad) work(i int) {
	defer l.wg.Done()
	w := newVacWorker(i)
	defer w.release()
	var (
		hist     [phases][ops]*hdrhistogram.Histogram
		errs     [phases][ops]int64
		firstErr [phases]string
		split    [2][ops]*hdrhistogram.Histogram // compaction only, commit
		written  []uint64
	)
	for p := range hist {
		for o := range hist[p] {
			hist[p][o] = newHist()
		}
	}
	for o := range split[0] {
		split[0][o], split[1][o] = newHist(), newHist()
	}
	for !l.stopped.Load() {
		op, key := opRead, l.live[w.rng.IntN(len(l.live))]
		t0 := int64(time.Since(l.epoch))
		if n := l.writes.Load(); float64(n) < l.writeRate*time.Duration(t0).Seconds() && l.writes.CompareAndSwap(n, n+1) {
			op, key = opWrite, l.nextKey.Add(1)
		}
		var err error
		if op == opWrite {
			err = vacWrite(l.t, w, key)
		} else {
			err = vacRead(l.t, w, key, false)
		}
		t1 := int64(time.Since(l.epoch))
		if op == opWrite && err == nil {
			written = append(written, key)
		}
		if t0 < l.baseStart.Load() || t0 >= l.vacEnd.Load() {
			continue
		}
		phase := phaseBaseline
		if t1 >= l.vacStart.Load() {
			phase = phaseVacuum
		}
		lat := min(max((t1-t0)/int64(time.Microsecond), histMin), histMax)
		_ = hist[phase][op].RecordValue(lat)
		if phase == phaseVacuum {
			if t1 >= l.commitStart.Load() {
				_ = split[1][op].RecordValue(lat)
			} else {
				_ = split[0][op].RecordValue(lat)
			}
		}
		if err != nil {
			errs[phase][op]++
			if firstErr[phase] == "" {
				firstErr[phase] = err.Error()
			}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	for p := range hist {
		for o := range hist[p] {
			s.hist[p][o].Merge(hist[p][o])
			s.errors[p][o] += errs[p][o]
		}
		if s.firstErr[p] == "" {
			s.firstErr[p] = firstErr[p]
		}
	}
	for o := range split[0] {
		s.compactHist[o].Merge(split[0][o])
		s.commitHist[o].Merge(split[1][o])
	}
	l.written = append(l.written, written...)
}

// vacReport holds the vacuum runs of a bench run.
type vacReport struct {
	started, finished time.Time
	fixture           vacFixture
	order             []string
	runs              map[string][]*vacStats // contender -> one per round
}

// Markers around the generated vacuum section of PERF.md.
const (
	vacuumBeginMarker = "<!-- bench:vacuum:begin -->"
	vacuumEndMarker   = "<!-- bench:vacuum:end -->"
)

// vacuumMarkdown renders the vacuum section of the report.
func (r *report) vacuumMarkdown() string {
	vr := r.vacuum
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	fx := vr.fixture
	p("### Vacuum under load (generated by bench/)\n\n")
	p("- date: %s, %s\n", vr.started.UTC().Format("2006-01-02 15:04 MST"), dur(vr.finished.Sub(vr.started)))
	p("- command: `%s` (weedvol %s, upstream pinned in tools/weed/go.mod)\n", r.cfg.command, binaryRev(r.cfg.weedvol))
	p("- machine: %s; servers, masters and load generator share it, over loopback\n", machine())
	p("- fixture: one volume, %s of .dat: %d needles of 4 KB-256 KB (log-uniform sizes) written through upstream `weed volume`, %d of them (%.1f %% of the payload bytes) deleted; each server gets a copy of the same files, under a master of its own\n",
		mib(fx.DatSize), fx.Keys, fx.Deleted, 100*float64(fx.DeletedBytes)/float64(max(fx.Bytes, 1)))
	p("- load: %d clients; each POSTs a fresh 4-16 KB needle to the same volume when one is due (%.0f writes/s in all, the same for both servers) and otherwise GETs a random live 4-16 KB needle in closed loop (each body compared byte for byte with its key's content); %v baseline after a warm-up, then the same load while the bench vacuums the volume over gRPC (VacuumVolumeCheck, VacuumVolumeCompact, VacuumVolumeCommit, as the master does); a request counts for the vacuum window when it overlapped it. %d round(s), order alternating, figures merged over rounds; compact and commit times are medians\n",
		r.cfg.writeClients, r.cfg.vacuumWriteRate, r.cfg.vacuumWindow, r.cfg.rounds)
	p("- after the commit the load stops and every needle is read back: the fixture's live ones and every acknowledged load write must be byte-identical, the deleted ones 404\n\n")

	merged := map[string]*vacStats{}
	for _, c := range vr.order {
		m := newVacStats()
		for _, s := range vr.runs[c] {
			m.merge(s)
		}
		merged[c] = m
	}
	medianDur := func(c string, pick func(*vacStats) time.Duration) time.Duration {
		var v []time.Duration
		for _, s := range vr.runs[c] {
			v = append(v, pick(s))
		}
		if len(v) == 0 {
			return 0
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	q := func(s *vacStats, ph, op int, qq float64) int64 {
		h := s.hist[ph][op]
		if h.TotalCount() == 0 {
			return 0
		}
		if qq >= 100 {
			return h.Max()
		}
		return h.ValueAtQuantile(qq)
	}
	rps := func(s *vacStats, ph int) float64 {
		if s.window[ph] <= 0 {
			return 0
		}
		return float64(s.hist[ph][opRead].TotalCount()+s.hist[ph][opWrite].TotalCount()) / s.window[ph].Seconds()
	}
	cols := []struct {
		op int
		q  float64
	}{{opRead, 50}, {opRead, 99}, {opRead, 100}, {opWrite, 50}, {opWrite, 99}, {opWrite, 100}}
	p("| server | reads p50: baseline / vacuum | reads p99 | reads max | writes p50 | writes p99 | writes max | req/s | compact | commit | errors | read back after vacuum |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range vr.order {
		s := merged[c]
		p("| %s |", c)
		for _, col := range cols {
			p(" %s / %s |", us(q(s, phaseBaseline, col.op, col.q)), us(q(s, phaseVacuum, col.op, col.q)))
		}
		errsTotal := func(ph int) int64 { return s.errors[ph][opRead] + s.errors[ph][opWrite] }
		p(" %.0f / %.0f | %s | %s | %d / %d | %d of %d failed |\n", rps(s, phaseBaseline), rps(s, phaseVacuum),
			dur(medianDur(c, func(s *vacStats) time.Duration { return s.compact })),
			dur(medianDur(c, func(s *vacStats) time.Duration { return s.commit })),
			errsTotal(phaseBaseline), errsTotal(phaseVacuum), s.checkFailed, s.checked)
	}
	up, wv := merged["upstream"], merged["weedvol"]
	if up != nil && wv != nil {
		p("| weedvol/upstream |")
		for _, col := range cols {
			p(" %s / %s |", ratio(float64(q(wv, phaseBaseline, col.op, col.q)), float64(q(up, phaseBaseline, col.op, col.q))),
				ratio(float64(q(wv, phaseVacuum, col.op, col.q)), float64(q(up, phaseVacuum, col.op, col.q))))
		}
		p(" %s / %s | %s | %s | | |\n", ratio(rps(wv, phaseBaseline), rps(up, phaseBaseline)), ratio(rps(wv, phaseVacuum), rps(up, phaseVacuum)),
			ratio(float64(medianDur("weedvol", func(s *vacStats) time.Duration { return s.compact })), float64(medianDur("upstream", func(s *vacStats) time.Duration { return s.compact }))),
			ratio(float64(medianDur("weedvol", func(s *vacStats) time.Duration { return s.commit })), float64(medianDur("upstream", func(s *vacStats) time.Duration { return s.commit }))))
	}

	p("\nThe vacuum window split: requests that ended before the commit began (compaction only) and those that overlapped the commit; garbage ratio as VacuumVolumeCheck reports it before the vacuum and after the commit, per round:\n\n")
	p("| server | reads p99 / max: compaction only | reads: overlapping the commit (n, max) | writes p99 / max: compaction only | writes: overlapping the commit (n, max) | p99 vacuum/baseline: reads / writes | garbage before / after | volume size after commit |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	hq := func(h *hdrhistogram.Histogram, qq float64) int64 {
		if h.TotalCount() == 0 {
			return 0
		}
		return h.ValueAtQuantile(qq)
	}
	for _, c := range vr.order {
		s := merged[c]
		var garbage, left []string
		for _, run := range vr.runs[c] {
			garbage = append(garbage, fmt.Sprintf("%.3f", run.garbage))
			left = append(left, fmt.Sprintf("%.3f", run.garbageLeft))
		}
		last := vr.runs[c][len(vr.runs[c])-1]
		p("| %s | %s / %s | %d, %s | %s / %s | %d, %s | %s / %s | %s / %s | %s |\n", c,
			us(hq(s.compactHist[opRead], 99)), us(s.compactHist[opRead].Max()),
			s.commitHist[opRead].TotalCount(), us(s.commitHist[opRead].Max()),
			us(hq(s.compactHist[opWrite], 99)), us(s.compactHist[opWrite].Max()),
			s.commitHist[opWrite].TotalCount(), us(s.commitHist[opWrite].Max()),
			ratio(float64(q(s, phaseVacuum, opRead, 99)), float64(q(s, phaseBaseline, opRead, 99))),
			ratio(float64(q(s, phaseVacuum, opWrite, 99)), float64(q(s, phaseBaseline, opWrite, 99))),
			strings.Join(garbage, ", "), strings.Join(left, ", "), mib(int64(last.sizeAfter)))
	}
	if wv != nil {
		rd := float64(q(wv, phaseVacuum, opRead, 99)) / float64(max(q(wv, phaseBaseline, opRead, 99), 1))
		wr := float64(q(wv, phaseVacuum, opWrite, 99)) / float64(max(q(wv, phaseBaseline, opWrite, 99), 1))
		met := map[bool]string{true: "met", false: "**not met**"}[rd <= 2 && wr <= 2]
		p("\nTarget: weedvol's p99 during vacuum within 2x of its own p99 without vacuum: reads %.2fx, writes %.2fx: %s.\n", rd, wr, met)
	}
	p("\nPer round (compact / commit):")
	for _, c := range vr.order {
		var rs []string
		for _, s := range vr.runs[c] {
			rs = append(rs, dur(s.compact)+" / "+dur(s.commit))
		}
		p(" %s %s;", c, strings.Join(rs, ", "))
	}
	p("\n")
	var notes []string
	for _, c := range vr.order {
		s := merged[c]
		for ph := range s.firstErr {
			if s.firstErr[ph] != "" {
				notes = append(notes, fmt.Sprintf("%s, %s: first error: %s", c, phaseNames[ph], s.firstErr[ph]))
			}
		}
		if s.vacErr != "" {
			notes = append(notes, fmt.Sprintf("%s: vacuum failed: %s", c, s.vacErr))
		}
		if s.checkFirst != "" {
			notes = append(notes, fmt.Sprintf("%s: read-back after vacuum: first failure: %s", c, s.checkFirst))
		}
	}
	if len(notes) > 0 {
		p("\nNotes from the run:\n\n")
		for _, n := range notes {
			p("- %s\n", n)
		}
	}
	return b.String()
}
