package main

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"path/filepath"
	"testing"
	"time"

	"github.com/weedvol/weedvol/internal/weedproc"
)

// exifJpeg is a 7x5 picture (odd sizes: the middle column and row matter)
// with an Exif segment recording orient.
func exifJpeg(t *testing.T, orient int) []byte {
	t.Helper()
	im := image.NewNRGBA(image.Rect(0, 0, 7, 5))
	for y := 0; y < 5; y++ {
		for x := 0; x < 7; x++ {
			im.Set(x, y, color.NRGBA{R: uint8(30 * x), G: uint8(50 * y), B: 90, A: 255})
		}
	}
	var enc bytes.Buffer
	if err := jpeg.Encode(&enc, im, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00")
	binary.BigEndian.PutUint16(tiff[18:], uint16(orient))
	seg := append([]byte("Exif\x00\x00"), tiff...)
	out := []byte{0xFF, 0xD8, 0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(out[4:], uint16(len(seg)+2))
	out = append(out, seg...)
	return append(out, enc.Bytes()[2:]...)
}

// TestJpgOrientationAsUpstream uploads JPEGs of every EXIF orientation to
// upstream and to weedvol, both with -images.fix.orientation, and checks
// that both store the same bytes.
func TestJpgOrientationAsUpstream(t *testing.T) {
	weed := weedproc.TestBinary(t, "WEED_BINARY", "weed")
	bin := buildWeedvol(t, t.TempDir())
	var stored [2][][]byte
	for i, b := range []string{weed, bin} {
		m := startFlagsMaster(t, weed, flagsPort(t), "-volumeSizeLimitMB=64")
		port := flagsPort(t)
		v := start(t, filepath.Base(b), b, port, volumeArgs(port, t.TempDir(), m.Addr(), "-max=8", "-images.fix.orientation")...)
		if err := v.WaitHTTP("/healthz", 60*time.Second); err != nil {
			t.Fatal(err)
		}
		waitSlots(t, m.Addr(), v.Addr())
		for orient := 1; orient <= 9; orient++ {
			a, err := weedproc.Assign(m.Addr(), "")
			if err != nil {
				t.Fatal(err)
			}
			if err := weedproc.Upload(v.Addr(), a.Fid, "photo.JPG", "application/octet-stream", exifJpeg(t, orient)); err != nil {
				t.Fatal(err)
			}
			code, body, _, err := weedproc.Get(v.Addr(), a.Fid)
			if err != nil || code != 200 {
				t.Fatalf("%s orientation %d: %d %v", v.Name, orient, code, err)
			}
			stored[i] = append(stored[i], body)
		}
	}
	for o := range stored[0] {
		if !bytes.Equal(stored[0][o], stored[1][o]) {
			t.Errorf("orientation %d: upstream stored %d bytes, weedvol %d, not the same", o+1, len(stored[0][o]), len(stored[1][o]))
		}
	}
	if bytes.Equal(stored[1][5], exifJpeg(t, 6)) {
		t.Error("orientation 6 stored as uploaded")
	}
}
