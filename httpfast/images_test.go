package httpfast

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"
)

func testImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{R: uint8(x * 20), G: uint8(y * 20), B: 200, A: 255})
		}
	}
	return img
}

func encoded(t *testing.T, format string, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&buf, img)
	case "jpeg":
		err = jpeg.Encode(&buf, img, nil)
	case "gif":
		err = gif.Encode(&buf, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImageResizeAndCrop(t *testing.T) {
	ts := newTestServer(t)
	pngData := encoded(t, "png", testImage(6, 4))
	body, ct := multipartBody("fixture.png", "image/png", pngData)
	mustPost(t, ts, "/3,0100000001", readAll(t, body), map[string]string{"Content-Type": ct})
	// the extension comes from the stored name when the URL has none
	body, ct = multipartBody("photo.JPG", "image/jpeg", encoded(t, "jpeg", testImage(16, 8)))
	mustPost(t, ts, "/3,0200000002", readAll(t, body), map[string]string{"Content-Type": ct})
	body, ct = multipartBody("anim.gif", "image/gif", encoded(t, "gif", testImage(10, 10)))
	mustPost(t, ts, "/3,0300000003", readAll(t, body), map[string]string{"Content-Type": ct})
	body, ct = multipartBody("notes.txt", "text/plain", pngData)
	mustPost(t, ts, "/3,0400000004", readAll(t, body), map[string]string{"Content-Type": ct})

	tests := []struct {
		name, path   string
		format       string // of the reply; "" when the stored bytes come back
		w, h         int
		contentType  string
		storedAnswer []byte
	}{
		{"resize both", "/3,0100000001.png?width=2&height=1", "png", 2, 1, "image/png", nil},
		{"resize width keeps aspect", "/3,0100000001.png?width=3", "png", 3, 2, "image/png", nil},
		{"resize height keeps aspect", "/3/0100000001/fixture.png?height=2", "png", 3, 2, "image/png", nil},
		{"never enlarged", "/3,0100000001.png?width=10&height=10", "", 0, 0, "image/png", pngData},
		{"fit", "/3,0100000001.png?width=3&height=3&mode=fit", "png", 3, 2, "", nil},
		{"fill", "/3,0100000001.png?width=3&height=3&mode=fill", "png", 3, 3, "", nil},
		{"square of a non-square is a thumbnail", "/3,0100000001.png?width=2&height=2", "png", 2, 2, "", nil},
		{"crop", "/3,0100000001.png?crop_x1=1&crop_y1=1&crop_x2=4&crop_y2=3", "png", 3, 2, "image/png", nil},
		{"crop from the origin", "/3,0100000001.png?crop_x2=2&crop_y2=2", "png", 2, 2, "", nil},
		{"crop past the image", "/3,0100000001.png?crop_x1=1&crop_y1=1&crop_x2=7&crop_y2=3", "", 0, 0, "", pngData},
		{"empty crop", "/3,0100000001.png?crop_x1=3&crop_y1=1&crop_x2=3&crop_y2=3", "", 0, 0, "", pngData},
		{"crop then resize", "/3,0100000001.png?crop_x1=0&crop_y1=0&crop_x2=4&crop_y2=4&width=2", "png", 2, 2, "", nil},
		{"extension from the stored name, any case", "/3,0200000002?width=4", "jpeg", 4, 2, "image/jpeg", nil},
		{"jpeg crop", "/3,0200000002.jpg?crop_x1=2&crop_y1=2&crop_x2=10&crop_y2=6", "jpeg", 8, 4, "", nil},
		{"gif", "/3,0300000003.gif?width=5&height=5", "gif", 5, 5, "image/gif", nil},
		{"not an image extension", "/3,0400000004?width=2", "", 0, 0, "text/plain", pngData},
		{"URL extension wins over the stored name", "/3,0100000001.txt?width=2", "", 0, 0, "", pngData},
		{"no transform asked", "/3,0100000001.png?mode=fit", "", 0, 0, "", pngData},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, got := ts.do(t, "GET", tc.path, nil, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, got)
			}
			if tc.contentType != "" && resp.Header.Get("Content-Type") != tc.contentType {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tc.contentType)
			}
			if tc.storedAnswer != nil {
				if !bytes.Equal(got, tc.storedAnswer) {
					t.Fatalf("want the stored bytes back, got %d bytes", len(got))
				}
				return
			}
			cfg, format, err := image.DecodeConfig(bytes.NewReader(got))
			if err != nil {
				t.Fatalf("decode reply: %v", err)
			}
			if format != tc.format || cfg.Width != tc.w || cfg.Height != tc.h {
				t.Fatalf("got %s %dx%d, want %s %dx%d", format, cfg.Width, cfg.Height, tc.format, tc.w, tc.h)
			}
			// HEAD reports the transformed length, as upstream
			head, _ := ts.do(t, "HEAD", tc.path, nil, nil)
			if head.Header.Get("Content-Length") != fmt.Sprint(len(got)) {
				t.Errorf("HEAD Content-Length %q, GET sent %d", head.Header.Get("Content-Length"), len(got))
			}
		})
	}
}

func TestImageTransformOfManifest(t *testing.T) {
	c := newChunkCluster(t)
	pngData := encoded(t, "png", testImage(6, 4))
	half := len(pngData) / 2
	mustPut(t, c.a, "/3,0100000001", pngData[:half], nil)
	mustPut(t, c.b, "/5,0300000003", pngData[half:], nil)
	putManifest(t, c.a, "/3,0500000005", chunkManifest{Name: "big.png", Mime: "image/png", Size: int64(len(pngData)), Chunks: []chunkInfo{
		{Fid: "3,0100000001", Size: int64(half)},
		{Fid: "5,0300000003", Offset: int64(half), Size: int64(len(pngData) - half)},
	}})
	resp, got := c.a.do(t, "GET", "/3,0500000005?width=3", nil, nil)
	cfg, _, err := image.DecodeConfig(bytes.NewReader(got))
	if resp.StatusCode != 200 || err != nil || cfg.Width != 3 || cfg.Height != 2 {
		t.Fatalf("%d %v %dx%d", resp.StatusCode, err, cfg.Width, cfg.Height)
	}
}

func mustPost(t *testing.T, ts *testServer, path string, body []byte, hdr map[string]string) {
	t.Helper()
	if resp, b := ts.do(t, "POST", path, bytes.NewReader(body), hdr); resp.StatusCode != 201 {
		t.Fatalf("upload %s: %d %s", path, resp.StatusCode, b)
	}
}

func readAll(t *testing.T, r interface{ Read([]byte) (int, error) }) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
