package difftest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"mime/multipart"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// writer draws seeded writes and deletes. The same request goes to both
// sides, so new file ids are chosen here: keys past every key in use.
type writer struct {
	rng  *rand.Rand
	c    *Corpus
	next map[uint32]uint64 // next free key per volume
}

func newWriter(seed uint64, c *Corpus) *writer {
	w := &writer{rng: rand.New(rand.NewPCG(seed, 0x5eed)), c: c, next: map[uint32]uint64{}}
	for _, vid := range c.Vids {
		w.next[vid] = c.MaxKey[vid] + 100000
	}
	return w
}

func (w *writer) chance(percent int) bool { return w.rng.IntN(100) < percent }

func (w *writer) oneOf(s ...string) string { return s[w.rng.IntN(len(s))] }

// fresh is a new entry in a random volume of the corpus.
func (w *writer) fresh() *Entry {
	vid := w.c.Vids[w.rng.IntN(len(w.c.Vids))]
	key := w.next[vid]
	w.next[vid] += 1 + uint64(w.rng.IntN(3))
	cookie := w.rng.Uint32()
	return &Entry{Fid: fidOf(vid, key, cookie), Vid: vid, Key: key, Cookie: cookie}
}

func (w *writer) live() *Entry {
	for tries := 0; tries < 100; tries++ {
		e := w.c.Entries[w.rng.IntN(len(w.c.Entries))]
		if !e.Deleted && !e.Manifest {
			return e
		}
	}
	return w.c.Entries[0]
}

// multipartBody is a form with one file part (and optional form fields
// after it, which upstream also reads).
func multipartBody(name, mime string, data []byte, fields map[string]string, partHeader map[string]string) ([]byte, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, escapeQuotes(name)))
	if mime != "" {
		h.Set("Content-Type", mime)
	}
	for k, v := range partHeader {
		h.Set(k, v)
	}
	part, _ := mw.CreatePart(h)
	part.Write(data)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

// writeOp is one drawn write: the request, and what it makes of the corpus
// when both sides accept it.
type writeOp struct {
	req    *Request
	entry  *Entry // a new needle, added on success
	delete *Entry // a needle deleted on success
	image  bool
}

// Next draws one write or delete.
func (w *writer) Next() writeOp {
	data := func() []byte {
		switch w.rng.IntN(4) {
		case 0:
			return compressibleText(w.rng, 100+w.rng.IntN(20000))
		case 1:
			return nil
		default:
			return randomBytes(w.rng, 1+w.rng.IntN(70000))
		}
	}
	query := func() string {
		var q []string
		if w.chance(40) {
			q = append(q, "ts="+strconv.Itoa(1700000000+w.rng.IntN(1e8)))
		}
		if w.chance(10) {
			q = append(q, "fsync=true")
		}
		if w.chance(8) {
			q = append(q, "ttl="+w.oneOf("1d", "3w", "5m", "bogus"))
		}
		if w.chance(4) {
			q = append(q, "cm=false")
		}
		if len(q) == 0 {
			return ""
		}
		return "?" + strings.Join(q, "&")
	}
	upload := func(e *Entry, label string) writeOp {
		name := w.oneOf("w.txt", "w.bin", "photo.png", "data.json", "noext", "page.html", "")
		mime := w.oneOf("text/plain", "application/octet-stream", "", "application/json", "image/png")
		var hdr [][2]string
		if w.chance(15) {
			hdr = append(hdr, [2]string{"Seaweed-" + w.oneOf("Color", "owner", "X-Tag"), w.oneOf("red", "a b", "ü")})
		}
		d := data()
		var body []byte
		var ct string
		op := writeOp{}
		switch w.rng.IntN(5) {
		case 0:
			method := w.oneOf("PUT", "POST")
			body, ct = d, mime
			if ct == "" && method == "POST" {
				ct = "application/octet-stream" // an empty type is a multipart POST upstream
			}
			if w.chance(30) {
				hdr = append(hdr, [2]string{"Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, name)})
			}
			if ct != "" {
				hdr = append(hdr, [2]string{"Content-Type", ct})
			}
			op.req = &Request{Method: method, Target: "/" + e.Fid + query(), Header: hdr, Body: body, Label: label + " raw " + method}
		default:
			body, ct = multipartBody(name, mime, d, nil, nil)
			hdr = append(hdr, [2]string{"Content-Type", ct})
			op.req = &Request{Method: "POST", Target: "/" + e.Fid + query(), Header: hdr, Body: body, Label: label + " multipart"}
		}
		op.image = strings.HasSuffix(name, ".png")
		return op
	}
	switch pick(w.rng, []weighted[string]{{40, "new"}, {10, "overwrite"}, {4, "overwrite wrong cookie"}, {14, "delete"},
		{3, "delete again"}, {3, "delete missing"}, {3, "delete wrong cookie"}, {3, "missing volume"}, {4, "bad fid"},
		{3, "odd path"}, {3, "bad md5"}, {3, "bad multipart"}, {3, "replicate"}, {2, "chunked upload"}}) {
	case "new":
		e := w.fresh()
		op := upload(e, "new")
		e.Kind, e.Image = "written by the harness", op.image
		op.entry = e
		return op
	case "overwrite":
		e := w.live()
		op := upload(e, "overwrite "+e.Kind)
		return op
	case "overwrite wrong cookie":
		e := w.live()
		bad := *e
		bad.Fid = fidOf(e.Vid, e.Key, e.Cookie^0x5a5a)
		return upload(&bad, "overwrite with a wrong cookie")
	case "delete":
		e := w.live()
		return writeOp{req: &Request{Method: "DELETE", Target: "/" + e.Fid, Label: "delete " + e.Kind}, delete: e}
	case "delete again":
		e := w.c.Entries[w.rng.IntN(len(w.c.Entries))]
		return writeOp{req: &Request{Method: "DELETE", Target: "/" + e.Fid, Label: "delete (maybe again) " + e.Kind}, delete: e}
	case "delete missing":
		e := w.fresh()
		return writeOp{req: &Request{Method: "DELETE", Target: "/" + e.Fid, Label: "delete a needle never written"}}
	case "delete wrong cookie":
		e := w.live()
		return writeOp{req: &Request{Method: "DELETE", Target: "/" + fidOf(e.Vid, e.Key, e.Cookie+1), Label: "delete with a wrong cookie"}}
	case "missing volume":
		e := w.fresh()
		e.Fid = fidOf(9999, e.Key, e.Cookie)
		if w.chance(50) {
			return writeOp{req: &Request{Method: "DELETE", Target: "/" + e.Fid, Label: "delete in a missing volume"}}
		}
		return upload(e, "upload to a missing volume")
	case "bad fid":
		e := w.fresh()
		bad := *e
		bad.Fid = w.oneOf(strconv.Itoa(int(e.Vid))+",zz", strconv.Itoa(int(e.Vid))+",", "abc,"+keyCookie(e.Key, e.Cookie), strconv.Itoa(int(e.Vid))+","+strings.Repeat("1", 40))
		return upload(&bad, "upload to a malformed fid")
	case "odd path":
		e := w.fresh()
		op := upload(e, "upload at an odd path")
		vs := strconv.Itoa(int(e.Vid))
		kc := keyCookie(e.Key, e.Cookie)
		p, q, _ := strings.Cut(op.req.Target, "?")
		_ = p
		if q != "" {
			q = "?" + q
		}
		op.req.Target = w.oneOf("//"+e.Fid, "/"+vs+"//"+kc, "/"+vs+"/"+kc+"/named.txt", "/"+vs+"/"+kc, "/x/../"+e.Fid, "/"+e.Fid+".txt") + q
		op.req.Label += " " + op.req.Target
		return op
	case "bad md5":
		e := w.fresh()
		op := upload(e, "upload with a wrong Content-MD5")
		op.req.Header = append(op.req.Header, [2]string{"Content-MD5", contentMD5([]byte("something else"))})
		return op
	case "bad multipart":
		e := w.fresh()
		body := []byte("--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nunterminated")
		ct := w.oneOf("multipart/form-data; boundary=xyz", "multipart/form-data", "multipart/form-data; boundary=other")
		return writeOp{req: &Request{Method: "POST", Target: "/" + e.Fid, Header: [][2]string{{"Content-Type", ct}}, Body: body, Label: "malformed multipart " + ct}}
	case "replicate":
		e := w.fresh()
		op := upload(e, "type=replicate")
		if strings.Contains(op.req.Target, "?") {
			op.req.Target += "&type=replicate"
		} else {
			op.req.Target += "?type=replicate"
		}
		op.entry = e
		e.Kind = "written by the harness (replicate)"
		return op
	default: // chunked upload
		e := w.fresh()
		d := data()
		var b bytes.Buffer
		for len(d) > 0 {
			n := min(len(d), 1+w.rng.IntN(5000))
			fmt.Fprintf(&b, "%x\r\n", n)
			b.Write(d[:n])
			b.WriteString("\r\n")
			d = d[n:]
		}
		b.WriteString("0\r\n\r\n")
		e.Kind = "written by the harness (chunked)"
		return writeOp{req: &Request{Method: "PUT", Target: "/" + e.Fid, Header: [][2]string{{"Transfer-Encoding", "chunked"}, {"Content-Type", "application/octet-stream"}},
			Body: b.Bytes(), Label: "chunked raw PUT"}, entry: e}
	}
}

// RunWrites sends n seeded writes and deletes to both sides, one at a
// time, and records the new needles and deletes in the corpus.
func (h *Harness) RunWrites(phase string, seed uint64, n int) {
	w := newWriter(seed, h.Corpus)
	var added []*Entry
	for i := 0; i < n; i++ {
		op := w.Next()
		if !strings.Contains(op.req.Target, "ts=") {
			// both sides stamp the write with the second it arrives in
			alignToSecond()
		}
		up, _ := h.Do(phase, op.req)
		if up.Err != nil {
			continue
		}
		switch {
		case op.entry != nil && up.Status == 201:
			h.Corpus.add(op.entry)
			added = append(added, op.entry)
		case op.delete != nil && up.Status == 202:
			op.delete.Deleted = true
		}
	}
	h.learnValidators(added)
}

// alignToSecond waits until a request pair sent now ends well inside the
// current second.
func alignToSecond() {
	if ms := time.Now().Nanosecond() / 1e6; ms > 850 {
		time.Sleep(time.Duration(1000-ms+5) * time.Millisecond)
	}
}
