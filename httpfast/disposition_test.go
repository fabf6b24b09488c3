package httpfast

import (
	"mime"
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
		if got := string(appendDisposition(nil, d, name)); got != want {
			t.Fatalf("appendDisposition(%q, %q) = %q, want %q", d, name, got, want)
		}
	})
}

func TestAppendDispositionDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 256)
	for _, name := range []string{"a.txt", "3,01637037d6", `quo"te`} {
		if n := testing.AllocsPerRun(100, func() { buf = appendDisposition(buf[:0], "inline", name) }); n != 0 {
			t.Errorf("%q: %v allocations", name, n)
		}
	}
}
