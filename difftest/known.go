package difftest

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// knownDivergence is a request on which weedvol deliberately answers
// otherwise than upstream, because upstream is wrong there.
type knownDivergence struct {
	name string
	// why weedvol does not follow upstream
	reason string
	// match reports whether the rule covers this request.
	match func(req *Request, up, wv Response) bool
	// check replaces the comparison: what weedvol must answer instead
	// (nil diffs: it did).
	check func(req *Request, up, wv Response) []Diff
	// checkWith, when set, is check with the harness at hand (to fetch
	// what weedvol's answer is checked against).
	checkWith func(h *Harness, req *Request, up, wv Response) []Diff
}

// knownDivergences is the whole list. Keep it short: every entry is a
// place where an operator swapping upstream for weedvol sees a change.
var knownDivergences = []knownDivergence{
	{
		name: "several ranges of a chunk manifest",
		reason: "upstream reads a manifest's chunks through one sequential reader and aborts the " +
			"connection when a multipart/byteranges answer needs it to seek back; weedvol answers 206 " +
			"with every part, checked here against the whole file",
		match: func(req *Request, up, wv Response) bool {
			return up.Err != nil && multiRange(req) && wv.Header.Get("X-File-Store") == "chunked"
		},
		checkWith: func(h *Harness, req *Request, up, wv Response) []Diff { return checkRangeParts(h, req, wv) },
	},
	{
		name: "volume id past 32 bits",
		reason: "upstream parses a volume id as 64 bits and truncates it to 32, so /4294967386,<fid> " +
			"reads volume 90; weedvol refuses an id that does not fit (400) rather than serve another volume's needle",
		match: func(req *Request, up, wv Response) bool {
			vid, ok := targetVid(req.Target)
			if !ok {
				return false
			}
			n, err := strconv.ParseUint(vid, 10, 64)
			return err == nil && n > math.MaxUint32
		},
		check: func(req *Request, up, wv Response) []Diff {
			if wv.Err != nil || (wv.Status != 400 && wv.Status != 404) {
				return []Diff{{"status", "400 or 404 (weedvol's own rule)", fmt.Sprint(wv.Status, wv.Err)}}
			}
			return nil
		},
	},
	{
		name: "ReadNeedleMeta size mismatch names the id twice hex-encoded",
		reason: "upstream formats the needle id of its size-mismatch error with %x on a type whose String() is " +
			"already hex, so id 0x32 reads \"found id 3332\"; weedvol names the id once (\"found id 32\"), " +
			"the rest of the text unchanged",
		match: func(req *Request, up, wv Response) bool {
			return req.Method == "gRPC" && strings.HasPrefix(req.Target, "ReadNeedleMeta ") &&
				sizeMismatchID.Match(up.Body) && sizeMismatchID.Match(wv.Body)
		},
		check: func(req *Request, up, wv Response) []Diff {
			want := sizeMismatchID.ReplaceAllStringFunc(string(up.Body), func(m string) string {
				hexID := sizeMismatchID.FindStringSubmatch(m)[1]
				id, err := hex.DecodeString(hexID)
				if err != nil {
					return m
				}
				return strings.Replace(m, hexID, string(id), 1)
			})
			if wv.Status != up.Status || string(wv.Body) != want {
				return []Diff{{"error", fmt.Sprintf("%d %q (upstream's with the id decoded)", up.Status, want), fmt.Sprintf("%d %q", wv.Status, wv.Body)}}
			}
			return nil
		},
	},
}

// multiRange reports whether the request asks for more than one range.
func multiRange(req *Request) bool {
	for _, h := range req.Header {
		if strings.EqualFold(h[0], "Range") && strings.Contains(h[1], ",") {
			return true
		}
	}
	return false
}

// checkRangeParts checks a multipart/byteranges answer against the whole
// file, fetched from upstream without the Range header.
func checkRangeParts(h *Harness, req *Request, wv Response) []Diff {
	whole := *req
	whole.Header = nil
	for _, kv := range req.Header {
		if !strings.EqualFold(kv[0], "Range") && !strings.EqualFold(kv[0], "If-Range") {
			whole.Header = append(whole.Header, kv)
		}
	}
	full := h.Up.raw.Do(whole.Method, whole.bytes(h.Up.Addr()))
	if full.Err != nil || full.Status != 200 {
		return []Diff{{"whole file from upstream", "200", fmt.Sprint(full.Status, full.Err)}}
	}
	if wv.Err != nil || wv.Status != 206 {
		return []Diff{{"status", "206 with the parts (weedvol's own rule)", fmt.Sprint(wv.Status, wv.Err)}}
	}
	mt, params, err := mime.ParseMediaType(wv.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" {
		return []Diff{{"Content-Type", "multipart/byteranges", wv.Header.Get("Content-Type")}}
	}
	mr := multipart.NewReader(bytes.NewReader(wv.Body), params["boundary"])
	parts := 0
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return []Diff{{"multipart body", "well formed", err.Error()}}
		}
		var start, end, total int64
		if _, err := fmt.Sscanf(p.Header.Get("Content-Range"), "bytes %d-%d/%d", &start, &end, &total); err != nil || total != int64(len(full.Body)) || end >= total || start > end {
			return []Diff{{"part Content-Range", fmt.Sprintf("within %d bytes", len(full.Body)), p.Header.Get("Content-Range")}}
		}
		got, _ := io.ReadAll(p)
		if !bytes.Equal(got, full.Body[start:end+1]) {
			return []Diff{{"part body", fmt.Sprintf("bytes %d-%d of the file", start, end), describeBody(got)}}
		}
		parts++
	}
	if parts < 2 {
		return []Diff{{"parts", "2 or more", strconv.Itoa(parts)}}
	}
	return nil
}

// sizeMismatchID finds the id in a ReadNeedleMeta size-mismatch error.
var sizeMismatchID = regexp.MustCompile(`^size mismatch for entry at offset [0-9]+: found id ([0-9a-f]+) size`)

// targetVid is the volume id part of a request-target, split as upstream
// splits paths (one, two or three slashes).
func targetVid(target string) (string, bool) {
	p, _, _ := strings.Cut(target, "?")
	if u, err := url.PathUnescape(p); err == nil {
		p = u
	}
	switch strings.Count(p, "/") {
	case 2, 3:
		parts := strings.Split(p, "/")
		return parts[1], true
	default:
		tail := p[strings.LastIndexByte(p, '/')+1:]
		vid, _, ok := strings.Cut(tail, ",")
		return vid, ok
	}
}

// applyKnown replaces diffs, when the request is a listed divergence, by
// the result of weedvol's own check, and names the rule.
func (h *Harness) applyKnown(req *Request, up, wv Response, diffs []Diff) ([]Diff, string) {
	if len(diffs) == 0 {
		return diffs, ""
	}
	k, ok := matchKnown(req, up, wv)
	if !ok {
		return diffs, ""
	}
	if k.checkWith != nil {
		return k.checkWith(h, req, up, wv), k.name
	}
	return k.check(req, up, wv), k.name
}

func matchKnown(req *Request, up, wv Response) (knownDivergence, bool) {
	for _, k := range knownDivergences {
		if k.match(req, up, wv) {
			return k, true
		}
	}
	return knownDivergence{}, false
}
