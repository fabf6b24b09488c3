package needle

import "hash/crc32"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC is a running CRC-32C over needle data, as stored in the checksum field.
type CRC uint32

// NewCRC returns the checksum of b.
func NewCRC(b []byte) CRC { return CRC(crc32.Update(0, castagnoli, b)) }

// Update extends c with b.
func (c CRC) Update(b []byte) CRC { return CRC(crc32.Update(uint32(c), castagnoli, b)) }

// Legacy is the masked form that old upstream releases stored instead of
// the raw CRC. Readers accept both.
func (c CRC) Legacy() uint32 { return uint32(c>>15|c<<17) + 0xa282ead8 }

// Matches reports whether a stored checksum field agrees with c.
func (c CRC) Matches(stored uint32) bool { return uint32(c) == stored || c.Legacy() == stored }
