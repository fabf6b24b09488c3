package httpfast

import (
	"bytes"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strconv"

	"github.com/cognusion/imaging"
	"github.com/valyala/fasthttp"
	_ "golang.org/x/image/webp" // decodes .webp for resizing, as upstream

	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/wlog"
)

// Image transforms on read, as upstream's volume server does them: a GET or
// HEAD of a .png, .jpg, .jpeg, .gif (or, for resizing only, .webp) file
// with crop_x1, crop_y1, crop_x2, crop_y2 is cropped to that rectangle, and
// with width and/or height is shrunk (never enlarged) by mode: fit, fill,
// or by default a plain resize (a centred thumbnail when a square is asked
// of a non-square image). Cropping runs first. The result is re-encoded in
// the format the extension names (png for webp); Content-Type stays the
// stored one. An image that does not decode is served as stored.
//
// The extension is the URL's, else the stored name's. These reads are never
// streamed: the needle is read whole.

// maxImagePixels bounds the images decoded and the sizes produced (upstream
// has no bound; a crafted header or width would make it allocate without
// limit). Larger ones are served as stored.
const maxImagePixels = 64 << 20

// imageOp is a parsed transform request.
type imageOp struct {
	width, height  int
	mode           string
	resize         bool
	x1, y1, x2, y2 int
	crop           bool
}

// wantsImageOp reports whether the query may ask for a resize or crop,
// before the extension is known (a crop needs crop_x2 and crop_y2 at least).
func wantsImageOp(ctx *fasthttp.RequestCtx) bool {
	a := ctx.QueryArgs()
	return a.Has("width") || a.Has("height") || (a.Has("crop_x2") && a.Has("crop_y2"))
}

// normalizedExt lower-cases an extension (".JPG" and ".jpg" are the same).
func normalizedExt(ext []byte) string {
	b := make([]byte, len(ext))
	for i, c := range ext {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return string(b)
}

// queryInt is strconv.Atoi of a query value, 0 when absent or malformed.
func queryInt(a *fasthttp.Args, name string) int {
	v := a.Peek(name)
	if len(v) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(string(v))
	return n
}

// imageOpFor parses the transform the request asks for on a file with
// extension ext, and reports whether there is one.
func imageOpFor(ctx *fasthttp.RequestCtx, ext []byte) (imageOp, bool) {
	var op imageOp
	if len(ext) == 0 || !wantsImageOp(ctx) {
		return op, false
	}
	a := ctx.QueryArgs()
	switch normalizedExt(ext) {
	case ".png", ".jpg", ".jpeg", ".gif":
		op.x1, op.y1 = queryInt(a, "crop_x1"), queryInt(a, "crop_y1")
		op.x2, op.y2 = queryInt(a, "crop_x2"), queryInt(a, "crop_y2")
		op.crop = op.x1 >= 0 && op.y1 >= 0 && op.x2 > op.x1 && op.y2 > op.y1
		fallthrough
	case ".webp":
		op.width, op.height = queryInt(a, "width"), queryInt(a, "height")
		op.mode = string(a.Peek("mode"))
		op.resize = op.width > 0 || op.height > 0
	}
	return op, op.crop || op.resize
}

// transformImage applies the request's transform to needle n's data. It
// returns data unchanged and true when there is none; else the new body
// (inflated first when stored compressed) and false.
func (s *Server) transformImage(ctx *fasthttp.RequestCtx, n *needle.Needle, p fidPath, data []byte) ([]byte, bool) {
	ext := p.ext
	if len(ext) == 0 && len(p.filename) == 0 && len(n.Name) > 0 {
		ext = extOf(n.Name)
	}
	op, ok := imageOpFor(ctx, ext)
	if !ok {
		return data, true
	}
	if n.IsCompressed() && len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		plain, err := gunzip(data)
		if err != nil {
			s.cfg.Logf("ungzip %s: %v", requestPath(ctx), err)
		}
		data = plain // nil on failure, as upstream
	}
	return op.apply(normalizedExt(ext), data, wlog.Errorf), false // upstream: "Cropping images error" at ERROR
}

// apply crops, then resizes, data, an image of type ext.
func (op imageOp) apply(ext string, data []byte, logf func(string, ...any)) []byte {
	if op.crop {
		data = cropImage(ext, data, op.x1, op.y1, op.x2, op.y2, logf)
	}
	if op.resize {
		data = resizeImage(ext, data, op.width, op.height, op.mode)
	}
	return data
}

// decodeImage decodes data unless it is too large to transform.
func decodeImage(data []byte) (image.Image, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxImagePixels {
		return nil, errImageTooLarge
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	return img, err
}

type imageError string

func (e imageError) Error() string { return string(e) }

const errImageTooLarge = imageError("image too large to transform")

// encodeImage encodes img as ext, png for webp (there is no Go webp
// encoder). An encoding failure yields an empty body, as upstream.
func encodeImage(ext string, img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	var err error
	switch ext {
	case ".png", ".webp":
		err = png.Encode(&buf, img)
	case ".jpg", ".jpeg":
		err = jpeg.Encode(&buf, img, nil)
	case ".gif":
		err = gif.Encode(&buf, img, nil)
	}
	return buf.Bytes(), err
}

// cropImage crops to [x1,x2)x[y1,y2); a rectangle reaching past the image
// leaves it as it is.
func cropImage(ext string, data []byte, x1, y1, x2, y2 int, logf func(string, ...any)) []byte {
	src, err := decodeImage(data)
	if err != nil {
		logf("crop image: %v", err)
		return data
	}
	b := src.Bounds()
	if x2 > b.Dx() || y2 > b.Dy() {
		return data
	}
	out, err := encodeImage(ext, imaging.Crop(src, image.Rect(x1, y1, x2, y2)))
	if err != nil {
		logf("crop image: %v", err)
	}
	return out
}

// resizeImage shrinks the image to width x height (0: keep the aspect
// ratio) when it is larger in a requested dimension.
func resizeImage(ext string, data []byte, width, height int, mode string) []byte {
	if int64(max(width, 1))*int64(max(height, 1)) > maxImagePixels {
		return data
	}
	src, err := decodeImage(data)
	if err != nil {
		return data
	}
	b := src.Bounds()
	if !(b.Dx() > width && width != 0 || b.Dy() > height && height != 0) {
		return data
	}
	var dst *image.NRGBA
	switch mode {
	case "fit":
		dst = imaging.Fit(src, width, height, imaging.Lanczos)
	case "fill":
		dst = imaging.Fill(src, width, height, imaging.Center, imaging.Lanczos)
	default:
		if width == height && b.Dx() != b.Dy() {
			dst = imaging.Thumbnail(src, width, height, imaging.Lanczos)
		} else {
			dst = imaging.Resize(src, width, height, imaging.Lanczos)
		}
	}
	out, _ := encodeImage(ext, dst)
	return out
}
