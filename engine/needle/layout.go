// Package needle encodes and decodes SeaweedFS needle records, the unit of
// storage in a volume's .dat file, byte for byte as upstream `weed volume`
// writes them.
//
// A record, all integers big-endian:
//
//	version 1:
//	+--------+--------+------+------------------+----------+---------+
//	| cookie | id     | size | data (size B)    | checksum | padding |
//	| 4      | 8      | 4    |                  | 4        | 1..8    |
//	+--------+--------+------+------------------+----------+---------+
//
//	versions 2 and 3 (body is present only when size > 0):
//	+--------+----+------+----------------------------------------+----------+-------------+---------+
//	| cookie | id | size | body (size B)                          | checksum | appendAtNs  | padding |
//	| 4      | 8  | 4    |                                        | 4        | 8, v3 only  | 1..8    |
//	+--------+----+------+----------------------------------------+----------+-------------+---------+
//	body: dataSize(4) data flags(1) [nameSize(1) name] [mimeSize(1) mime]
//	      [lastModified(5)] [ttl(2)] [pairsSize(2) pairs]
//
// The bracketed fields are present when their flag bit is set. Padding makes
// the whole record a multiple of 8 bytes and is never empty: an aligned
// record still carries 8 bytes of it. Upstream fills padding with whatever
// its scratch header held; Encode reproduces those bytes so that records are
// identical, although no reader looks at them.
//
// The checksum is CRC-32C (Castagnoli) of data. Readers accept either that
// raw value or upstream's legacy masked form (see CRC.Legacy).
package needle

// Sizes of the fixed fields of a record.
const (
	CookieSize    = 4
	IDSize        = 8
	SizeSize      = 4
	HeaderSize    = CookieSize + IDSize + SizeSize // 16
	ChecksumSize  = 4
	TimestampSize = 8
	PaddingAlign  = 8
	DataSizeSize  = 4

	lastModifiedSize = 5
	ttlSize          = 2
	pairsSizeSize    = 2
)

// Flag bits of the body's flags byte.
const (
	FlagIsCompressed        = 0x01
	FlagHasName             = 0x02
	FlagHasMime             = 0x04
	FlagHasLastModifiedDate = 0x08
	FlagHasTTL              = 0x10
	FlagHasPairs            = 0x20
	FlagIsChunkManifest     = 0x80
)

// Version is a volume's needle format version, stored in its super block.
type Version uint8

// The needle versions upstream has written.
const (
	Version1 Version = 1
	Version2 Version = 2
	Version3 Version = 3

	CurrentVersion = Version3
)

// Supported reports whether v is a needle version this package can read.
func (v Version) Supported() bool { return v >= Version1 && v <= Version3 }

// TombstoneSize is the size recorded in .idx for a deleted needle.
const TombstoneSize int32 = -1

// PaddingLength returns the number of padding bytes (1..8) that follow a
// record whose size field is size.
func PaddingLength(size int32, v Version) int32 {
	fixed := int32(HeaderSize + ChecksumSize)
	if v == Version3 {
		fixed += TimestampSize
	}
	return PaddingAlign - (fixed+size)%PaddingAlign
}

// BodyLength is the number of bytes after the 16-byte header: body,
// checksum, timestamp (v3) and padding.
func BodyLength(size int32, v Version) int64 {
	n := int64(size) + ChecksumSize + int64(PaddingLength(size, v))
	if v == Version3 {
		n += TimestampSize
	}
	return n
}

// ActualSize is the whole on-disk length of a record whose size field is size.
func ActualSize(size int32, v Version) int64 {
	return HeaderSize + BodyLength(size, v)
}

// IsDeletedSize reports whether an index size marks a deleted needle:
// the tombstone or a negated live size.
func IsDeletedSize(size int32) bool { return size < 0 }

// IsValidSize reports whether an index size names a live needle with data.
func IsValidSize(size int32) bool { return size > 0 }
