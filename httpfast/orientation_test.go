package httpfast

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// jpegWithOrientation encodes a w x h picture with a distinct colour per
// quadrant and inserts an Exif segment carrying orient (none when 0), in
// the byte order bo.
func jpegWithOrientation(t testing.TB, w, h, orient int, bo binary.ByteOrder) []byte {
	t.Helper()
	im := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{A: 255}
			if x < w/2 {
				c.R = 250
			}
			if y < h/2 {
				c.G = 250
			}
			im.Set(x, y, c)
		}
	}
	var enc bytes.Buffer
	if err := jpeg.Encode(&enc, im, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	if orient == 0 {
		return enc.Bytes()
	}
	tiff := make([]byte, 8+2+12+4)
	if bo == binary.LittleEndian {
		copy(tiff, "II")
	} else {
		copy(tiff, "MM")
	}
	bo.PutUint16(tiff[2:], 42)
	bo.PutUint32(tiff[4:], 8)
	bo.PutUint16(tiff[8:], 1)
	bo.PutUint16(tiff[10:], 0x0112)
	bo.PutUint16(tiff[12:], 3) // SHORT
	bo.PutUint32(tiff[14:], 1)
	bo.PutUint16(tiff[18:], uint16(orient))
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(app1[2:], uint16(len(seg)+2))
	out := append([]byte{0xFF, 0xD8}, app1...)
	out = append(out, seg...)
	return append(out, enc.Bytes()[2:]...)
}

func TestExifOrientation(t *testing.T) {
	good := jpegWithOrientation(t, 4, 2, 6, binary.BigEndian)
	tests := []struct {
		name string
		data []byte
		want int
		ok   bool
	}{
		{"big endian", good, 6, true},
		{"little endian", jpegWithOrientation(t, 4, 2, 3, binary.LittleEndian), 3, true},
		{"no exif", jpegWithOrientation(t, 4, 2, 0, binary.BigEndian), 0, false},
		{"not a jpeg", []byte("GIF89a...."), 0, false},
		{"empty", nil, 0, false},
		{"truncated segment", good[:10], 0, false},
		{"truncated tiff", good[:30], 0, false},
	}
	for _, tc := range tests {
		got, ok := exifOrientation(tc.data)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: %d %v", tc.name, got, ok)
		}
	}
	// every prefix of a valid file is handled without a panic
	for i := range good {
		exifOrientation(good[:i])
		fixJpgOrientation(good[:i])
	}
}

// TestFixJpgOrientation: orientation 1 leaves the bytes alone; the others
// are re-encoded without the tag, turned a quarter for 5 to 8. (The pixels
// are compared with upstream's in cmd/weedvol's TestJpgOrientationAsUpstream.)
func TestFixJpgOrientation(t *testing.T) {
	for orient := 1; orient <= 8; orient++ {
		in := jpegWithOrientation(t, 8, 6, orient, binary.BigEndian)
		out := fixJpgOrientation(in)
		if orient == 1 {
			if !bytes.Equal(in, out) {
				t.Error("orientation 1 re-encoded")
			}
			continue
		}
		im, err := jpeg.Decode(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("orientation %d: %v", orient, err)
		}
		b := im.Bounds()
		if turned := orient >= 5; turned != (b.Dx() == 6) {
			t.Errorf("orientation %d: %dx%d", orient, b.Dx(), b.Dy())
		}
		if _, ok := exifOrientation(out); ok {
			t.Errorf("orientation %d: output keeps an orientation tag", orient)
		}
	}
}
