package ec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

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
	out, err := createTemps(dataBase, seqIDs(total))
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
	p := pass{
		total: total, c: c, sets: pipelineSets,
		fill: func(_ context.Context, s *bufSet) error {
			return parallel(dataIDs, func(k int) error {
				return readDat(dat, s.bufs[k], s.ch.datOff+int64(k)*s.ch.stride, datSize)
			})
		},
		compute: func(s *bufSet) error { return enc.Encode(s.bufs) },
		drain: func(s *bufSet) error {
			return parallel(allIDs, func(k int) error {
				if _, err := out.files[k].Write(s.bufs[k]); err != nil {
					return fmt.Errorf("ec: write shard %d: %w", k, err)
				}
				if syncShards {
					startWriteback(out.files[k], s.ch.shardOff, s.ch.n)
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
	done   bool
}

func createTemps(base string, ids []int) (*tempShards, error) {
	t := &tempShards{ids: ids, files: map[int]*os.File{}, finals: map[int]string{}}
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
