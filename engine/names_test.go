package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidCollection(t *testing.T) {
	for _, name := range []string{
		"", "pics", "bucket-name", "my_bucket.2024", "a_1", "123", "with space", "日本語", "x..y", "trailing.", "ec-copy",
		strings.Repeat("a", MaxCollectionLen),
	} {
		if err := ValidCollection(name); err != nil {
			t.Errorf("ValidCollection(%q) = %v, want valid", name, err)
		}
	}
	for name, want := range map[string]string{
		".":                                     `invalid collection "."`,
		"..":                                    `invalid collection ".."`,
		"../x":                                  `invalid collection "../x"`,
		"../../x":                               `invalid collection "../../x"`,
		"a/b":                                   `invalid collection "a/b"`,
		"/abs":                                  `invalid collection "/abs"`,
		`..\x`:                                  `invalid collection "..\\x"`,
		".hidden":                               `invalid collection ".hidden": starts with a dot`,
		"a\x00b":                                `invalid collection "a\x00b": holds a control character`,
		"\x01":                                  `invalid collection "\x01": holds a control character`,
		"tab\t":                                 `invalid collection "tab\t": holds a control character`,
		"del\x7f":                               `invalid collection "del\x7f": holds a control character`,
		"c1\u0085":                              `invalid collection "c1\u0085": holds a control character`,
		"bad\xff":                               `invalid collection "bad\xff": not UTF-8`,
		strings.Repeat("a", MaxCollectionLen+1): `invalid collection "` + strings.Repeat("a", 64) + `"... (225 bytes): longer than 224 bytes`,
	} {
		err := ValidCollection(name)
		if err == nil || err.Error() != want || !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidCollection(%q) = %v, want %s", name, err, want)
		}
	}
	if err := ValidCollection(strings.Repeat("x", 100<<10)); err == nil || len(err.Error()) > 200 {
		t.Errorf("100 KB name: %d-byte error %v", len(err.Error()), err)
	}
	// the longest collection still makes every file name weedvol writes
	dir := t.TempDir()
	base := BaseName(strings.Repeat("a", MaxCollectionLen), 4294967295)
	for _, suffix := range []string{".vif.tmp.4294967295", ".replaced.note", "." + strings.Repeat("e", MaxExtLen-1)} {
		if err := os.WriteFile(filepath.Join(dir, base+suffix), nil, 0o644); err != nil {
			t.Errorf("longest name with %s: %v", suffix, err)
		}
	}
}

func TestValidExt(t *testing.T) {
	for _, ext := range []string{".dat", ".idx", ".vif", ".ecx", ".ecj", ".ec00", ".ec31", ".ecsum", ".tmprecv", "." + strings.Repeat("a", MaxExtLen-1)} {
		if err := ValidExt(ext); err != nil {
			t.Errorf("ValidExt(%q) = %v", ext, err)
		}
	}
	for _, ext := range []string{"", ".", "dat", "..", "./x", "/../../x", ".d/at", `.d\at`, ".dat\x00", ".a.b", ". dat", ".d\u00e4t", "." + strings.Repeat("a", MaxExtLen)} {
		err := ValidExt(ext)
		if err == nil || !strings.HasPrefix(err.Error(), "invalid file extension ") || !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidExt(%q) = %v", ext, err)
		}
	}
	if err := ValidExt("/x"); err == nil || err.Error() != `invalid file extension "/x"` {
		t.Errorf("upstream's text: %v", err)
	}
}

func TestParseBaseName(t *testing.T) {
	for _, tc := range []struct {
		base       string
		collection string
		id         uint32
		ok         bool
	}{
		{"5", "", 5, true},
		{"0", "", 0, true},
		{"pics_5", "pics", 5, true},
		{"a_b_5", "a_b", 5, true},
		{"my_bucket.2024_4294967295", "my_bucket.2024", 4294967295, true},
		{"pics_05", "", 0, false},
		{"pics_+5", "", 0, false},
		{"pics_-5", "", 0, false},
		{"pics_4294967296", "", 0, false},
		{"pics_", "", 0, false},
		{"_5", "", 0, false},
		{".hidden_5", "", 0, false},
		{"a\x01_5", "", 0, false},
		{"pics", "", 0, false},
		{"", "", 0, false},
	} {
		c, id, ok := ParseBaseName(tc.base)
		if c != tc.collection || id != tc.id || ok != tc.ok {
			t.Errorf("ParseBaseName(%q) = %q, %d, %v; want %q, %d, %v", tc.base, c, id, ok, tc.collection, tc.id, tc.ok)
		}
		if ok && BaseName(c, id) != tc.base {
			t.Errorf("BaseName(ParseBaseName(%q)) = %q", tc.base, BaseName(c, id))
		}
	}
}

// TestConstructorsRefuseNames: no constructor builds a path from a name
// ValidCollection refuses, and nothing is created.
func TestConstructorsRefuseNames(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "a", "data")
	s, err := OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: dir, MaxVolumes: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, c := range []string{"../x", "../../x", ".x", "a/b", "a\x00b"} {
		if err := s.AllocateVolume(uint32(i+1), AllocateOptions{Collection: c}); !errors.Is(err, ErrInvalidName) {
			t.Errorf("AllocateVolume %q: %v", c, err)
		}
		if _, err := OpenVolume(VolumeConfig{ID: 9, Collection: c, Dir: dir, Create: true}); !errors.Is(err, ErrInvalidName) {
			t.Errorf("OpenVolume %q: %v", c, err)
		}
		if _, err := s.Locations()[0].BeginCopy(c, 9); !errors.Is(err, ErrInvalidName) {
			t.Errorf("BeginCopy %q: %v", c, err)
		}
	}
	entries, _ := os.ReadDir(parent)
	inner, _ := os.ReadDir(filepath.Join(parent, "a"))
	files, _ := os.ReadDir(dir)
	if len(entries) != 1 || len(inner) != 1 || len(files) != 0 {
		t.Fatalf("files were created: %v %v %v", entries, inner, files)
	}
}

// TestScanSkipsForeignNames: .dat files whose names BaseName cannot make
// are not loaded as volumes, and the operator hears of them.
func TestScanSkipsForeignNames(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: dir, MaxVolumes: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AllocateVolume(3, AllocateOptions{Collection: "pics"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, name := range []string{"pics_03.dat", ".hidden_4.dat", "x_+5.dat"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte{3, 0, 0, 0, 0, 0, 0, 0}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var logged []string
	s, err = OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: dir, MaxVolumes: 4}}, Logf: func(f string, a ...any) {
		logged = append(logged, f)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if vs := s.Volumes(); len(vs) != 1 || vs[0].ID != 3 || vs[0].Collection != "pics" {
		t.Fatalf("volumes %v", vs)
	}
	if len(logged) != 3 {
		t.Fatalf("logged %v", logged)
	}
}
