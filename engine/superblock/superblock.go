// Package superblock encodes the header at the start of every .dat file.
//
//	+---------+-----------+-----+------------+-----------+------------------+
//	| version | placement | ttl | compaction | extraSize | extra (protobuf) |
//	| 1       | 1         | 2   | revision 2 | 2         | extraSize bytes  |
//	+---------+-----------+-----+------------+-----------+------------------+
//
// Integers are big-endian. The extra block (a master_pb.SuperBlockExtra) is
// present only when extraSize > 0, and counted in the block size only for
// needle versions 2 and 3, as upstream does. The first needle starts right
// after the block.
package superblock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/seaweedfs/seaweedfs/weed/pb/master_pb"
	"google.golang.org/protobuf/proto"

	"github.com/weedvol/weedvol/engine/needle"
)

// Size is the length of the fixed part of a super block.
const Size = 8

// ErrCorrupted wraps every decode failure.
var ErrCorrupted = errors.New("super block corrupted")

// SuperBlock is a volume's header.
type SuperBlock struct {
	Version            needle.Version
	ReplicaPlacement   ReplicaPlacement
	TTL                needle.TTL
	CompactionRevision uint16
	// Extra is the optional protobuf block; ExtraRaw keeps its bytes as read
	// so a rewrite reproduces them exactly.
	Extra    *master_pb.SuperBlockExtra
	ExtraRaw []byte
}

// BlockSize is the on-disk length of the block, the offset of the first needle.
func (s *SuperBlock) BlockSize() int {
	if s.Version == needle.Version1 {
		return Size
	}
	return Size + len(s.ExtraRaw)
}

// Encode returns the block's bytes. Extra, when set and ExtraRaw is empty,
// is marshalled first.
func (s *SuperBlock) Encode() ([]byte, error) {
	if s.Extra != nil && len(s.ExtraRaw) == 0 {
		raw, err := proto.Marshal(s.Extra)
		if err != nil {
			return nil, fmt.Errorf("marshal super block extra: %w", err)
		}
		s.ExtraRaw = raw
	}
	if len(s.ExtraRaw) > 256*256-2 {
		return nil, fmt.Errorf("super block extra of %d bytes is too large", len(s.ExtraRaw))
	}
	b := make([]byte, Size, Size+len(s.ExtraRaw))
	b[0] = byte(s.Version)
	b[1] = s.ReplicaPlacement.Byte()
	b[2], b[3] = s.TTL.Count, s.TTL.Unit
	binary.BigEndian.PutUint16(b[4:6], s.CompactionRevision)
	if len(s.ExtraRaw) > 0 {
		binary.BigEndian.PutUint16(b[6:8], uint16(len(s.ExtraRaw)))
		b = append(b, s.ExtraRaw...)
	}
	return b, nil
}

// ExtraSize returns the extra block length recorded in the fixed part b.
func ExtraSize(b []byte) int {
	if len(b) < Size {
		return 0
	}
	return int(binary.BigEndian.Uint16(b[6:8]))
}

// Decode parses a super block from b, which must hold the fixed part and,
// when the fixed part announces one, the whole extra block.
func Decode(b []byte) (SuperBlock, error) {
	if len(b) < Size {
		return SuperBlock{}, fmt.Errorf("%w: %d bytes, need %d", ErrCorrupted, len(b), Size)
	}
	s := SuperBlock{
		Version:            needle.Version(b[0]),
		ReplicaPlacement:   PlacementFromByte(b[1]),
		TTL:                needle.TTL{Count: b[2], Unit: b[3]},
		CompactionRevision: binary.BigEndian.Uint16(b[4:6]),
	}
	if !s.Version.Supported() {
		return s, fmt.Errorf("%w: unsupported version %d", ErrCorrupted, b[0])
	}
	if n := ExtraSize(b); n > 0 {
		if len(b) < Size+n {
			return s, fmt.Errorf("%w: extra block of %d bytes cut off at %d", ErrCorrupted, n, len(b)-Size)
		}
		s.ExtraRaw = append([]byte(nil), b[Size:Size+n]...)
		s.Extra = &master_pb.SuperBlockExtra{}
		if err := proto.Unmarshal(s.ExtraRaw, s.Extra); err != nil {
			return s, fmt.Errorf("%w: extra block: %v", ErrCorrupted, err)
		}
	}
	return s, nil
}

// ReplicaPlacement is the "xyz" replication setting: x copies in other data
// centers, y on other racks, z on other servers of the same rack.
type ReplicaPlacement struct {
	DiffDataCenter, DiffRack, SameRack int
}

// PlacementFromByte decodes the stored byte (100x+10y+z).
func PlacementFromByte(b byte) ReplicaPlacement {
	return ReplicaPlacement{DiffDataCenter: int(b) / 100, DiffRack: int(b) / 10 % 10, SameRack: int(b) % 10}
}

// ParsePlacement reads "", "1", "01" or "001" style strings as upstream does.
func ParsePlacement(s string) (ReplicaPlacement, error) {
	for len(s) < 3 {
		s = "0" + s
	}
	if len(s) > 3 {
		return ReplicaPlacement{}, fmt.Errorf("unknown replication type: %s", s)
	}
	var d [3]int
	for i := 0; i < 3; i++ {
		c := int(s[i]) - '0'
		if c < 0 || c > 9 {
			return ReplicaPlacement{}, fmt.Errorf("unknown replication type: %s", s)
		}
		d[i] = c
	}
	rp := ReplicaPlacement{DiffDataCenter: d[0], DiffRack: d[1], SameRack: d[2]}
	if d[0]*100+d[1]*10+d[2] > 255 {
		return rp, fmt.Errorf("unexpected replication type: %s", s)
	}
	return rp, nil
}

// Byte encodes the placement for the super block.
func (r ReplicaPlacement) Byte() byte {
	return byte(r.DiffDataCenter*100 + r.DiffRack*10 + r.SameRack)
}

// String prints the three digits, e.g. "001".
func (r ReplicaPlacement) String() string {
	b := []byte{'0', '0', '0'}
	b[0] += byte(r.DiffDataCenter)
	b[1] += byte(r.DiffRack)
	b[2] += byte(r.SameRack)
	if r.DiffDataCenter > 9 || r.DiffRack > 9 || r.SameRack > 9 {
		return strconv.Itoa(int(r.Byte()))
	}
	return string(b)
}

// CopyCount is how many copies of each needle the placement asks for.
func (r ReplicaPlacement) CopyCount() int {
	return r.DiffDataCenter + r.DiffRack + r.SameRack + 1
}
