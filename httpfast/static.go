package httpfast

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"sync"

	"github.com/valyala/fasthttp"
)

// The admin pages' static assets. weedvol draws its own small icon (a
// green drop on white) at first use instead of shipping upstream's files.
var (
	assetsOnce sync.Once
	logoPNG    []byte // 50x50, served as /seaweedfsstatic/seaweed50x50.png
	faviconICO []byte // 16x16 PNG inside an ICO container
)

func drawIcon(size int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	c := float64(size) / 2
	r := float64(size) * 0.42
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			dx, dy := float64(x)+0.5-c, float64(y)+0.5-c*1.1
			// a drop: a circle with a point on top
			in := dx*dx+dy*dy <= r*r || (dy < 0 && dy > -r*1.25 && abs(dx) < (r*1.25+dy)*0.8)
			if in {
				img.SetNRGBA(x, y, color.NRGBA{R: 0x2e, G: 0x9e, B: 0x4f, A: 0xff})
			} else {
				img.SetNRGBA(x, y, color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0})
			}
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func buildAssets() {
	logoPNG = drawIcon(50)
	small := drawIcon(16)
	var ico bytes.Buffer
	// ICONDIR: reserved 0, type 1 (icon), one image
	binary.Write(&ico, binary.LittleEndian, [3]uint16{0, 1, 1})
	// ICONDIRENTRY: 16x16, no palette, 1 plane, 32 bpp, size, offset 22
	ico.Write([]byte{16, 16, 0, 0})
	binary.Write(&ico, binary.LittleEndian, [2]uint16{1, 32})
	binary.Write(&ico, binary.LittleEndian, [2]uint32{uint32(len(small)), 22})
	ico.Write(small)
	faviconICO = ico.Bytes()
}

// static serves /favicon.ico and /seaweedfsstatic/*; it reports whether
// the path was one of those.
func (s *Server) static(ctx *fasthttp.RequestCtx) bool {
	path := requestPath(ctx)
	switch {
	case string(path) == "/favicon.ico":
		assetsOnce.Do(buildAssets)
		ctx.Response.Header.SetContentType("image/x-icon")
		ctx.SetBody(faviconICO)
	case bytes.HasPrefix(path, []byte("/seaweedfsstatic/")):
		assetsOnce.Do(buildAssets)
		if string(path) == "/seaweedfsstatic/seaweed50x50.png" {
			ctx.Response.Header.SetContentType("image/png")
			ctx.SetBody(logoPNG)
		} else {
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			ctx.SetBodyString("404 page not found\n")
		}
	default:
		return false
	}
	return true
}
