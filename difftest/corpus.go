package difftest

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/internal/weedproc"
)

// Entry is one file id of the corpus, as the harness knows it: what was
// sent, not what the server made of it (the comparison finds that out).
type Entry struct {
	Fid    string // "<vid>,<key><cookie>"
	Vid    uint32
	Key    uint64
	Cookie uint32
	Kind   string // what shape of upload made it
	Name   string // file name sent with the upload, if any
	Image  bool
	// Manifest marks a chunk manifest (uploaded with cm=true).
	Manifest bool
	Deleted  bool
	// ETag and LastModified are upstream's answers to a GET, for
	// conditional requests.
	ETag, LastModified string
}

// Corpus is what upstream wrote.
type Corpus struct {
	Entries []*Entry
	// Vids are the volumes holding the corpus; Collection and Version
	// describe each; MaxKey is the largest key used in each.
	Vids       []uint32
	Collection map[uint32]string
	MaxKey     map[uint32]uint64
}

func (c *Corpus) add(e *Entry) {
	c.Entries = append(c.Entries, e)
	if c.MaxKey == nil {
		c.MaxKey, c.Collection = map[uint32]uint64{}, map[uint32]string{}
	}
	if _, ok := c.MaxKey[e.Vid]; !ok {
		c.Vids = append(c.Vids, e.Vid)
		sort.Slice(c.Vids, func(i, j int) bool { return c.Vids[i] < c.Vids[j] })
	}
	c.MaxKey[e.Vid] = max(c.MaxKey[e.Vid], e.Key)
}

// v2Volume is the id of the needle-version-2 volume the harness creates for
// upstream to write into (upstream only creates version 3 volumes).
// It has a collection of its own, so that the master assigns no other
// uploads to it.
const (
	v2Volume     = 90
	v2Collection = "old"
)

// createV2Volume makes an empty version 2 volume in dir, for upstream to
// load and fill; weedvol's own index cache is removed so that the
// directory holds only upstream's kinds of files.
func createV2Volume(dir string, offsetSize int) error {
	v, err := engine.OpenVolume(engine.VolumeConfig{ID: v2Volume, Collection: v2Collection, Dir: dir, Create: true, Version: needle.Version2, OffsetSize: offsetSize})
	if err != nil {
		return err
	}
	if err := v.Close(); err != nil {
		return err
	}
	// (an empty index is kept on the heap and leaves none)
	err = os.Remove(filepath.Join(dir, engine.BaseName(v2Collection, v2Volume)+".wvx"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// upload is one write of the corpus.
type upload struct {
	kind      string
	assign    string // query for /dir/assign
	multipart bool
	method    string // for raw bodies: PUT or POST
	filename  string // multipart file name
	pathName  string // file name as the third path segment
	mime      string
	data      []byte
	query     string
	header    [][2]string
	image     bool
	manifest  bool
}

// corpusWriter writes uploads through upstream's HTTP API.
type corpusWriter struct {
	master, volume string
	rng            *rand.Rand
	c              *Corpus
	fidsByVid      map[uint32][]*Entry
}

func (w *corpusWriter) assign(query string) (*Entry, error) {
	a, err := weedproc.Assign(w.master, query)
	if err != nil {
		return nil, err
	}
	return parseEntry(a.Fid)
}

func parseEntry(fid string) (*Entry, error) {
	vs, kc, ok := strings.Cut(fid, ",")
	if !ok {
		return nil, fmt.Errorf("bad fid %q", fid)
	}
	vid, err := strconv.ParseUint(vs, 10, 32)
	if err != nil {
		return nil, err
	}
	key, cookie, err := needle.ParseKeyCookie([]byte(kc))
	if err != nil {
		return nil, err
	}
	return &Entry{Fid: fid, Vid: uint32(vid), Key: key, Cookie: cookie}, nil
}

// fidOf formats a file id as upstream does.
func fidOf(vid uint32, key uint64, cookie uint32) string {
	return strconv.FormatUint(uint64(vid), 10) + "," + strconv.FormatUint(key, 16) + fmt.Sprintf("%08x", cookie)
}

// send writes u at e, returning upstream's status and body.
func (w *corpusWriter) send(e *Entry, u upload) (int, []byte, error) {
	target := "http://" + w.volume + "/" + e.Fid
	if u.pathName != "" {
		target = "http://" + w.volume + "/" + strconv.FormatUint(uint64(e.Vid), 10) + "/" + strings.TrimPrefix(e.Fid, strconv.FormatUint(uint64(e.Vid), 10)+",") + "/" + u.pathName
	}
	if u.query != "" {
		target += "?" + u.query
	}
	var body io.Reader
	contentType := u.mime
	if u.multipart {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, escapeQuotes(u.filename)))
		if u.mime != "" {
			h.Set("Content-Type", u.mime)
		}
		for _, kv := range u.header {
			if strings.HasPrefix(kv[0], "Part-") {
				h.Set(strings.TrimPrefix(kv[0], "Part-"), kv[1])
			}
		}
		part, err := mw.CreatePart(h)
		if err != nil {
			return 0, nil, err
		}
		part.Write(u.data)
		mw.Close()
		body, contentType = &buf, mw.FormDataContentType()
	} else {
		body = bytes.NewReader(u.data)
	}
	method := u.method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, kv := range u.header {
		if !strings.HasPrefix(kv[0], "Part-") {
			req.Header.Set(kv[0], kv[1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func escapeQuotes(s string) string {
	return strings.NewReplacer("\\", "\\\\", `"`, "\\\"").Replace(s)
}

// write assigns a fid (or uses at) and uploads u there.
func (w *corpusWriter) write(u upload, at *Entry) (*Entry, error) {
	e := at
	if e == nil {
		var err error
		if e, err = w.assign(u.assign); err != nil {
			return nil, err
		}
	}
	status, body, err := w.send(e, u)
	if err != nil {
		return nil, err
	}
	if status != http.StatusCreated {
		return nil, fmt.Errorf("upstream answered %d to the %s upload at %s: %s", status, u.kind, e.Fid, body)
	}
	if at == nil {
		e.Kind, e.Name, e.Image, e.Manifest = u.kind, u.filename+u.pathName, u.image, u.manifest
		w.c.add(e)
	}
	return e, nil
}

// delete deletes e through upstream.
func (w *corpusWriter) delete(e *Entry) error {
	req, _ := http.NewRequest(http.MethodDelete, "http://"+w.volume+"/"+e.Fid, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// upstream answers 404 for a needle it cannot read (a TTL needle in a
	// volume of version 2, say); it is compared like any other
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusNotFound {
		return fmt.Errorf("upstream answered %d to DELETE %s (%s)", resp.StatusCode, e.Fid, e.Kind)
	}
	e.Deleted = true
	return nil
}

// writeCorpus has upstream (serving at volume, registered with master)
// write the corpus. The v2 volume must already be loaded by it.
func writeCorpus(master, volume string, seed uint64) (*Corpus, error) {
	w := &corpusWriter{master: master, volume: volume, rng: rand.New(rand.NewPCG(seed, 0xc0)), c: &Corpus{}}
	uploads := corpusUploads(w.rng)
	var written []*Entry
	for _, u := range uploads {
		e, err := w.write(u, nil)
		if err != nil {
			return nil, err
		}
		written = append(written, e)
	}
	// The same shapes again in the version 2 volume, at fids of our own.
	key := uint64(1000)
	for _, u := range uploads {
		if u.manifest || u.assign != "" {
			continue
		}
		key += 1 + uint64(w.rng.IntN(5))
		e := &Entry{Vid: v2Volume, Key: key, Cookie: w.rng.Uint32()}
		e.Fid = fidOf(e.Vid, e.Key, e.Cookie)
		if _, err := w.write(u, e); err != nil {
			return nil, err
		}
		e.Kind, e.Name, e.Image = "v2 "+u.kind, u.filename+u.pathName, u.image
		w.c.add(e)
		written = append(written, e)
	}
	if err := w.writeManifests(); err != nil {
		return nil, err
	}
	// Overwrites: new bytes at an existing fid (a changed needle), and the
	// same bytes again (upstream detects the unchanged write).
	for i, e := range written {
		if i%7 != 3 || e.Manifest {
			continue
		}
		u := upload{kind: "overwrite", multipart: true, filename: "over.txt", mime: "text/plain", data: []byte(fmt.Sprintf("overwritten %d %x", i, w.rng.Uint64()))}
		if i%14 == 3 {
			u = upload{kind: "overwrite", method: http.MethodPut, mime: "application/octet-stream", data: randomBytes(w.rng, 300+i)}
		}
		if _, err := w.write(u, e); err != nil {
			return nil, err
		}
		e.Kind += " (overwritten)"
	}
	// Deletes, including a chunk of a manifest.
	for i, e := range written {
		if i%5 == 2 {
			if err := w.delete(e); err != nil {
				return nil, err
			}
		}
	}
	return w.c, nil
}

// corpusUploads is every upload shape the corpus holds.
func corpusUploads(rng *rand.Rand) []upload {
	text := func(n int) []byte { return compressibleText(rng, n) }
	us := []upload{
		{kind: "multipart text (stored gzipped)", multipart: true, filename: "notes.txt", mime: "text/plain", data: text(6000)},
		{kind: "multipart json (stored gzipped)", multipart: true, filename: "data.json", mime: "application/json", data: jsonDoc(rng, 4000)},
		{kind: "multipart small text", multipart: true, filename: "tiny.txt", mime: "text/plain; charset=utf-8", data: []byte("hello, world\n")},
		{kind: "multipart binary", multipart: true, filename: "blob.bin", mime: "application/octet-stream", data: randomBytes(rng, 5000)},
		{kind: "multipart no mime", multipart: true, filename: "nomime.dat", data: randomBytes(rng, 777)},
		{kind: "multipart mime, no extension", multipart: true, filename: "README", mime: "application/x-custom", data: text(300)},
		{kind: "multipart odd name", multipart: true, filename: `my "quoted" file;v=1.txt`, mime: "text/plain", data: text(2000)},
		{kind: "multipart unicode name", multipart: true, filename: "ünïcødé 文件.txt", mime: "text/plain", data: []byte("unicode name")},
		{kind: "multipart html", multipart: true, filename: "page.html", mime: "text/html", data: text(9000)},
		{kind: "multipart pdf", multipart: true, filename: "doc.pdf", mime: "application/pdf", data: text(3000)},
		{kind: "multipart svg", multipart: true, filename: "shape.svg", mime: "image/svg+xml", data: text(1500)},
		{kind: "multipart empty", multipart: true, filename: "empty.txt", mime: "text/plain"},
		{kind: "multipart empty, no name", multipart: true, filename: ""},
		{kind: "multipart pre-gzipped", multipart: true, filename: "pre.txt", mime: "text/plain", data: gzipped(text(5000)), header: [][2]string{{"Part-Content-Encoding", "gzip"}}},
		{kind: "multipart with Content-MD5", multipart: true, filename: "md5.txt", mime: "text/plain", data: []byte("md5 checked body"), header: [][2]string{{"Content-MD5", contentMD5([]byte("md5 checked body"))}}},
		{kind: "multipart with pairs", multipart: true, filename: "pairs.txt", mime: "text/plain", data: text(200), header: [][2]string{{"Seaweed-Color", "blue"}, {"Seaweed-Owner", "team a"}}},
		{kind: "multipart ts", multipart: true, filename: "ts.txt", mime: "text/plain", data: text(500), query: "ts=1700000000"},
		{kind: "multipart needle ttl", multipart: true, filename: "ttl.txt", mime: "text/plain", data: []byte("expires in a day"), query: "ttl=1d"},
		{kind: "ttl volume", assign: "ttl=1d", multipart: true, filename: "ttlvol.txt", mime: "text/plain", data: []byte("in a ttl volume"), query: "ttl=1d"},
		{kind: "collection", assign: "collection=pics", multipart: true, filename: "in-pics.txt", mime: "text/plain", data: text(1200)},
		{kind: "png", multipart: true, filename: "pic.png", mime: "image/png", data: pngImage(64, 48), image: true},
		{kind: "jpeg", multipart: true, filename: "pic.jpg", mime: "image/jpeg", data: jpegImage(80, 60), image: true},
		{kind: "png named without extension", multipart: true, filename: "picture", mime: "image/png", data: pngImage(30, 20), image: true},
		{kind: "png in a collection", assign: "collection=pics", multipart: true, filename: "c.png", mime: "image/png", data: pngImage(40, 40), image: true},
		{kind: "raw PUT, no name", method: http.MethodPut, mime: "application/octet-stream", data: randomBytes(rng, 2048)},
		{kind: "raw PUT text", method: http.MethodPut, mime: "text/plain", data: text(4000)},
		{kind: "raw PUT with Content-Disposition", method: http.MethodPut, mime: "text/csv", data: text(700), header: [][2]string{{"Content-Disposition", `attachment; filename="report.csv"`}}},
		{kind: "raw POST binary", method: http.MethodPost, mime: "application/octet-stream", data: randomBytes(rng, 999)},
		{kind: "raw PUT empty", method: http.MethodPut, mime: "application/octet-stream"},
		{kind: "raw PUT gzip encoded", method: http.MethodPut, mime: "text/plain", data: gzipped(text(3000)), header: [][2]string{{"Content-Encoding", "gzip"}}},
		{kind: "raw PUT no content type", method: http.MethodPut, data: text(600)},
		{kind: "large binary (streamed)", multipart: true, filename: "large.bin", mime: "application/octet-stream", data: randomBytes(rng, 1<<20+4321)},
		{kind: "large text (gzipped, over the stream threshold)", multipart: true, filename: "large.txt", mime: "text/plain", data: text(3 << 20)},
		{kind: "large raw PUT", method: http.MethodPut, mime: "video/mp4", data: randomBytes(rng, 2<<20+17)},
	}
	for _, n := range []int{1, 7, 8, 100, 4095, 65536} {
		us = append(us, upload{kind: fmt.Sprintf("size %d", n), multipart: true, filename: fmt.Sprintf("s%d.bin", n), mime: "application/octet-stream", data: randomBytes(rng, n)})
	}
	return us
}

// writeManifests writes chunk manifests over chunks uploaded first: a
// whole one, one with a chunk that is later deleted, and a gzipped one.
func (w *corpusWriter) writeManifests() error {
	type chunk struct {
		Fid    string `json:"fid"`
		Offset int64  `json:"offset"`
		Size   int64  `json:"size"`
	}
	type manifest struct {
		Name   string  `json:"name,omitempty"`
		Mime   string  `json:"mime,omitempty"`
		Size   int64   `json:"size,omitempty"`
		Chunks []chunk `json:"chunks"`
	}
	for mi, spec := range []struct {
		name, mime string
		sizes      []int
		dropChunk  int // index of a chunk deleted afterwards, -1 none
	}{
		{"assembled.bin", "application/octet-stream", []int{100000, 100000, 54321}, -1},
		{"movie.mp4", "video/mp4", []int{70000, 70000}, -1},
		{"broken.bin", "", []int{30000, 30000}, 1},
	} {
		var m manifest
		m.Name, m.Mime = spec.name, spec.mime
		var chunks []*Entry
		off := int64(0)
		for ci, n := range spec.sizes {
			e, err := w.write(upload{kind: fmt.Sprintf("chunk %d of manifest %d", ci, mi), method: http.MethodPut, mime: "application/octet-stream", data: randomBytes(w.rng, n)}, nil)
			if err != nil {
				return err
			}
			chunks = append(chunks, e)
			m.Chunks = append(m.Chunks, chunk{Fid: e.Fid, Offset: off, Size: int64(n)})
			off += int64(n)
		}
		m.Size = off
		// stored out of order: the reader sorts by offset
		if len(m.Chunks) > 2 {
			m.Chunks[0], m.Chunks[2] = m.Chunks[2], m.Chunks[0]
		}
		body, _ := json.Marshal(m)
		u := upload{kind: "chunk manifest " + spec.name, multipart: true, filename: spec.name, mime: "application/json", data: body, query: "cm=true", manifest: true}
		if _, err := w.write(u, nil); err != nil {
			return err
		}
		if spec.dropChunk >= 0 {
			if err := w.delete(chunks[spec.dropChunk]); err != nil {
				return err
			}
		}
	}
	return nil
}

func contentMD5(b []byte) string {
	sum := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

var words = strings.Fields("the volume server stores needles in append only files and serves them by file id with ranges and conditional requests while the master assigns ids")

func compressibleText(rng *rand.Rand, n int) []byte {
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
		if rng.IntN(12) == 0 {
			b.WriteByte('\n')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

func jsonDoc(rng *rand.Rand, n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"items":[`)
	for i := 0; b.Len() < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"%s","score":%d}`, i, words[rng.IntN(len(words))], rng.IntN(1000))
	}
	b.WriteString("]}")
	return b.Bytes()
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func testImage(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y) % 256), 255})
		}
	}
	return img
}

func pngImage(w, h int) []byte {
	var b bytes.Buffer
	png.Encode(&b, testImage(w, h))
	return b.Bytes()
}

func jpegImage(w, h int) []byte {
	var b bytes.Buffer
	jpeg.Encode(&b, testImage(w, h), &jpeg.Options{Quality: 90})
	return b.Bytes()
}
