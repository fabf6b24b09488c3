package ec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/klauspost/reedsolomon"
	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"

	"github.com/weedvol/weedvol/atomicfile"
)

// DefaultBufferSize is the per-shard chunk Encode, Rebuild and DecodeDat
// move per step when the options leave it 0.
const DefaultBufferSize = 2 << 20

// pipelineSets is how many chunks are in flight (read, encode, write).
const pipelineSets = 3

// EncodeOptions tunes Encode.
type EncodeOptions struct {
	// Layout: only DataShards and ParityShards are read; zero means 10+4.
	Layout Layout
	// BufferSize is the per-shard chunk in bytes; 0 means DefaultBufferSize.
	// Peak buffer memory is 3 * (data+parity) * BufferSize (84 MiB for
	// 10+4 at the default), plus the .ecx rows (see WriteEcx).
	BufferSize int
}

// EncodeResult is what Encode produced.
type EncodeResult struct {
	// Layout has BlockSize (uniform) and DatSize filled: write it into the
	// .vif with Apply.
	Layout Layout
	// Sums is the sidecar Encode saved at SumsPath(dataBase, 0).
	Sums *Sums
}

// encodeHook, when set by a test, runs after each chunk of an encode or
// rebuild is written; an error it returns fails the operation there.
var encodeHook func(seq int) error

// syncShards is cleared only by benchmarks measuring the work without the
// fsyncs.
var syncShards = true

// Encode erasure-codes the volume datPath/idxPath: it writes the shards
// dataBase.ec00 .. ec(N-1) in the uniform layout (byte-identical to
// upstream's WriteEcFiles), the sidecar SumsPath(dataBase, 0) and the index
// indexBase.ecx (as WriteEcx). offsetWidth is the .idx offset width (4 or
// 5). It does not write the .vif: record the returned Layout with Apply.
//
// Order (see the package doc for the crash story): previous EC files of
// the two bases are removed (.ecx first); the .idx is read and the .ecx
// rows built in memory; then the .dat is measured once (its length then
// is the encoded length, bytes appended later are ignored); shards are
// written under temporary names, fsynced and renamed, the directory
// fsynced; then the .ecsum and last the .ecx are replaced atomically and
// durably. On error or cancellation every file Encode created is removed.
func Encode(ctx context.Context, datPath, idxPath, dataBase, indexBase string, offsetWidth int, o EncodeOptions) (res EncodeResult, err error) {
	f, err := formatFor(offsetWidth)
	if err != nil {
		return res, err
	}
	l := Layout{DataShards: o.Layout.DataShards, ParityShards: o.Layout.ParityShards}
	if l.DataShards == 0 && l.ParityShards == 0 {
		l = DefaultLayout()
	}
	if err := l.Validate(); err != nil {
		return res, err
	}
	c := int64(o.BufferSize)
	if c <= 0 {
		c = DefaultBufferSize
	}
	ecxPath := indexBase + ".ecx"
	sumsPath := SumsPath(dataBase, 0)
	if err := removeECFiles(dataBase, indexBase); err != nil {
		return res, err
	}
	rows, err := sortedEcxRows(idxPath, f)
	if err != nil {
		return res, err
	}
	dat, err := os.Open(datPath)
	if err != nil {
		return res, fmt.Errorf("ec: encode: %w", err)
	}
	defer dat.Close()
	fi, err := dat.Stat()
	if err != nil {
		return res, fmt.Errorf("ec: encode: %w", err)
	}
	l.DatSize = fi.Size()
	l.BlockSize = UniformBlockSize(l.DatSize, l.DataShards)

	defer func() {
		if err != nil {
			for i := 0; i < l.Total(); i++ {
				os.Remove(ShardFileName(dataBase, i))
			}
			os.Remove(sumsPath)
			os.Remove(ecxPath)
		}
	}()
	entries, err := encodeShards(ctx, dat, l, l.encodeGeometry(l.DatSize), dataBase, c)
	if err != nil {
		return res, err
	}
	sums := newSums(l, entries)
	if err := SaveSums(sumsPath, sums); err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if err := atomicfile.Write(ecxPath, rows, 0o644); err != nil {
		return res, fmt.Errorf("ec: encode: %w", err)
	}
	return EncodeResult{Layout: l, Sums: sums}, nil
}

// removeECFiles deletes the EC files a previous encode of these bases may
// have left, the .ecx first (so no .ecx ever pairs with a mix of shards),
// and fsyncs the directories.
func removeECFiles(dataBase, indexBase string) error {
	names := []string{indexBase + ".ecx", dataBase + ".ecx", indexBase + ".ecj", dataBase + ".ecj",
		SumsPath(indexBase, 0), SumsPath(dataBase, 0)}
	for i := 0; i < MaxShards; i++ {
		names = append(names, ShardFileName(dataBase, i))
	}
	for _, n := range names {
		if err := os.Remove(n); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("ec: remove stale %s: %w", n, err)
		}
	}
	if err := atomicfile.SyncDir(filepath.Dir(indexBase)); err != nil {
		return err
	}
	if filepath.Dir(dataBase) != filepath.Dir(indexBase) {
		return atomicfile.SyncDir(filepath.Dir(dataBase))
	}
	return nil
}

// encodeShards writes every shard of the .dat (its first l.DatSize bytes)
// under geometry g and returns their checksum entries. Shards are written
// to temporary names and renamed into place only when all are complete and
// fsynced; on error the temporaries are removed.
func encodeShards(ctx context.Context, dat *os.File, l Layout, g geometry, dataBase string, c int64) ([]*volume_server_pb.EcShardChecksums, error) {
	enc, err := reedsolomon.New(l.DataShards, l.ParityShards)
	if err != nil {
		return nil, fmt.Errorf("ec: encoder: %w", err)
	}
	total := l.Total()
	out, err := createTemps(dataBase, seqIDs(total), directShards)
	if err != nil {
		return nil, err
	}
	defer out.abort()
	sums := make([]sumBuilder, total)
	for i := range sums {
		sums[i].block = SumBlockSize
	}
	dataIDs, allIDs := seqIDs(l.DataShards), seqIDs(total)
	datSize := l.DatSize
	rds, closeStreams := streamReaders(dat, l.DataShards, datSize)
	defer closeStreams()
	p := pass{
		total: total, c: c, sets: pipelineSets,
		fill: func(_ context.Context, s *bufSet) error {
			return parallel(dataIDs, func(k int) error {
				return rds[k].read(s.bufs[k], s.ch.datOff+int64(k)*s.ch.stride)
			})
		},
		compute: func(s *bufSet) error { return enc.Encode(s.bufs) },
		drain: func(s *bufSet) error {
			return parallel(allIDs, func(k int) error {
				if err := out.write(k, s.bufs[k], s.ch.shardOff); err != nil {
					return err
				}
				sums[k].write(s.bufs[k])
				return nil
			})
		},
		afterDrain: encodeHook,
	}
	if err := p.run(ctx, g.plan(g.shardSize(datSize), c)); err != nil {
		return nil, err
	}
	if err := out.commit(); err != nil {
		return nil, err
	}
	entries := make([]*volume_server_pb.EcShardChecksums, total)
	for i := range sums {
		entries[i] = sums[i].finish(i)
	}
	return entries, nil
}

// streamReaders returns the n readers of dat's first size bytes an
// encode's fill stage uses, one per data shard: each has its own open file
// of dat's inode (reopened by name and checked to be the same file), so
// that each of the n interleaved sequential streams keeps its own
// readahead state instead of thrashing a shared one (on the 1 GiB bench
// volume, encodes 1.02-1.12 s against 1.10-1.38 s on one shared file).
// Where dat cannot be reopened as itself (renamed or replaced since it was
// opened), every reader shares dat. closeAll closes the extra files after
// the pass; dat stays the caller's.
func streamReaders(dat *os.File, n int, size int64) (rds []*datReader, closeAll func()) {
	rds = make([]*datReader, n)
	var extra []*os.File
	closeAll = func() {
		for _, f := range extra {
			f.Close()
		}
	}
	want, err := dat.Stat()
	for k := range rds {
		f := dat
		if err == nil {
			if g, gerr := os.Open(dat.Name()); gerr == nil {
				if fi, serr := g.Stat(); serr == nil && os.SameFile(fi, want) {
					f = g
					extra = append(extra, g)
					adviseSequential(g)
				} else {
					g.Close()
				}
			}
		}
		rds[k] = &datReader{f: f, size: size}
		rds[k].direct.Store(directReads && setDirect(f, true))
	}
	return rds, closeAll
}

// directReads: read the .dat with O_DIRECT where the file system allows it.
// Off: measured on a cold cache it was no faster than buffered reads with
// the kernel's readahead, and a volume encoded soon after its last write is
// still in the page cache, which direct reads would bypass.
var directReads = false

// datReader reads the .dat of an encode, with O_DIRECT while every read is
// aligned (see tempShards.write); the first unaligned one turns the file
// back to buffered reads. Reads run concurrently (one per data shard).
type datReader struct {
	f      *os.File
	size   int64
	mu     sync.Mutex
	direct atomic.Bool
}

// read fills p with .dat bytes at off, zeros past the encoded size. A .dat
// shorter than that is an error.
func (r *datReader) read(p []byte, off int64) error {
	want := max(min(int64(len(p)), r.size-off), 0)
	if want == 0 {
		clear(p)
		return nil
	}
	if r.direct.Load() {
		if n := alignUp(want); n <= int64(len(p)) && directAligned(p[:n], off) {
			got, err := r.f.ReadAt(p[:n], off)
			if int64(got) >= want {
				clear(p[want:])
				return nil
			}
			if err != nil && err != io.EOF {
				return fmt.Errorf("ec: read dat at %d: %w", off, err)
			}
			return fmt.Errorf("ec: read dat at %d: %w", off, io.ErrUnexpectedEOF)
		}
		r.mu.Lock()
		if r.direct.Load() {
			setDirect(r.f, false)
			r.direct.Store(false)
		}
		r.mu.Unlock()
	}
	return readDat(r.f, p, off, r.size)
}

func alignUp(n int64) int64 { return (n + directAlign - 1) / directAlign * directAlign }

// readDat fills p with .dat bytes at off, zeros past datSize. A .dat
// shorter than datSize is an error.
func readDat(dat *os.File, p []byte, off, datSize int64) error {
	want := max(min(int64(len(p)), datSize-off), 0)
	if want > 0 {
		n, err := dat.ReadAt(p[:want], off)
		if int64(n) != want {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("ec: read dat at %d: %w", off, err)
		}
	}
	clear(p[want:])
	return nil
}

// tempShards is a set of shard files being written under temporary names
// (final + ".tmp"). commit fsyncs, closes and renames them into place and
// fsyncs their directory; abort (safe after commit) closes and removes
// whatever is still temporary.
type tempShards struct {
	ids    []int
	files  map[int]*os.File
	finals map[int]string
	// direct[id]: shard id is written with O_DIRECT (see write); an entry
	// is touched only by the one goroutine writing that shard (a slice, so
	// entries of different shards are separate words).
	direct []bool
	done   bool
}

// directShards: shard files are written with O_DIRECT where the file
// system allows it. The data then goes from the pass's buffers to the
// disk without a copy into the page cache and without dirty pages for the
// final fsync to write back, so the encode is durable at about the cost of
// a buffered one (a test may clear it to compare). Encode only:
// directRebuild is Rebuild's.
var directShards = true

// directRebuild: Rebuild writes its shards with O_DIRECT. Off: a rebuild
// writes one to four shards, too few concurrent writes to keep the device
// busy when each waits for the disk, and on the bench volume buffered
// writes with early writeback were about twice as fast to durable shards.
var directRebuild = false

// write appends p, at shard offset off, to shard id. A direct write needs
// p's address, length and off aligned to directAlign; the first one that is
// not (an odd buffer size, a short last chunk) turns the shard back to
// buffered writes for the rest of the file, which the final fsync covers.
// Buffered writes start their writeback at once (startWriteback).
func (t *tempShards) write(id int, p []byte, off int64) error {
	f := t.files[id]
	if t.direct[id] && !directAligned(p, off) {
		setDirect(f, false)
		t.direct[id] = false
	}
	if _, err := f.Write(p); err != nil {
		return fmt.Errorf("ec: write shard %d: %w", id, err)
	}
	if !t.direct[id] && syncShards {
		startWriteback(f, off, int64(len(p)))
	}
	return nil
}

func directAligned(p []byte, off int64) bool {
	return len(p)%directAlign == 0 && off%directAlign == 0 &&
		uintptr(unsafe.Pointer(unsafe.SliceData(p)))%directAlign == 0
}

// createTemps creates the temporary files of shards ids, with O_DIRECT
// when direct is set and the file system allows it.
func createTemps(base string, ids []int, direct bool) (*tempShards, error) {
	t := &tempShards{ids: ids, files: map[int]*os.File{}, finals: map[int]string{}, direct: make([]bool, slices.Max(append([]int{0}, ids...))+1)}
	for _, id := range ids {
		final := ShardFileName(base, id)
		tmp := atomicfile.TempName(final)
		if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.abort()
			return nil, fmt.Errorf("ec: remove %s: %w", tmp, err)
		}
		f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			t.abort()
			return nil, fmt.Errorf("ec: create shard: %w", err)
		}
		t.files[id], t.finals[id] = f, final
		t.direct[id] = direct && setDirect(f, true)
	}
	return t, nil
}

func (t *tempShards) commit() error {
	if err := parallel(t.ids, func(id int) error {
		if !syncShards {
			return nil
		}
		if err := t.files[id].Sync(); err != nil {
			return fmt.Errorf("ec: sync shard %d: %w", id, err)
		}
		return nil
	}); err != nil {
		return err
	}
	dirs := map[string]bool{}
	for _, id := range t.ids {
		f := t.files[id]
		if err := f.Close(); err != nil {
			return fmt.Errorf("ec: close shard %d: %w", id, err)
		}
		if err := os.Rename(f.Name(), t.finals[id]); err != nil {
			return fmt.Errorf("ec: publish shard %d: %w", id, err)
		}
		delete(t.files, id)
		dirs[filepath.Dir(t.finals[id])] = true
	}
	t.done = true
	for d := range dirs {
		if err := atomicfile.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

func (t *tempShards) abort() {
	for id, f := range t.files {
		f.Close()
		os.Remove(f.Name())
		delete(t.files, id)
	}
}
