package ec

import (
	"errors"
	"fmt"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
)

// Shard counts and block sizes of upstream's erasure coding.
const (
	DefaultDataShards   = 10
	DefaultParityShards = 4
	// MaxShards bounds data+parity: upstream keeps shard ids in a 32-bit
	// bitmap.
	MaxShards = 32
	// LargeBlockSize and SmallBlockSize are the two block sizes of the
	// legacy two-tier layout. SmallBlockSize is also the unit the uniform
	// layout's block size is rounded up to.
	LargeBlockSize = 1 << 30
	SmallBlockSize = 1 << 20
)

// ErrLayout wraps every rejection of a shard layout (bad counts, bad block
// size).
var ErrLayout = errors.New("invalid ec layout")

// Layout is the geometry of one EC volume: how many data and parity shards
// it has and how the .dat bytes are laid out over the data shards.
//
// BlockSize > 0 is the uniform layout: data shard k holds .dat bytes
// [k*BlockSize, (k+1)*BlockSize), zero padded, and every shard file is
// BlockSize bytes long. BlockSize == 0 is the legacy two-tier layout: rows of
// DataShards blocks of LargeBlockSize while a whole large row fits, then rows
// of SmallBlockSize blocks; block j of a row lives in shard j.
//
// DatSize is the length of the .dat that was encoded (the .vif's
// dat_file_size); 0 when unknown (old legacy volumes). EncodeTsNs is the
// encode-run identity the .vif carries (0 = none recorded; Apply stamps the
// current time then).
type Layout struct {
	DataShards, ParityShards int
	BlockSize                int64
	DatSize                  int64
	EncodeTsNs               int64
}

// DefaultLayout is 10+4 in the legacy layout, what upstream mounts a volume
// with when nothing records its geometry.
func DefaultLayout() Layout {
	return Layout{DataShards: DefaultDataShards, ParityShards: DefaultParityShards}
}

// Total is DataShards+ParityShards.
func (l Layout) Total() int { return l.DataShards + l.ParityShards }

// IsUniform reports whether l is the uniform block layout.
func (l Layout) IsUniform() bool { return l.BlockSize > 0 }

// Validate checks the shard counts (each > 0, sum <= MaxShards), the block
// size (0, or a positive multiple of SmallBlockSize) and DatSize (>= 0).
func (l Layout) Validate() error {
	if l.DataShards <= 0 || l.ParityShards <= 0 || l.DataShards+l.ParityShards > MaxShards {
		return fmt.Errorf("%w: shard counts %d+%d (each must be positive, total at most %d)",
			ErrLayout, l.DataShards, l.ParityShards, MaxShards)
	}
	if err := validateBlockSize(l.BlockSize); err != nil {
		return err
	}
	if l.DatSize < 0 || l.DatSize > MaxDatSize {
		return fmt.Errorf("%w: dat size %d outside [0, %d]", ErrLayout, l.DatSize, int64(MaxDatSize))
	}
	return nil
}

// MaxDatSize bounds the .dat lengths (and so block and shard sizes) the
// package accepts: twice the 8 TiB a 5-byte offset addresses. It keeps all
// offset arithmetic far from overflow on hostile input.
const MaxDatSize = 16 << 40

func validateBlockSize(bs int64) error {
	if bs == 0 {
		return nil
	}
	if bs < 0 || bs%SmallBlockSize != 0 || bs > MaxDatSize {
		return fmt.Errorf("%w: invalid shard block size %d: expected 0 (legacy) or a multiple of %d",
			ErrLayout, bs, SmallBlockSize)
	}
	return nil
}

func validCounts(data, parity uint32) bool {
	return data > 0 && parity > 0 && uint64(data)+uint64(parity) <= MaxShards
}

// UniformBlockSize is the uniform layout's block size for a .dat of datSize
// bytes: ceil(datSize/dataShards) rounded up to a whole SmallBlockSize, at
// least one SmallBlockSize. dataShards must be positive.
func UniformBlockSize(datSize int64, dataShards int) int64 {
	d := int64(dataShards)
	per := (datSize + d - 1) / d
	blocks := (per + SmallBlockSize - 1) / SmallBlockSize
	return max(blocks, 1) * SmallBlockSize
}

// LayoutFromInfo reads the EC geometry of a .vif. A nil info, or one with
// no ec_shard_config, answers DefaultLayout (with the recorded
// dat_file_size): the caller should first consult the .ecsum sidecar in that
// case (LayoutFromSums), as upstream does. A present config with impossible
// counts or block size is an error, never the default.
func LayoutFromInfo(info *volume_server_pb.VolumeInfo) (Layout, error) {
	l := DefaultLayout()
	if info == nil {
		return l, nil
	}
	l.DatSize = info.GetDatFileSize()
	if l.DatSize < 0 {
		return Layout{}, fmt.Errorf("%w: .vif records negative dat_file_size %d", ErrLayout, l.DatSize)
	}
	cfg := info.GetEcShardConfig()
	if cfg == nil {
		return l, nil
	}
	if !validCounts(cfg.GetDataShards(), cfg.GetParityShards()) {
		return Layout{}, fmt.Errorf("%w: .vif records invalid shard counts %d+%d",
			ErrLayout, cfg.GetDataShards(), cfg.GetParityShards())
	}
	if err := validateBlockSize(cfg.GetBlockSize()); err != nil {
		return Layout{}, err
	}
	l.DataShards = int(cfg.GetDataShards())
	l.ParityShards = int(cfg.GetParityShards())
	l.BlockSize = cfg.GetBlockSize()
	l.EncodeTsNs = cfg.GetEncodeTsNs()
	return l, nil
}

// LayoutFromSums reads the geometry recorded in a generation-0 .ecsum, the
// fallback upstream uses when the .vif records none. DatSize is left 0 (the
// sidecar does not record it).
func LayoutFromSums(s *Sums) (Layout, error) {
	if s == nil || s.GetEcShardConfig() == nil {
		return Layout{}, fmt.Errorf("%w: sidecar records no EC config", ErrLayout)
	}
	if s.GetGeneration() != 0 {
		return Layout{}, fmt.Errorf("%w: sidecar records generation %d, not generation 0", ErrLayout, s.GetGeneration())
	}
	cfg := s.GetEcShardConfig()
	if !validCounts(cfg.GetDataShards(), cfg.GetParityShards()) {
		return Layout{}, fmt.Errorf("%w: sidecar records invalid shard counts %d+%d",
			ErrLayout, cfg.GetDataShards(), cfg.GetParityShards())
	}
	if err := validateBlockSize(cfg.GetBlockSize()); err != nil {
		return Layout{}, err
	}
	return Layout{
		DataShards:   int(cfg.GetDataShards()),
		ParityShards: int(cfg.GetParityShards()),
		BlockSize:    cfg.GetBlockSize(),
		EncodeTsNs:   cfg.GetEncodeTsNs(),
	}, nil
}

// Apply records l in info as upstream's encoder does: ec_shard_config with
// data/parity/block_size and encode_ts_ns (l.EncodeTsNs, or the current time
// when 0), and dat_file_size. Version, expiry and the rest are the caller's.
func (l Layout) Apply(info *volume_server_pb.VolumeInfo) {
	if info == nil {
		return
	}
	ts := l.EncodeTsNs
	if ts == 0 {
		ts = time.Now().UnixNano()
	}
	info.DatFileSize = l.DatSize
	info.EcShardConfig = &volume_server_pb.EcShardConfig{
		DataShards:   uint32(l.DataShards),
		ParityShards: uint32(l.ParityShards),
		EncodeTsNs:   ts,
		BlockSize:    l.BlockSize,
	}
}

// ShardFileName is base + ".ec%02d".
func ShardFileName(base string, shard int) string {
	return fmt.Sprintf("%s.ec%02d", base, shard)
}

// ShardSizeFor is the length every shard file of a .dat of datSize bytes has
// under l (uniform when l.BlockSize > 0, else legacy).
func (l Layout) ShardSizeFor(datSize int64) int64 {
	if datSize <= 0 || l.DataShards <= 0 {
		return 0
	}
	g := l.encodeGeometry(datSize)
	return g.shardSize(datSize)
}
