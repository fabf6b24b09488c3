package ec

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/protobuf/proto"

	"github.com/weedvol/weedvol/atomicfile"
	"github.com/weedvol/weedvol/engine/needle"
)

// Sums is the content of an .ecsum bitrot sidecar: a CRC32C per SumBlockSize
// block of every shard, with the layout it was computed for.
type Sums = volume_server_pb.EcBitrotProtection

// .ecsum on-disk framing, big-endian:
//
//	magic "ECSU" (4) | format version 1 (2) | payload length (4) | CRC32C of payload (4) | protobuf payload
const (
	sumsMagic      uint32 = 0x45435355
	sumsVersion    uint16 = 1
	sumsHeaderSize        = 14
	// SumBlockSize is the checksum granularity of new sidecars (16 MiB).
	SumBlockSize = 16 << 20
	// MaxSumBlockSize bounds the granularity a loaded sidecar may declare.
	MaxSumBlockSize = 64 << 20
	maxSumsPayload  = 1 << 30
)

// ErrSums wraps every rejection of an .ecsum (framing, CRC, manifest).
var ErrSums = errors.New("bad ec checksum sidecar")

// ErrShardSize is returned (wrapped) when a shard file's length is not what
// the sidecar or the layout says it must be.
var ErrShardSize = errors.New("ec shard has the wrong length")

// SumsPath is the sidecar path for a data base name and EC generation:
// base+".ecsum" for generation 0 (every fresh encode), base+".ecsum.v<N>"
// otherwise.
func SumsPath(base string, generation uint32) string {
	if generation == 0 {
		return base + ".ecsum"
	}
	return fmt.Sprintf("%s.ecsum.v%d", base, generation)
}

// SaveSums writes s to path in the sidecar framing, atomically and durably.
func SaveSums(path string, s *Sums) error {
	b, err := MarshalSums(s)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o644)
}

// MarshalSums returns the framed bytes of s (header + protobuf payload).
func MarshalSums(s *Sums) ([]byte, error) {
	payload, err := proto.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("ec: marshal checksum sidecar: %w", err)
	}
	if len(payload) > maxSumsPayload {
		return nil, fmt.Errorf("ec: checksum sidecar payload too large: %d bytes", len(payload))
	}
	b := make([]byte, sumsHeaderSize, sumsHeaderSize+len(payload))
	binary.BigEndian.PutUint32(b[0:], sumsMagic)
	binary.BigEndian.PutUint16(b[4:], sumsVersion)
	binary.BigEndian.PutUint32(b[6:], uint32(len(payload)))
	binary.BigEndian.PutUint32(b[10:], uint32(needle.NewCRC(payload)))
	return append(b, payload...), nil
}

// LoadSums reads and self-checks the sidecar at path (framing and payload
// CRC). It does not validate the manifest against a layout: ValidateSums
// does.
func LoadSums(path string) (*Sums, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ec: read checksum sidecar: %w", err)
	}
	s, err := UnmarshalSums(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// UnmarshalSums parses framed sidecar bytes. b is not retained.
func UnmarshalSums(b []byte) (*Sums, error) {
	if len(b) < sumsHeaderSize {
		return nil, fmt.Errorf("%w: too short (%d bytes)", ErrSums, len(b))
	}
	if m := binary.BigEndian.Uint32(b[0:]); m != sumsMagic {
		return nil, fmt.Errorf("%w: bad magic %#x", ErrSums, m)
	}
	if v := binary.BigEndian.Uint16(b[4:]); v != sumsVersion {
		return nil, fmt.Errorf("%w: unsupported format version %d", ErrSums, v)
	}
	n := binary.BigEndian.Uint32(b[6:])
	payload := b[sumsHeaderSize:]
	if uint64(n) != uint64(len(payload)) {
		return nil, fmt.Errorf("%w: length mismatch: header %d, actual %d", ErrSums, n, len(payload))
	}
	if got, want := uint32(needle.NewCRC(payload)), binary.BigEndian.Uint32(b[10:]); got != want {
		return nil, fmt.Errorf("%w: payload CRC mismatch: header %#x, computed %#x", ErrSums, want, got)
	}
	s := &Sums{}
	if err := proto.Unmarshal(payload, s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSums, err)
	}
	return s, nil
}

// ValidateSums runs upstream's manifest checks of s against layout l:
// CRC32C algorithm, block size a power of two in [1 MiB, 64 MiB], exactly
// one entry per shard id of l, positive covered sizes and a CRC count that
// matches each; and, when s records a layout, that it equals l's counts and
// block size.
func ValidateSums(s *Sums, l Layout) error {
	if s == nil {
		return fmt.Errorf("%w: nil", ErrSums)
	}
	if err := l.Validate(); err != nil {
		return err
	}
	if cfg := s.GetEcShardConfig(); cfg != nil {
		if int(cfg.GetDataShards()) != l.DataShards || int(cfg.GetParityShards()) != l.ParityShards || cfg.GetBlockSize() != l.BlockSize {
			return fmt.Errorf("%w: records layout %d+%d block %d, volume is %d+%d block %d", ErrSums,
				cfg.GetDataShards(), cfg.GetParityShards(), cfg.GetBlockSize(), l.DataShards, l.ParityShards, l.BlockSize)
		}
	}
	if s.GetAlgorithm() != volume_server_pb.ChecksumAlgorithm_CHECKSUM_CRC32C {
		return fmt.Errorf("%w: unsupported checksum algorithm %v", ErrSums, s.GetAlgorithm())
	}
	bs := s.GetBlockSize()
	if bs < 1<<20 || bs > MaxSumBlockSize || bits.OnesCount32(bs) != 1 {
		return fmt.Errorf("%w: invalid block_size %d", ErrSums, bs)
	}
	if len(s.GetShards()) != l.Total() {
		return fmt.Errorf("%w: %d shard entries, expected %d", ErrSums, len(s.GetShards()), l.Total())
	}
	var seen [MaxShards]bool
	for _, e := range s.GetShards() {
		id := e.GetShardId()
		if id >= uint32(l.Total()) {
			return fmt.Errorf("%w: shard id %d out of range [0,%d)", ErrSums, id, l.Total())
		}
		if seen[id] {
			return fmt.Errorf("%w: duplicate shard id %d", ErrSums, id)
		}
		seen[id] = true
		if e.GetCoveredSize() <= 0 {
			return fmt.Errorf("%w: shard %d has non-positive covered_size %d", ErrSums, id, e.GetCoveredSize())
		}
		want := (e.GetCoveredSize() + int64(bs) - 1) / int64(bs)
		if int64(len(e.GetBlockCrc32C())) != want*4 {
			return fmt.Errorf("%w: shard %d has %d CRC bytes, expected %d", ErrSums, id, len(e.GetBlockCrc32C()), want*4)
		}
	}
	return nil
}

func shardSums(s *Sums, shard int) *volume_server_pb.EcShardChecksums {
	for _, e := range s.GetShards() {
		if int(e.GetShardId()) == shard {
			return e
		}
	}
	return nil
}

// VerifyShard checks the shard file at path against its entry in s and
// returns the numbers of the blocks whose CRC differs. A file whose length
// is not the covered size reports every block bad together with an
// ErrShardSize error; I/O failures and a missing or malformed entry are
// errors with no blocks.
func VerifyShard(s *Sums, shard int, path string) (badBlocks []int, err error) {
	e := shardSums(s, shard)
	if e == nil {
		return nil, fmt.Errorf("%w: no checksums for shard %d", ErrSums, shard)
	}
	bs := int64(s.GetBlockSize())
	if bs < 1<<20 || bs > MaxSumBlockSize || len(e.GetBlockCrc32C())%4 != 0 {
		return nil, fmt.Errorf("%w: shard %d entry unusable (block size %d, %d CRC bytes)", ErrSums, shard, bs, len(e.GetBlockCrc32C()))
	}
	want := e.GetBlockCrc32C()
	nblocks := len(want) / 4
	if int64(nblocks) != (e.GetCoveredSize()+bs-1)/bs {
		return nil, fmt.Errorf("%w: shard %d has %d CRCs for covered size %d", ErrSums, shard, nblocks, e.GetCoveredSize())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ec: verify shard %d: %w", shard, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("ec: verify shard %d: %w", shard, err)
	}
	if fi.Size() != e.GetCoveredSize() {
		all := make([]int, nblocks)
		for i := range all {
			all[i] = i
		}
		return all, fmt.Errorf("%w: shard %d %s is %d bytes, checksums cover %d", ErrShardSize, shard, path, fi.Size(), e.GetCoveredSize())
	}
	buf := make([]byte, bs)
	for i := 0; i < nblocks; i++ {
		off := int64(i) * bs
		n := min(bs, e.GetCoveredSize()-off)
		if _, err := f.ReadAt(buf[:n], off); err != nil && !(err == io.EOF && n > 0) {
			return nil, fmt.Errorf("ec: verify shard %d at %d: %w", shard, off, err)
		}
		if uint32(needle.NewCRC(buf[:n])) != binary.LittleEndian.Uint32(want[i*4:]) {
			badBlocks = append(badBlocks, i)
		}
	}
	return badBlocks, nil
}

// sumBuilder accumulates the block CRCs of one shard's byte stream. Writes
// may be any length and cross block boundaries. Not safe for concurrent use.
type sumBuilder struct {
	block  int64
	cur    needle.CRC
	curLen int64
	total  int64
	crcs   []byte // packed little-endian uint32s
}

func (b *sumBuilder) write(p []byte) {
	for len(p) > 0 {
		n := min(int64(len(p)), b.block-b.curLen)
		b.cur = b.cur.Update(p[:n])
		b.curLen += n
		b.total += n
		p = p[n:]
		if b.curLen == b.block {
			b.crcs = binary.LittleEndian.AppendUint32(b.crcs, uint32(b.cur))
			b.cur, b.curLen = 0, 0
		}
	}
}

func (b *sumBuilder) finish(shard int) *volume_server_pb.EcShardChecksums {
	if b.curLen > 0 {
		b.crcs = binary.LittleEndian.AppendUint32(b.crcs, uint32(b.cur))
		b.cur, b.curLen = 0, 0
	}
	if b.crcs == nil {
		b.crcs = []byte{}
	}
	return &volume_server_pb.EcShardChecksums{ShardId: uint32(shard), CoveredSize: b.total, BlockCrc32C: b.crcs}
}

// newSums assembles a generation-0 sidecar as upstream's encoder does,
// with a fresh random encode_uuid.
func newSums(l Layout, shards []*volume_server_pb.EcShardChecksums) *Sums {
	uuid := make([]byte, 16)
	_, _ = rand.Read(uuid)
	return &Sums{
		Algorithm:  volume_server_pb.ChecksumAlgorithm_CHECKSUM_CRC32C,
		BlockSize:  SumBlockSize,
		Generation: 0,
		EcShardConfig: &volume_server_pb.EcShardConfig{
			DataShards:   uint32(l.DataShards),
			ParityShards: uint32(l.ParityShards),
			BlockSize:    l.BlockSize,
		},
		Shards:     shards,
		EncodeUuid: uuid,
	}
}

// ComputeSums reads every shard file (shard id -> path; all l.Total() must
// be present) and returns a fresh generation-0 sidecar for them: the
// backfill for volumes encoded without one.
func ComputeSums(l Layout, paths map[int]string) (*Sums, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	entries := make([]*volume_server_pb.EcShardChecksums, 0, l.Total())
	buf := make([]byte, 4<<20)
	for id := 0; id < l.Total(); id++ {
		p, ok := paths[id]
		if !ok {
			return nil, fmt.Errorf("ec: checksums: shard %d missing; refusing a partial sidecar", id)
		}
		b := sumBuilder{block: SumBlockSize}
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("ec: checksums: %w", err)
		}
		_, err = io.CopyBuffer(writerFunc(func(q []byte) (int, error) { b.write(q); return len(q), nil }), struct{ io.Reader }{f}, buf)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("ec: checksums: read shard %d: %w", id, err)
		}
		entries = append(entries, b.finish(id))
	}
	return newSums(l, entries), nil
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }
