package httpfast

import (
	"mime"
	"strconv"
	"testing"
)

var dispositionSeeds = []string{
	"", "a.txt", "3,01637037d6", "with space.jpg", `quo"te`, `back\slash`, "tab\there",
	"ünïcode.png", "ctl\x01", "semi;colon", "eq=uals", "x\x7f", "(paren)", "~tilde~",
}

// FuzzAppendDisposition checks appendDisposition against the library
// function whose output it reproduces.
func FuzzAppendDisposition(f *testing.F) {
	for _, s := range dispositionSeeds {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, name string, attachment bool) {
		d := "inline"
		if attachment {
			d = "attachment"
		}
		want := mime.FormatMediaType(d, map[string]string{"filename": name})
		if got := string(appendDisposition(nil, d, []byte(name))); got != want {
			t.Fatalf("appendDisposition(%q, %q) = %q, want %q", d, name, got, want)
		}
	})
}

func TestAppendDispositionDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 256)
	for _, name := range []string{"a.txt", "3,01637037d6", `quo"te`} {
		b := []byte(name)
		if n := testing.AllocsPerRun(100, func() { buf = appendDisposition(buf[:0], "inline", b) }); n != 0 {
			t.Errorf("%q: %v allocations", name, n)
		}
	}
}

func TestTypeByExtension(t *testing.T) {
	for _, tc := range []struct{ ext, want string }{
		{"", ""},
		{".txt", mime.TypeByExtension(".txt")},
		{".png", "image/png"},
		{".PNG", mime.TypeByExtension(".PNG")},
		{".no-such-extension", ""},
	} {
		for round := 0; round < 2; round++ { // a miss, then the cache
			if got := typeByExtension([]byte(tc.ext)); got != tc.want {
				t.Errorf("typeByExtension(%q) round %d = %q, want %q", tc.ext, round, got, tc.want)
			}
		}
	}
	ext := []byte(".png")
	if n := testing.AllocsPerRun(100, func() { typeByExtension(ext) }); n != 0 {
		t.Errorf("cached lookup: %v allocations", n)
	}
	for i := 0; i < 2*maxCachedExtensions; i++ {
		typeByExtension([]byte(".x" + strconv.Itoa(i)))
	}
	if n := len(*extTypes.m.Load()); n > maxCachedExtensions {
		t.Errorf("cache holds %d extensions, bound is %d", n, maxCachedExtensions)
	}
}
