package main

// The ec workload: erasure coding of one volume on one server, as `weed
// shell`'s ec.encode and ec.rebuild drive it over gRPC, and 4 KB reads
// served from the shards afterwards.
//
// A fixture volume (about -ec-size of .dat; every even key a 4 KB needle,
// every odd key a needle of 4 KB-256 KB with log-uniform sizes, each
// needle's content derived from its key) is written once through upstream
// `weed volume` and kept under -cache. Each contender, each round, gets a
// synced copy of its files in a fresh directory under a master of its own
// (every port, gRPC included, below 22000: startCluster), and the bench then:
//
//  1. marks the volume read-only (as ec.encode does first), drops the page
//     cache when it runs as root, resets the server's peak RSS
//     (/proc/PID/clear_refs "5") and times VolumeEcShardsGenerate; the peak
//     RSS during it is the server's VmHWM afterwards. Each shard's SHA-256 is
//     kept.
//  2. mounts the 14 shards, then unmounts and deletes 1 shard (data), drops
//     the page cache and times VolumeEcShardsRebuild, checks the rebuilt file
//     against the checksum and mounts it again; then the same with 4 shards
//     missing (2 data, 2 parity).
//  3. unmounts the original volume, so that reads go through the shards, and
//     runs -ec-clients clients reading random 4 KB needles in closed loop for
//     -ec-window (every body compared byte for byte with its key's content);
//     then unmounts and deletes data shard 0 and runs the same reads again,
//     degraded: a needle on shard 0 is reconstructed from the others on the
//     fly. The degraded figures are also given for the reads of needles on
//     the missing shard alone.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"github.com/valyala/fasthttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
)

const (
	// ecFormat names the fixture generator; bump it when ecSize or the
	// content functions change, so that a stale cached fixture is not reused.
	ecFormat = 1
	// ecSmall is the size of the needles the reads fetch.
	ecSmall = 4 << 10
	// the shard layout both servers use by default
	ecDataShards   = 10
	ecParityShards = 4
	ecTotalShards  = ecDataShards + ecParityShards
	// ecDegradedShard is the data shard missing during the degraded reads.
	ecDegradedShard = 0
)

// The shards removed before each timed rebuild: one data shard, then two
// data and two parity shards.
var (
	ecRebuildOne  = []uint32{3}
	ecRebuildFour = []uint32{1, 7, 10, 13}
)

// Read phases.
const (
	ecHealthy = iota
	ecDegraded
	ecPhases
)

var ecPhaseNames = [ecPhases]string{"healthy", "degraded"}

// ecSize is key's payload size: 4 KB for even keys, log-uniform over 4 KB-
// 256 KB (vacSize's fixture distribution) for odd ones.
func ecSize(key uint64) int {
	if key%2 == 0 {
		return ecSmall
	}
	return vacSize(key)
}

// ecMatches reports whether body is exactly key's content.
func ecMatches(body []byte, key uint64) bool {
	size := ecSize(key)
	if len(body) != size || binary.LittleEndian.Uint64(body) != key {
		return false
	}
	off := vacOffset(key)
	return bytes.Equal(body[8:], vacPool()[off:off+size-8])
}

// ecFixture is the manifest of a built ec fixture.
type ecFixture struct {
	Dir     string `json:"-"` // holds the volume's .dat, .idx, .vif
	Volume  uint32
	Keys    uint64 // keys 1..Keys were written
	Small   int    // of them 4 KB ones (the even keys)
	Bytes   int64  // payload bytes written
	DatSize int64
}

// ecShardExt is the file extension of shard i.
func ecShardExt(i int) string { return fmt.Sprintf(".ec%02d", i) }

// ecBuildFixture returns the fixture for cfg.ecSize, building it under
// cfg.cache through upstream `weed volume` when it is not there yet.
func ecBuildFixture(cfg config) (ecFixture, error) {
	root := filepath.Join(cfg.cache, fmt.Sprintf("ec-v%d-%d", ecFormat, cfg.ecSize))
	manifest := filepath.Join(root, "manifest.json")
	var fx ecFixture
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
	fmt.Fprintf(os.Stderr, "ec fixture: writing %d MB through upstream into %s\n", cfg.ecSize>>20, root)
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
	for fx.Bytes < cfg.ecSize {
		fx.Keys++
		fx.Bytes += int64(ecSize(fx.Keys))
		if fx.Keys%2 == 0 {
			fx.Small++
		}
	}
	t := newTarget(c.volume.Addr(), 8, []uint32{fx.Volume})
	all := make([]uint64, fx.Keys)
	for i := range all {
		all[i] = uint64(i) + 1
	}
	if err := vacEach(all, 8, func(w *vacWorker, key uint64) error { return ecWrite(t, w, key) }); err != nil {
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

// ecWrite stores key's content under key.
func ecWrite(t *target, w *vacWorker, key uint64) error {
	w.body = vacContent(w.body, key, ecSize(key))
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

// ecRead fetches key and checks its content.
func ecRead(t *target, w *vacWorker, key uint64) error {
	req, resp := w.req, w.resp
	req.Reset()
	req.SetRequestURIBytes(t.fidURI(w.worker, key))
	if err := t.small.Do(req, resp); err != nil {
		return fmt.Errorf("read %d: %w", key, err)
	}
	if sc := resp.StatusCode(); sc != fasthttp.StatusOK {
		return fmt.Errorf("read %d: status %d, want 200: %.120q", key, sc, resp.Body())
	}
	if !ecMatches(resp.Body(), key) {
		return fmt.Errorf("read %d: %w (%d bytes)", key, errWrongBytes, len(resp.Body()))
	}
	return nil
}

// ecIndex reads a 4-byte-offset .idx (16-byte big-endian entries: key,
// offset in 8-byte units, size) into key -> .dat offset and size; later
// entries win, as they do for the servers.
func ecIndex(path string) (map[uint64][2]int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b)%16 != 0 {
		return nil, fmt.Errorf("%s: %d bytes, not a whole number of 16-byte entries", path, len(b))
	}
	m := make(map[uint64][2]int64, len(b)/16)
	for i := 0; i < len(b); i += 16 {
		key := binary.BigEndian.Uint64(b[i:])
		off := int64(binary.BigEndian.Uint32(b[i+8:])) * 8
		size := int64(int32(binary.BigEndian.Uint32(b[i+12:])))
		m[key] = [2]int64{off, size}
	}
	return m, nil
}

// ecShardOf is the data shard holding byte off of a .dat of datSize bytes
// encoded with the given block size: the uniform layout (blockSize > 0)
// stores each data shard's blockSize bytes contiguously; the legacy one
// (0) stripes 1 GB rows while more than a row is left, then 1 MB rows.
func ecShardOf(off, blockSize, datSize int64) int {
	if blockSize > 0 {
		return int(off / blockSize)
	}
	const large, small = 1 << 30, 1 << 20
	largeRows := int64(0)
	for (largeRows+1)*large*ecDataShards <= datSize {
		largeRows++
	}
	if off < largeRows*large*ecDataShards {
		return int(off / large % ecDataShards)
	}
	return int((off - largeRows*large*ecDataShards) / small % ecDataShards)
}

// ecBlockSize is the shard block size the .vif at path records (0: the
// legacy layout), as upstream writes it (protobuf JSON).
func ecBlockSize(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var vi volume_server_pb.VolumeInfo
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, &vi); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return vi.GetEcShardConfig().GetBlockSize(), nil
}

// fileSum is the SHA-256 of the file at path.
func fileSum(path string) ([32]byte, int64, error) {
	var sum [32]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, f, make([]byte, 1<<20))
	if err != nil {
		return sum, n, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, n, nil
}

// ecReads is what one read phase measured.
type ecReads struct {
	ran    bool
	hist   *hdrhistogram.Histogram // every read
	onMiss *hdrhistogram.Histogram // reads of needles on the missing shard
	window time.Duration
	errors int64
	first  string
	cpu    time.Duration // the server's CPU time over the whole run
}

// cpuPerRead is the server's CPU per read, in µs.
func (r *ecReads) cpuPerRead() float64 {
	if r == nil || r.hist.TotalCount() == 0 {
		return 0
	}
	return float64(r.cpu.Microseconds()) / float64(r.hist.TotalCount())
}

func (r *ecReads) rps() float64 {
	if r == nil || r.window <= 0 {
		return 0
	}
	return float64(r.hist.TotalCount()) / r.window.Seconds()
}

// ecStats is what one run of one contender measured.
type ecStats struct {
	datSize            int64
	encode             time.Duration
	encodeDurable      time.Duration // encode and then sync(2)
	rebuild1, rebuild4 time.Duration
	rssBefore, rssPeak int64
	rssHow             string // how the peak was taken
	sums               [ecTotalShards][32]byte
	shardSize          int64
	encoded, mounted   bool
	rebuiltOK          int // rebuilt shard files identical to the encoded ones
	rebuiltChecked     int
	sameAsUpstream     int // shards identical to upstream's of the same round (-1: not compared)
	reads              [ecPhases]ecReads
	failures           []string // steps that failed, with the error
	notes              []string
}

func (s *ecStats) fail(c, step string, err error) {
	msg := step + ": " + err.Error()
	s.failures = append(s.failures, msg)
	fmt.Fprintf(os.Stderr, "  %s: %s\n", c, msg)
}

func (s *ecStats) note(n string) {
	if !slices.Contains(s.notes, n) {
		s.notes = append(s.notes, n)
	}
}

// ecReport holds the ec runs of a bench run.
type ecReport struct {
	started, finished time.Time
	fixture           ecFixture
	order             []string
	runs              map[string][]*ecStats // contender -> one per round
	floors            []ecFloor             // the disk alone, one per round measured
	floorNote         string                // why the floor was not measured, if so
}

// ecBench runs the ec workload for each contender, round after round with
// the order alternating, and adds the results to rep.
func ecBench(cfg config, contenders []contender, rep *report) error {
	er := &ecReport{started: time.Now(), runs: map[string][]*ecStats{}}
	rep.ec = er
	fx, err := ecBuildFixture(cfg)
	if err != nil {
		return fmt.Errorf("ec fixture: %w", err)
	}
	er.fixture = fx
	for r := 1; r <= cfg.ecRounds; r++ {
		order := append([]contender(nil), contenders...)
		if r%2 == 0 && len(order) > 1 {
			order[0], order[1] = order[1], order[0]
		}
		var upSums *[ecTotalShards][32]byte
		var pending []*ecStats // runs before upstream's in this round
		for _, c := range order {
			fmt.Fprintf(os.Stderr, "ec round %d: %s\n", r, c.name)
			s, err := ecRun(cfg, r, c, fx)
			if err != nil {
				return fmt.Errorf("ec round %d, %s: %w", r, c.name, err)
			}
			if !slices.Contains(er.order, c.name) {
				er.order = append(er.order, c.name)
			}
			er.runs[c.name] = append(er.runs[c.name], s)
			s.sameAsUpstream = -1
			if c.name == "upstream" && s.encoded {
				upSums = &s.sums
			} else if s.encoded {
				pending = append(pending, s)
			}
			fmt.Fprintf(os.Stderr, "  encode %v (%.0f MB/s), rebuild 1: %v, 4: %v, peak RSS %s; healthy p50 %s p99 %s %.0f/s %.0f µs CPU/read, degraded p50 %s p99 %s %.0f/s %.0f µs CPU/read; errors %d / %d; rebuilt %d/%d identical; %d failed steps\n",
				s.encode.Round(time.Millisecond), mbPerSec(s.datSize, s.encode), s.rebuild1.Round(time.Millisecond), s.rebuild4.Round(time.Millisecond), mib(s.rssPeak),
				us(histQ(s.reads[ecHealthy].hist, 50)), us(histQ(s.reads[ecHealthy].hist, 99)), s.reads[ecHealthy].rps(), s.reads[ecHealthy].cpuPerRead(),
				us(histQ(s.reads[ecDegraded].hist, 50)), us(histQ(s.reads[ecDegraded].hist, 99)), s.reads[ecDegraded].rps(), s.reads[ecDegraded].cpuPerRead(),
				s.reads[ecHealthy].errors, s.reads[ecDegraded].errors, s.rebuiltOK, s.rebuiltChecked, len(s.failures))
		}
		if fl, err := measureEcFloor(cfg, fx, r); err != nil {
			er.floorNote = err.Error()
			fmt.Fprintf(os.Stderr, "  %v\n", err)
		} else {
			er.floors = append(er.floors, fl)
			fmt.Fprintf(os.Stderr, "ec round %d: disk alone: encode's I/O %v, rebuild 1's %v, rebuild 4's %v\n", r,
				fl.encode.Round(time.Millisecond), fl.rebuild1.Round(time.Millisecond), fl.rebuild4.Round(time.Millisecond))
		}
		if upSums != nil {
			for _, s := range pending {
				s.sameAsUpstream = 0
				for i := range s.sums {
					if s.sums[i] == upSums[i] {
						s.sameAsUpstream++
					}
				}
			}
		}
	}
	er.finished = time.Now()
	return nil
}

func mbPerSec(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / (1 << 20) / d.Seconds()
}

// histQ is h's q-th percentile in µs, 0 for an empty or missing histogram.
func histQ(h *hdrhistogram.Histogram, q float64) int64 {
	if h == nil || h.TotalCount() == 0 {
		return 0
	}
	return h.ValueAtQuantile(q)
}

// ecRun is one contender's run on a fresh copy of the fixture. An error is
// returned only when the run could not start; a failed step is recorded in
// the stats and the steps that need it are skipped.
func ecRun(cfg config, round int, c contender, fx ecFixture) (*ecStats, error) {
	dir := filepath.Join(cfg.work, fmt.Sprintf("ec-%s-r%d", strings.ReplaceAll(c.name, " ", ""), round))
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	vid := strconv.Itoa(int(fx.Volume))
	for _, ext := range []string{".dat", ".idx", ".vif"} {
		if err := copySynced(filepath.Join(fx.Dir, vid+ext), filepath.Join(data, vid+ext)); err != nil {
			return nil, err
		}
	}
	index, err := ecIndex(filepath.Join(data, vid+".idx"))
	if err != nil {
		return nil, err
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

	s := &ecStats{datSize: fx.DatSize}
	for i := range s.reads {
		s.reads[i].hist, s.reads[i].onMiss = newHist(), newHist()
	}
	fail := func(step string, err error) { s.fail(c.name, step, err) }
	base := filepath.Join(data, vid)
	if !ecEncode(ctx, vs, cl.volume.Pid(), fx, base, s, fail) {
		return s, nil
	}
	all := make([]uint32, ecTotalShards)
	for i := range all {
		all[i] = uint32(i)
	}
	// A failed mount still lets the rebuilds run (they work on the files);
	// the reads need the shards mounted.
	if _, err := vs.VolumeEcShardsMount(ctx, &volume_server_pb.VolumeEcShardsMountRequest{VolumeId: fx.Volume, ShardIds: all}); err != nil {
		fail("mount the 14 shards", err)
	} else {
		s.mounted = true
	}
	s.rebuild1 = ecRebuild(ctx, vs, fx.Volume, base, ecRebuildOne, s, fail)
	s.rebuild4 = ecRebuild(ctx, vs, fx.Volume, base, ecRebuildFour, s, fail)
	if !s.mounted {
		s.note("reads not run: the shards could not be mounted")
		return s, nil
	}

	// Reads through the shards only.
	if _, err := vs.VolumeUnmount(ctx, &volume_server_pb.VolumeUnmountRequest{VolumeId: fx.Volume}); err != nil {
		fail("unmount the volume before the EC reads", err)
		return s, nil
	}
	blockSize, err := ecBlockSize(base + ".vif")
	if err != nil {
		s.note("shard layout not read from the .vif (" + err.Error() + "); the legacy one assumed")
	}
	var small []uint64
	onMissing := map[uint64]bool{}
	for k := uint64(2); k <= fx.Keys; k += 2 {
		e, ok := index[k]
		if !ok {
			return nil, fmt.Errorf("key %d is not in the fixture's .idx", k)
		}
		small = append(small, k)
		// the record: header 16, body, checksum 4, timestamp 8, padding
		end := e[0] + 16 + e[1] + 12
		if ecShardOf(e[0], blockSize, fx.DatSize) == ecDegradedShard || ecShardOf(end-1, blockSize, fx.DatSize) == ecDegradedShard {
			onMissing[k] = true
		}
	}
	// Both servers read from a warm page cache, whatever their rebuilds
	// left in it (a rebuild that bypasses the cache would otherwise send
	// its server's reads to the disk).
	if err := ecWarm(base); err != nil {
		fail("read the shards into the page cache", err)
	}
	t := newTarget(cl.volume.Addr(), cfg.ecClients, []uint32{fx.Volume})
	pid := cl.volume.Pid()
	s.reads[ecHealthy] = ecReadLoad(cfg, t, pid, small, onMissing)

	// Degraded: data shard 0 gone from the server.
	missing := []uint32{ecDegradedShard}
	if _, err := vs.VolumeEcShardsUnmount(ctx, &volume_server_pb.VolumeEcShardsUnmountRequest{VolumeId: fx.Volume, ShardIds: missing}); err != nil {
		fail("unmount shard 0 before the degraded reads", err)
		return s, nil
	}
	if _, err := vs.VolumeEcShardsDelete(ctx, &volume_server_pb.VolumeEcShardsDeleteRequest{VolumeId: fx.Volume, ShardIds: missing}); err != nil {
		fail("delete shard 0 before the degraded reads", err)
		return s, nil
	}
	if _, err := os.Stat(base + ecShardExt(ecDegradedShard)); err == nil {
		fail("delete shard 0 before the degraded reads", errors.New("VolumeEcShardsDelete left the file"))
		return s, nil
	}
	s.reads[ecDegraded] = ecReadLoad(cfg, t, pid, small, onMissing)
	return s, nil
}

// ecWarm reads the shards and the .ecx at base into the page cache.
func ecWarm(base string) error {
	buf := make([]byte, 1<<20)
	for i := -1; i < ecTotalShards; i++ {
		name := base + ".ecx"
		if i >= 0 {
			name = base + ecShardExt(i)
		}
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		_, err = io.CopyBuffer(io.Discard, f, buf)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// ecEncode marks the volume read-only and times its encoding into s, with
// the server's peak RSS; it reports whether the 14 shards were made.
func ecEncode(ctx context.Context, vs volume_server_pb.VolumeServerClient, pid int, fx ecFixture, base string, s *ecStats, fail func(string, error)) bool {
	if _, err := vs.VolumeMarkReadonly(ctx, &volume_server_pb.VolumeMarkReadonlyRequest{VolumeId: fx.Volume}); err != nil {
		fail("mark the volume read-only", err)
	}
	ecDropCache(s)
	if m, err := processMemory(pid); err == nil {
		s.rssBefore = m.RSS
	}
	clearErr := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
	// Sampled as well, in case the peak cannot be reset.
	var sampled atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if m, err := processMemory(pid); err == nil && m.RSS > sampled.Load() {
				sampled.Store(m.RSS)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	t0 := time.Now()
	_, err := vs.VolumeEcShardsGenerate(ctx, &volume_server_pb.VolumeEcShardsGenerateRequest{VolumeId: fx.Volume})
	s.encode = time.Since(t0)
	// What the server left unwritten: upstream's encode does not fsync
	// the shards, weedvol's does; the time to durable shards includes the
	// writeback sync(2) forces.
	syscall.Sync()
	s.encodeDurable = time.Since(t0)
	close(stop)
	wg.Wait()
	hwm, hwmErr := peakRSS(pid)
	switch {
	case clearErr == nil && hwmErr == nil:
		s.rssPeak, s.rssHow = hwm, "VmHWM"
	default:
		s.rssPeak, s.rssHow = sampled.Load(), "sampled every 20 ms"
		s.note(fmt.Sprintf("peak RSS sampled, not VmHWM (clear_refs: %v, VmHWM: %v)", clearErr, hwmErr))
	}
	if err != nil {
		s.encode, s.encodeDurable = 0, 0
		fail("encode (VolumeEcShardsGenerate)", err)
		return false
	}
	for i := 0; i < ecTotalShards; i++ {
		sum, n, err := fileSum(base + ecShardExt(i))
		if err != nil {
			s.encode = 0
			fail("encode: shard "+strconv.Itoa(i), err)
			return false
		}
		if i > 0 && n != s.shardSize {
			s.note(fmt.Sprintf("shard %d has %d bytes, shard 0 %d", i, n, s.shardSize))
		}
		s.sums[i], s.shardSize = sum, n
	}
	if _, err := os.Stat(base + ".ecx"); err != nil {
		fail("encode: .ecx", err)
		return false
	}
	s.encoded = true
	return true
}

// peakRSS is VmHWM of pid, in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// ecDropCache drops the page cache before a timed step, noting in s when
// it cannot.
func ecDropCache(s *ecStats) {
	if err := dropPageCache(); err != nil {
		s.note("page cache not dropped before the timed steps: " + err.Error())
	}
}

// ecRebuild removes shards (unmount, then VolumeEcShardsDelete), times the
// rebuild, checks the rebuilt files against the encoded ones and mounts
// them again. It returns the rebuild's duration, 0 when it failed.
func ecRebuild(ctx context.Context, vs volume_server_pb.VolumeServerClient, vid uint32, base string, shards []uint32, s *ecStats, fail func(string, error)) time.Duration {
	step := fmt.Sprintf("rebuild of %d shard(s) %v", len(shards), shards)
	if s.mounted {
		if _, err := vs.VolumeEcShardsUnmount(ctx, &volume_server_pb.VolumeEcShardsUnmountRequest{VolumeId: vid, ShardIds: shards}); err != nil {
			fail(step+": unmount", err)
			return 0
		}
	}
	if _, err := vs.VolumeEcShardsDelete(ctx, &volume_server_pb.VolumeEcShardsDeleteRequest{VolumeId: vid, ShardIds: shards}); err != nil {
		fail(step+": delete", err)
		return 0
	}
	for _, i := range shards {
		if _, err := os.Stat(base + ecShardExt(int(i))); err == nil {
			fail(step+": delete", fmt.Errorf("VolumeEcShardsDelete left %s", ecShardExt(int(i))))
			return 0
		}
	}
	ecDropCache(s)
	t0 := time.Now()
	resp, err := vs.VolumeEcShardsRebuild(ctx, &volume_server_pb.VolumeEcShardsRebuildRequest{VolumeId: vid})
	d := time.Since(t0)
	if err != nil {
		fail(step, err)
		return 0
	}
	got := slices.Clone(resp.GetRebuiltShardIds())
	slices.Sort(got)
	if !slices.Equal(got, shards) {
		s.note(fmt.Sprintf("%s: the server reported %v rebuilt", step, got))
	}
	for _, i := range shards {
		s.rebuiltChecked++
		sum, n, err := fileSum(base + ecShardExt(int(i)))
		switch {
		case err != nil:
			fail(fmt.Sprintf("%s: rebuilt shard %d", step, i), err)
		case sum != s.sums[i]:
			fail(fmt.Sprintf("%s: rebuilt shard %d", step, i), fmt.Errorf("%d bytes differing from the encoded shard's %d", n, s.shardSize))
		default:
			s.rebuiltOK++
		}
	}
	if s.mounted {
		if _, err := vs.VolumeEcShardsMount(ctx, &volume_server_pb.VolumeEcShardsMountRequest{VolumeId: vid, ShardIds: shards}); err != nil {
			fail(step+": mount the rebuilt shards", err)
		}
	}
	return d
}

// ecReadLoad runs cfg.ecClients clients reading random keys in closed loop
// for cfg.ecWindow after a warm-up, every body checked.
func ecReadLoad(cfg config, t *target, pid int, keys []uint64, onMissing map[uint64]bool) ecReads {
	warm := min(time.Second, cfg.ecWindow/5)
	r := ecReads{ran: true, hist: newHist(), onMiss: newHist()}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		start    = time.Now()
		measured = start.Add(warm)
		end      = measured.Add(cfg.ecWindow)
	)
	t.setClients(cfg.ecClients)
	cpu0, _ := processCPU(pid)
	for i := 0; i < cfg.ecClients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newVacWorker(i)
			defer w.release()
			hist, miss := newHist(), newHist()
			var errs int64
			first := ""
			for {
				key := keys[w.rng.IntN(len(keys))]
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				err := ecRead(t, w, key)
				if t0.Before(measured) {
					continue
				}
				lat := min(max(time.Since(t0).Microseconds(), histMin), histMax)
				_ = hist.RecordValue(lat)
				if onMissing[key] {
					_ = miss.RecordValue(lat)
				}
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			r.hist.Merge(hist)
			r.onMiss.Merge(miss)
			r.errors += errs
			if r.first == "" {
				r.first = first
			}
		}()
	}
	wg.Wait()
	r.window = time.Since(measured)
	if cpu1, err := processCPU(pid); err == nil {
		r.cpu = cpu1 - cpu0
	}
	return r
}
