package engine

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Names of volume files.
//
// Every file of a volume is "<base><ext>" directly in its location's data
// directory (or index directory), where base is BaseName(collection, id):
// "<collection>_<id>", or "<id>" in the default collection. Collections and
// extensions come from requests and from peers' answers, so every name the
// engine joins to a directory passes ValidCollection or ValidExt first, in
// the constructors themselves (OpenVolume, Store.AllocateVolume, the copy
// stage, Volume.OpenFile and CreateFile): no caller can build a path from
// an unchecked name.
//
// INVARIANT: a base built from names that pass these checks is one path
// element ("." and ".." excluded) that a directory listing gives back
// unchanged: ParseBaseName(BaseName(c, id)) == (c, id) for every valid c.

// ErrInvalidName is matched (errors.Is) by every refusal of a collection or
// extension.
var ErrInvalidName = errors.New("invalid name")

const (
	// maxFileName is the longest file name (one path element) Linux and
	// macOS file systems take (NAME_MAX).
	maxFileName = 255
	// maxIDSuffix is "_" and the longest volume id, in decimal.
	maxIDSuffix = len("_4294967295")
	// maxSuffix is room for the longest suffix weedvol or upstream puts
	// after a base: an atomic .vif write's temporary ".vif.tmp.4294967295"
	// (19), a parked copy's ".replaced.note" (14), ".ecsum" (6).
	maxSuffix = 20
	// MaxCollectionLen is the longest collection name, in bytes: with an id
	// and any suffix it still makes a file name.
	MaxCollectionLen = maxFileName - maxIDSuffix - maxSuffix
	// MaxExtLen is the longest extension ValidExt admits, dot included.
	MaxExtLen = 16
)

// NameError is a refused collection or extension. Its text is upstream's
// ("invalid collection %q", "invalid file extension %q") for the names
// upstream refuses too, with the reason appended for those only weedvol
// refuses; names longer than 64 bytes are cut in the text.
type NameError struct {
	Kind   string // "collection" or "file extension"
	Name   string
	Reason string // "" where upstream refuses the name too
}

func (e *NameError) Error() string {
	s := "invalid " + e.Kind + " " + quoteName(e.Name)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Is makes a NameError match ErrInvalidName.
func (e *NameError) Is(target error) bool { return target == ErrInvalidName }

func quoteName(s string) string {
	const show = 64
	if len(s) <= show {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:show]) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

// ValidCollection reports whether name may be a collection. The empty name
// is the default collection. Refused:
//
//   - '/' and '\': a collection is one path element (upstream refuses
//     these, and "." and "..", in CopyFile and ReceiveFile);
//   - a leading '.': ".", "..", and hidden files;
//   - NUL and other control characters (C0, DEL, C1), and bytes that are
//     not UTF-8 (protobuf strings must be UTF-8: such a name could not be
//     reported to the master);
//   - more than MaxCollectionLen bytes.
//
// Everything else is admitted, so the names real deployments use ("pics",
// "bucket-name", "my_bucket.2024", names with spaces or non-ASCII letters)
// keep working as upstream's.
func ValidCollection(name string) error {
	if name == "" {
		return nil
	}
	if name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return &NameError{Kind: "collection", Name: name}
	}
	if reason := nameProblem(name, MaxCollectionLen); reason != "" {
		return &NameError{Kind: "collection", Name: name, Reason: reason}
	}
	return nil
}

func nameProblem(name string, maxLen int) string {
	if len(name) > maxLen {
		return "longer than " + strconv.Itoa(maxLen) + " bytes"
	}
	if name[0] == '.' {
		return "starts with a dot"
	}
	if !utf8.ValidString(name) {
		return "not UTF-8"
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "holds a control character"
		}
	}
	return ""
}

// ValidExt reports whether ext may name a volume's file: a dot and 1 to
// MaxExtLen-1 ASCII letters and digits (".dat", ".idx", ".ecx", ".ec00",
// ".ecsum"), as upstream's checkVolumeFileExtension, plus the length bound.
func ValidExt(ext string) error {
	if len(ext) < 2 || ext[0] != '.' {
		return &NameError{Kind: "file extension", Name: ext}
	}
	for i := 1; i < len(ext); i++ {
		c := ext[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return &NameError{Kind: "file extension", Name: ext}
		}
	}
	if len(ext) > MaxExtLen {
		return &NameError{Kind: "file extension", Name: ext, Reason: "longer than " + strconv.Itoa(MaxExtLen) + " bytes"}
	}
	return nil
}

// BaseName is the file name stem upstream uses: "<collection>_<id>" or
// "<id>". It does not check collection; the constructors do.
func BaseName(collection string, id uint32) string {
	if collection == "" {
		return strconv.FormatUint(uint64(id), 10)
	}
	return collection + "_" + strconv.FormatUint(uint64(id), 10)
}

// ParseBaseName splits "<collection>_<id>" or "<id>". It admits only what
// BaseName makes from a valid collection: the id in canonical decimal (no
// sign, no leading zeros, at most 4294967295) and a collection that passes
// ValidCollection.
func ParseBaseName(base string) (collection string, id uint32, ok bool) {
	num := base
	if i := strings.LastIndexByte(base, '_'); i > 0 {
		collection, num = base[:i], base[i+1:]
	}
	if num == "" || len(num) > 1 && num[0] == '0' {
		return "", 0, false
	}
	for i := 0; i < len(num); i++ {
		if num[i] < '0' || num[i] > '9' {
			return "", 0, false
		}
	}
	n, err := strconv.ParseUint(num, 10, 32)
	if err != nil || ValidCollection(collection) != nil {
		return "", 0, false
	}
	return collection, uint32(n), true
}
