package needle

import (
	"fmt"
	"strconv"
)

// TTL units as stored in the second TTL byte.
const (
	TTLEmpty byte = iota
	TTLMinute
	TTLHour
	TTLDay
	TTLWeek
	TTLMonth
	TTLYear
)

// TTL is a time to live: a count of a unit, two bytes on disk.
type TTL struct {
	Count byte
	Unit  byte
}

// IsZero reports whether t means "never expires".
func (t TTL) IsZero() bool { return t.Count == 0 || t.Unit == TTLEmpty }

var unitSeconds = [...]uint64{0, 60, 3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400}

// Seconds is the TTL's length in seconds; 0 for none or an unknown unit.
func (t TTL) Seconds() uint64 {
	if int(t.Unit) >= len(unitSeconds) {
		return 0
	}
	return uint64(t.Count) * unitSeconds[t.Unit]
}

// Uint32 packs t as upstream sends it to the master: count<<8 | unit.
func (t TTL) Uint32() uint32 {
	if t.Count == 0 {
		return 0
	}
	return uint32(t.Count)<<8 | uint32(t.Unit)
}

// TTLFromUint32 unpacks the form Uint32 produces.
func TTLFromUint32(v uint32) TTL { return TTL{Count: byte(v >> 8), Unit: byte(v)} }

// TTLFromBytes decodes the two stored bytes.
func TTLFromBytes(b [2]byte) TTL { return TTL{Count: b[0], Unit: b[1]} }

// Bytes encodes the two stored bytes.
func (t TTL) Bytes() [2]byte { return [2]byte{t.Count, t.Unit} }

const unitLetters = " mhdwMy"

// String prints t as upstream does ("3d", "15m"), or "" for none.
func (t TTL) String() string {
	if t.Count == 0 || t.Unit == TTLEmpty || int(t.Unit) >= len(unitLetters) {
		return ""
	}
	return strconv.Itoa(int(t.Count)) + string(unitLetters[t.Unit])
}

// ParseTTL reads the forms upstream accepts: "" (none), "<n>" (minutes) or
// "<n><unit>" with unit one of m h d w M y. Counts that do not fit one byte
// are re-expressed in the largest unit that divides them exactly, else the
// smallest unit whose count fits, as upstream does.
func ParseTTL(s string) (TTL, error) {
	if s == "" {
		return TTL{}, nil
	}
	unit := s[len(s)-1]
	digits := s[:len(s)-1]
	if unit >= '0' && unit <= '9' {
		digits, unit = s, 'm'
	}
	count, err := strconv.Atoi(digits)
	if err != nil {
		return TTL{}, fmt.Errorf("ttl %q: %w", s, err)
	}
	u := byte(0)
	for i := 1; i < len(unitLetters); i++ {
		if unitLetters[i] == unit {
			u = byte(i)
		}
	}
	if count < 0 {
		return TTL{}, fmt.Errorf("ttl %q: negative count", s)
	}
	return fitTTL(uint64(count) * unitSeconds[u]), nil
}

func fitTTL(sec uint64) TTL {
	if sec == 0 {
		return TTL{}
	}
	for u := TTLYear; u >= TTLHour; u-- {
		if sec%unitSeconds[u] == 0 && sec/unitSeconds[u] < 256 {
			return TTL{Count: byte(sec / unitSeconds[u]), Unit: u}
		}
	}
	for u := TTLMinute; u <= TTLYear; u++ {
		if sec/unitSeconds[u] < 256 {
			return TTL{Count: byte(sec / unitSeconds[u]), Unit: u}
		}
	}
	return TTL{}
}
