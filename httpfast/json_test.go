package httpfast

import (
	"encoding/json"
	"fmt"
	"testing"
)

// uploadResult is upstream's operation.UploadResult as JSON: the oracle
// appendUploadResult is checked against, and what tests decode replies into.
type uploadResult struct {
	Name       string `json:"name,omitempty"`
	Size       uint32 `json:"size,omitempty"`
	Error      string `json:"error,omitempty"`
	ETag       string `json:"eTag,omitempty"`
	Mime       string `json:"mime,omitempty"`
	ContentMd5 string `json:"contentMd5,omitempty"`
}

// FuzzAppendUploadResult checks the hand-written upload reply against
// encoding/json on the same struct.
func FuzzAppendUploadResult(f *testing.F) {
	for _, seed := range []struct {
		name, mime, md5 string
		size, sum       uint32
	}{
		{"", "", "", 0, 0},
		{"a.txt", "text/plain", "", 11, 0xdeadbeef},
		{"x<y>&z.html", "text/html; charset=utf-8", "1B2M2Y8AsgTpgAmY7PhCfg==", 1 << 20, 1},
		{"quo\"te\\.bin", "", "", 5, 0x0000ffff},
		{"ünï\u2028.png", "image/png", "", 3, 7},
		{"bad\xff\xfe", "ctl\x01\x7f", "m", 1, 2},
	} {
		f.Add(seed.name, seed.mime, seed.md5, seed.size, seed.sum)
	}
	f.Fuzz(func(t *testing.T, name, mime, md5 string, size, sum uint32) {
		want, err := json.Marshal(uploadResult{Name: name, Size: size, ETag: fmt.Sprintf("%08x", sum), Mime: mime, ContentMd5: md5})
		if err != nil {
			t.Skip()
		}
		if got := appendUploadResult(nil, []byte(name), size, sum, []byte(mime), md5); string(got) != string(want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}

func TestAppendUploadResultDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 512)
	name, mime := []byte("photo.jpg"), []byte("image/jpeg")
	if n := testing.AllocsPerRun(100, func() {
		buf = appendUploadResult(buf[:0], name, 1234, 0xabcdef01, mime, "1B2M2Y8AsgTpgAmY7PhCfg==")
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
