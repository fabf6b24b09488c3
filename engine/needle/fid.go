package needle

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrBadFid is returned for a file id that does not parse.
var ErrBadFid = errors.New("invalid file id")

// ParseKeyCookie parses the "<key hex><cookie 8 hex>[_<delta>]" part of a
// file id as upstream does: the last 8 hex digits are the cookie, those
// before them (1 to 16) the needle key, and a decimal delta after the last
// '_' is added to the key. It does not allocate.
func ParseKeyCookie(s []byte) (key uint64, cookie uint32, err error) {
	var delta uint64
	hasDelta := false
	for i := len(s) - 1; i > 0; i-- {
		if s[i] == '_' {
			if i+1 < len(s) { // an empty delta is ignored, as upstream
				d, ok := parseDec(s[i+1:])
				if !ok {
					return 0, 0, ErrBadFid
				}
				delta, hasDelta = d, true
			}
			s = s[:i]
			break
		}
	}
	if len(s) <= 2*CookieSize || len(s) > 2*(CookieSize+IDSize) {
		return 0, 0, ErrBadFid
	}
	split := len(s) - 2*CookieSize
	key, ok := parseHex(s[:split])
	if !ok {
		return 0, 0, ErrBadFid
	}
	c, ok := parseHex(s[split:])
	if !ok {
		return 0, 0, ErrBadFid
	}
	if hasDelta {
		if delta > ^uint64(0)-key {
			return 0, 0, ErrBadFid
		}
		key += delta
	}
	return key, uint32(c), nil
}

// FormatKeyCookie appends key and cookie in the canonical file id form:
// 12 bytes of key+cookie in hex with leading zero bytes of the key dropped.
func FormatKeyCookie(dst []byte, key uint64, cookie uint32) []byte {
	var b [12]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(key >> (56 - 8*i))
	}
	for i := 0; i < 4; i++ {
		b[8+i] = byte(cookie >> (24 - 8*i))
	}
	i := 0
	for i < 8 && b[i] == 0 {
		i++
	}
	const hexDigits = "0123456789abcdef"
	for _, c := range b[i:] {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&15])
	}
	return dst
}

// ParseVolumeID parses a decimal volume id as upstream does (a uint32).
func ParseVolumeID(s []byte) (uint32, error) {
	v, ok := parseDec(s)
	if !ok || v > 1<<32-1 {
		return 0, ErrBadFid
	}
	return uint32(v), nil
}

// FormatFid returns "vid,keycookie".
func FormatFid(vid uint32, key uint64, cookie uint32) string {
	b := strconv.AppendUint(make([]byte, 0, 32), uint64(vid), 10)
	b = append(b, ',')
	return string(FormatKeyCookie(b, key, cookie))
}

func parseHex(s []byte) (uint64, bool) {
	if len(s) == 0 || len(s) > 16 {
		return 0, false
	}
	var v uint64
	for _, c := range s {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	return v, true
}

func parseDec(s []byte) (uint64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (^uint64(0)-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// UpstreamFidError is the error upstream's needle.ParsePath gives for the
// key-and-cookie part s of a file id, in upstream's words (clients show
// them), or nil when s parses. It is for error replies only: ParseKeyCookie
// is the parser.
func UpstreamFidError(s string) error {
	if len(s) <= 2*CookieSize {
		return fmt.Errorf("Invalid fid: %s", s)
	}
	delta := ""
	if i := strings.LastIndex(s, "_"); i > 0 {
		s, delta = s[:i], s[i+1:]
	}
	if len(s) <= 2*CookieSize {
		return errors.New("KeyHash is too short.")
	}
	if len(s) > 2*(CookieSize+IDSize) {
		return errors.New("KeyHash is too long.")
	}
	split := len(s) - 2*CookieSize
	key, err := strconv.ParseUint(s[:split], 16, 64)
	if err != nil {
		return fmt.Errorf("Parse needleId error: %w", fmt.Errorf("needle id %s format error: %v", s[:split], err))
	}
	if _, err := strconv.ParseUint(s[split:], 16, 32); err != nil {
		return fmt.Errorf("Parse cookie error: %w", fmt.Errorf("needle cookie %s format error: %v", s[split:], err))
	}
	if delta != "" {
		d, err := strconv.ParseUint(delta, 10, 64)
		if err != nil {
			return err
		}
		if d > math.MaxUint64-key {
			// upstream formats its id type, a Stringer, with %x: the hex
			// digits of the id's hex string
			return fmt.Errorf("delta %d overflows needle id %x", d, strconv.FormatUint(key, 16))
		}
	}
	return nil
}

// UpstreamVolumeIDError is the error upstream gives for a volume id that
// does not parse, or, for one that parses as 64 bits but not 32 (which
// upstream truncates and weedvol refuses), weedvol's own; nil when s is a
// valid volume id.
func UpstreamVolumeIDError(s string) error {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return err
	}
	if v > math.MaxUint32 {
		return fmt.Errorf("volume id %s is out of range", s)
	}
	return nil
}
