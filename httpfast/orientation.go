package httpfast

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/draw"
	"image/jpeg"
	"strings"
)

// isJpegUpload is upstream's test for -images.fix.orientation: a JPEG MIME
// type or a .jpg/.jpeg file name.
func isJpegUpload(mime, name string) bool {
	name = strings.ToLower(name)
	return mime == "image/jpeg" || strings.HasSuffix(name, ".jpg") || strings.HasSuffix(name, ".jpeg")
}

// fixJpgOrientation returns data turned upright by its EXIF orientation
// and re-encoded as a JPEG at Go's default quality, as upstream's
// -images.fix.orientation stores it; data itself when it carries no
// orientation, is already upright, or does not decode.
func fixJpgOrientation(data []byte) []byte {
	orient, ok := exifOrientation(data)
	if !ok || orient == 1 {
		return data
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return data
	}
	// each orientation is a turn (degrees counter-clockwise) then maybe a
	// mirror across the vertical axis
	// (an unknown value is re-encoded unturned, as upstream does)
	turn, mirror := 0, false
	switch orient {
	case 2:
		mirror = true
	case 3:
		turn = 180
	case 4:
		turn, mirror = 180, true
	case 5:
		turn, mirror = -90, true
	case 6:
		turn = -90
	case 7:
		turn, mirror = 90, true
	case 8:
		turn = 90
	}
	img := turnImage(src, turn)
	if mirror {
		img = mirrorImage(img)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		return data
	}
	return buf.Bytes()
}

// turnImage turns im by deg (90, -90 or 180) into a new NRGBA; im itself
// for any other angle.
func turnImage(im image.Image, deg int) image.Image {
	w, h := im.Bounds().Dx(), im.Bounds().Dy()
	var out *image.NRGBA
	switch deg {
	case 90: // counter-clockwise: the top row becomes the left column, reversed
		out = image.NewNRGBA(image.Rect(0, 0, h, w))
		for y := 0; y < w; y++ {
			for x := 0; x < h; x++ {
				out.Set(x, y, im.At(w-1-y, x))
			}
		}
	case -90:
		out = image.NewNRGBA(image.Rect(0, 0, h, w))
		for y := 0; y < w; y++ {
			for x := 0; x < h; x++ {
				out.Set(x, y, im.At(y, h-1-x))
			}
		}
	case 180:
		out = image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				out.Set(x, y, im.At(w-1-x, h-1-y))
			}
		}
	default:
		return im
	}
	return out
}

// mirrorImage mirrors im left to right: in place when it is drawable,
// otherwise (a decoded YCbCr JPEG) into a new NRGBA whose pixels are the
// swapped pairs, so that an odd width leaves the middle column empty, as
// upstream's does.
func mirrorImage(im image.Image) image.Image {
	w, h := im.Bounds().Dx(), im.Bounds().Dy()
	dst, ok := im.(draw.Image)
	if !ok {
		dst = image.NewNRGBA(image.Rect(0, 0, w, h))
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w/2; x++ {
			left := im.At(x, y)
			dst.Set(x, y, im.At(w-1-x, y))
			dst.Set(w-1-x, y, left)
		}
	}
	return dst
}

// exifOrientation finds the Orientation tag (0x0112) of the first IFD of
// a JPEG's Exif segment. It reads only within data; anything malformed is
// "none".
func exifOrientation(data []byte) (int, bool) {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return 0, false
	}
	for p := 2; p+4 <= len(data); {
		if data[p] != 0xFF {
			return 0, false
		}
		marker := data[p+1]
		if marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0xFF {
			p += 2 // no length
			if marker == 0xFF {
				p-- // fill byte
			}
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // image data or end: no Exif before it
			return 0, false
		}
		n := int(binary.BigEndian.Uint16(data[p+2:]))
		if n < 2 || p+2+n > len(data) {
			return 0, false
		}
		seg := data[p+4 : p+2+n]
		if marker == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			return tiffOrientation(seg[6:])
		}
		p += 2 + n
	}
	return 0, false
}

func tiffOrientation(t []byte) (int, bool) {
	if len(t) < 8 {
		return 0, false
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0, false
	}
	if bo.Uint16(t[2:]) != 42 {
		return 0, false
	}
	ifd := int64(bo.Uint32(t[4:]))
	if ifd < 8 || ifd+2 > int64(len(t)) {
		return 0, false
	}
	count := int64(bo.Uint16(t[ifd:]))
	for i := int64(0); i < count; i++ {
		e := ifd + 2 + 12*i
		if e+12 > int64(len(t)) {
			return 0, false
		}
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		v := t[e+8 : e+12]
		switch bo.Uint16(t[e+2:]) { // the value's type
		case 1: // BYTE
			return int(v[0]), true
		case 3: // SHORT
			return int(bo.Uint16(v)), true
		case 4, 9: // LONG, SLONG
			return int(int32(bo.Uint32(v))), true
		}
		return 0, false
	}
	return 0, false
}
