package difftest

import (
	"fmt"
	"math"
	"net/url"
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
}

// knownDivergences is the whole list. Keep it short: every entry is a
// place where an operator swapping upstream for weedvol sees a change.
var knownDivergences = []knownDivergence{
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
}

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

func matchKnown(req *Request, up, wv Response) (knownDivergence, bool) {
	for _, k := range knownDivergences {
		if k.match(req, up, wv) {
			return k, true
		}
	}
	return knownDivergence{}, false
}
