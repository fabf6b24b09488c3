package difftest

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
var knownDivergences = []knownDivergence{}

func matchKnown(req *Request, up, wv Response) (knownDivergence, bool) {
	for _, k := range knownDivergences {
		if k.match(req, up, wv) {
			return k, true
		}
	}
	return knownDivergence{}, false
}
