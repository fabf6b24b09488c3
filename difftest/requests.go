package difftest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// generator draws seeded random reads over a corpus.
type generator struct {
	rng *rand.Rand
	c   *Corpus
}

func newGenerator(seed uint64, c *Corpus) *generator {
	return &generator{rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)), c: c}
}

// pick returns one of the choices, weighted.
func pick[T any](rng *rand.Rand, choices []weighted[T]) T {
	total := 0
	for _, c := range choices {
		total += c.w
	}
	n := rng.IntN(total)
	for _, c := range choices {
		if n < c.w {
			return c.v
		}
		n -= c.w
	}
	return choices[len(choices)-1].v
}

type weighted[T any] struct {
	w int
	v T
}

func (g *generator) chance(percent int) bool { return g.rng.IntN(100) < percent }

func (g *generator) oneOf(s ...string) string { return s[g.rng.IntN(len(s))] }

// target is a needle to address and what the harness knows of it.
type target struct {
	vid    string
	keyCk  string // key and cookie hex
	entry  *Entry // nil for needles that do not exist
	detail string
}

func (g *generator) entry(deleted bool) *Entry {
	for tries := 0; tries < 100; tries++ {
		e := g.c.Entries[g.rng.IntN(len(g.c.Entries))]
		if e.Deleted == deleted {
			return e
		}
	}
	return g.c.Entries[0]
}

func keyCookie(key uint64, cookie uint32) string {
	return strconv.FormatUint(key, 16) + fmt.Sprintf("%08x", cookie)
}

func (g *generator) target() target {
	vidOf := func(e *Entry) string { return strconv.FormatUint(uint64(e.Vid), 10) }
	switch pick(g.rng, []weighted[string]{{58, "live"}, {10, "deleted"}, {8, "missing key"}, {6, "wrong cookie"}, {4, "missing volume"}, {9, "malformed"}, {5, "odd vid"}}) {
	case "live":
		e := g.entry(false)
		return target{vidOf(e), keyCookie(e.Key, e.Cookie), e, e.Kind}
	case "deleted":
		e := g.entry(true)
		return target{vidOf(e), keyCookie(e.Key, e.Cookie), e, "deleted " + e.Kind}
	case "missing key":
		vid := g.c.Vids[g.rng.IntN(len(g.c.Vids))]
		return target{strconv.FormatUint(uint64(vid), 10), keyCookie(g.c.MaxKey[vid]+1+uint64(g.rng.IntN(1000)), g.rng.Uint32()), nil, "missing key"}
	case "wrong cookie":
		e := g.entry(g.chance(20))
		return target{vidOf(e), keyCookie(e.Key, e.Cookie^(1+g.rng.Uint32()%0xffff)), nil, "wrong cookie on " + e.Kind}
	case "missing volume":
		e := g.entry(false)
		return target{g.oneOf("9999", "4000", "250"), keyCookie(e.Key, e.Cookie), nil, "missing volume"}
	case "odd vid":
		e := g.entry(false)
		// leading zeros, signs, spaces: upstream parses vids with strconv
		return target{g.oneOf("0"+vidOf(e), "+"+vidOf(e), "-"+vidOf(e), vidOf(e)+" ", "0x"+vidOf(e), "", "abc", strconv.FormatUint(uint64(e.Vid)+1<<32, 10)),
			keyCookie(e.Key, e.Cookie), e, "odd vid"}
	default:
		e := g.entry(false)
		kc := keyCookie(e.Key, e.Cookie)
		return target{vidOf(e), g.oneOf("", "zz", kc[:len(kc)-1], kc+"0", "0"+kc, strings.ToUpper(kc), kc[:len(kc)-8], "g"+kc[1:],
			strings.Repeat("f", 40), "00000000", kc+"_suffix", kc+"_1"), nil, "malformed fid"}
	}
}

var extensions = []string{".jpg", ".png", ".txt", ".bin", ".JPG", ".json", ".html", ".gif", ".webp", ".mp4", ".svg", ".unknownext"}

// path renders t in one of the path shapes clients use.
func (g *generator) path(t target) (string, string) {
	fid := t.vid + "," + t.keyCk
	ext := extensions[g.rng.IntN(len(extensions))]
	name := g.oneOf("x.txt", "photo.jpg", "a%20b.txt", "%C3%BC.txt", "archive.tar.gz", "noext", "data.json", "pic.png")
	return pick(g.rng, []weighted[func() (string, string)]{
		{40, func() (string, string) { return "/" + fid, "vid,fid" }},
		{14, func() (string, string) { return "/" + fid + ext, "vid,fid.ext" }},
		{9, func() (string, string) { return "/" + t.vid + "/" + t.keyCk, "vid/fid" }},
		{5, func() (string, string) { return "/" + t.vid + "/" + t.keyCk + ext, "vid/fid.ext" }},
		{10, func() (string, string) { return "/" + t.vid + "/" + t.keyCk + "/" + name, "vid/fid/name" }},
		{4, func() (string, string) { return "//" + fid, "//vid,fid" }},
		{3, func() (string, string) { return "/" + t.vid + "//" + t.keyCk, "vid//fid" }},
		{3, func() (string, string) { return "/some/prefix/" + fid, "prefix/vid,fid" }},
		{2, func() (string, string) { return "/" + fid + "/", "vid,fid/" }},
		{2, func() (string, string) { return "/a/../" + fid, "a/../vid,fid" }},
		{2, func() (string, string) { return "/./" + fid, "./vid,fid" }},
		{2, func() (string, string) {
			return "/" + t.vid + "/" + t.keyCk + "/" + name + "/extra", "vid/fid/name/extra"
		}},
		{2, func() (string, string) { return "/" + strings.ReplaceAll(fid, ",", "%2C"), "escaped comma" }},
		{1, func() (string, string) { return "/" + t.vid, "vid only" }},
		{1, func() (string, string) { return "/", "root" }},
	})()
}

// query draws the read options.
func (g *generator) query(t target) (string, string) {
	q := url.Values{}
	var labels []string
	add := func(k, v string) {
		q.Add(k, v)
		labels = append(labels, k)
	}
	if g.chance(8) {
		add("readDeleted", g.oneOf("true", "false", "1"))
	}
	if g.chance(6) {
		add("dl", g.oneOf("true", "false", "1", "0", "yes"))
	}
	if g.chance(8) {
		switch g.rng.IntN(6) {
		case 0:
			add("response-content-type", g.oneOf("text/x-override", "application/json; charset=utf-8"))
		case 1:
			add("response-content-disposition", g.oneOf(`attachment; filename="o.bin"`, "inline"))
		case 2:
			add("response-cache-control", "max-age=60")
		case 3:
			add("response-expires", "Thu, 01 Dec 2030 16:00:00 GMT")
		case 4:
			add("response-content-language", "de-DE")
		case 5:
			add("response-content-encoding", "identity")
		}
	}
	image := t.entry != nil && t.entry.Image
	if (image && g.chance(50)) || g.chance(3) {
		if g.chance(70) {
			add("width", strconv.Itoa(g.rng.IntN(100)))
			if g.chance(60) {
				add("height", strconv.Itoa(g.rng.IntN(100)))
			}
			if g.chance(40) {
				add("mode", g.oneOf("fit", "fill", "", "bogus"))
			}
		} else {
			x1, y1 := g.rng.IntN(40), g.rng.IntN(30)
			add("crop_x1", strconv.Itoa(x1))
			add("crop_y1", strconv.Itoa(y1))
			add("crop_x2", strconv.Itoa(x1+g.rng.IntN(60)-5))
			add("crop_y2", strconv.Itoa(y1+g.rng.IntN(50)-5))
		}
	}
	if t.entry != nil && t.entry.Manifest && g.chance(35) {
		add("cm", g.oneOf("false", "true"))
	}
	if g.chance(3) {
		add("proxied", "true")
	}
	if g.chance(3) {
		add("unrelated", "1")
	}
	if len(q) == 0 {
		return "", ""
	}
	return "?" + q.Encode(), strings.Join(labels, "+")
}

var ranges = []string{
	"bytes=0-99", "bytes=-100", "bytes=100-", "bytes=0-0", "bytes=1-1", "bytes=5-2", "bytes=0-9,20-29",
	"bytes=0-9,5-15", "bytes=99999999-", "bytes=abc", "items=0-1", "bytes=0-0,-1", "bytes=", " bytes=0-1",
	"bytes=-0", "bytes=0-", "bytes=10-20, 30-40, 50-60", "bytes=-5000000", "bytes=1000-2000", "bytes=0-1,1000000-",
	"bytes=0-1048575", "bytes=1048576-", "bytes=--1", "bytes=1-2-3",
}

// headers draws the request headers of a read.
func (g *generator) headers(t target) ([][2]string, string) {
	var h [][2]string
	var labels []string
	add := func(k, v string) {
		h = append(h, [2]string{k, v})
		labels = append(labels, k)
	}
	etag, lm := `"0badc0de"`, "Mon, 02 Jan 2006 15:04:05 GMT"
	if t.entry != nil && t.entry.ETag != "" {
		etag = t.entry.ETag
	}
	if t.entry != nil && t.entry.LastModified != "" {
		lm = t.entry.LastModified
	}
	if g.chance(25) {
		add("Range", ranges[g.rng.IntN(len(ranges))])
		if g.chance(15) {
			add("If-Range", g.oneOf(etag, `"other"`, lm, "W/"+etag, "garbage"))
		}
	}
	if g.chance(8) {
		add("If-None-Match", g.oneOf(etag, `"other"`, "*", "W/"+etag, `"a", `+etag, strings.Trim(etag, `"`)))
	}
	if g.chance(7) {
		shift := func(d time.Duration) string {
			tm, err := time.Parse(http.TimeFormat, lm)
			if err != nil {
				return lm
			}
			return tm.Add(d).UTC().Format(http.TimeFormat)
		}
		add("If-Modified-Since", g.oneOf(lm, shift(time.Hour), shift(-time.Hour), "garbage", "Mon, 02 Jan 2006 15:04:05 GMT"))
	}
	if g.chance(35) {
		add("Accept-Encoding", g.oneOf("gzip", "gzip, deflate, br", "identity", "br", "*", "deflate"))
	}
	if g.chance(5) {
		add("Origin", "http://example.com")
	}
	if g.chance(3) {
		add("Cookie", "a=b")
	}
	return h, strings.Join(labels, "+")
}

// Read draws one read request.
func (g *generator) Read() *Request {
	t := g.target()
	p, shape := g.path(t)
	q, qlabel := g.query(t)
	h, hlabel := g.headers(t)
	method := pick(g.rng, []weighted[string]{{70, "GET"}, {22, "HEAD"}, {3, "OPTIONS"}, {2, "PATCH"}, {1, "PROPFIND"}, {2, "get"}})
	return &Request{
		Method: method, Target: p + q, Header: h,
		Label: fmt.Sprintf("%s %s [%s] q[%s] h[%s]", method, t.detail, shape, qlabel, hlabel),
	}
}
