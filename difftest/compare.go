package difftest

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// ignoredHeaders differ between any two runs of the same server.
var ignoredHeaders = map[string]bool{
	"Date":             true,
	"X-Amz-Request-Id": true, // a fresh id per request
	"Connection":       true, // connection management, not content
	"Keep-Alive":       true,
}

// Diff is one way the two answers to a request differ.
type Diff struct {
	What     string
	Upstream string
	Weedvol  string
}

func (d Diff) String() string {
	return fmt.Sprintf("%s: upstream %s, weedvol %s", d.What, d.Upstream, d.Weedvol)
}

// compareResponses lists how wv differs from up.
func compareResponses(up, wv Response) []Diff {
	var diffs []Diff
	if (up.Err == nil) != (wv.Err == nil) {
		return []Diff{{"answer", errString(up.Err), errString(wv.Err)}}
	}
	if up.Err != nil {
		return nil // neither answered (a closed connection on both sides)
	}
	if up.Status != wv.Status {
		diffs = append(diffs, Diff{"status", strconv.Itoa(up.Status), strconv.Itoa(wv.Status)})
	}
	upH, upB := normalize(up)
	wvH, wvB := normalize(wv)
	names := map[string]bool{}
	for k := range upH {
		names[k] = true
	}
	for k := range wvH {
		names[k] = true
	}
	sorted := make([]string, 0, len(names))
	for k := range names {
		if !ignoredHeaders[k] {
			sorted = append(sorted, k)
		}
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		a, b := strings.Join(upH.Values(k), " | "), strings.Join(wvH.Values(k), " | ")
		_, ina := upH[k]
		_, inb := wvH[k]
		if a != b || ina != inb {
			diffs = append(diffs, Diff{"header " + k, quoteOrAbsent(a, ina), quoteOrAbsent(b, inb)})
		}
	}
	if !bytes.Equal(upB, wvB) {
		diffs = append(diffs, Diff{"body", describeBody(upB), describeBody(wvB)})
	}
	return diffs
}

func errString(err error) string {
	if err == nil {
		return "an answer"
	}
	return "no answer (" + err.Error() + ")"
}

func quoteOrAbsent(v string, present bool) string {
	if !present {
		return "absent"
	}
	return strconv.Quote(v)
}

func describeBody(b []byte) string {
	const show = 120
	if len(b) <= show {
		return fmt.Sprintf("%d bytes %q", len(b), b)
	}
	return fmt.Sprintf("%d bytes %q...", len(b), b[:show])
}

// normalize replaces what legitimately differs between two servers giving
// the same answer: the random boundary of a multipart/byteranges body (and
// with it the Content-Length, when the boundaries differ in length).
func normalize(r Response) (http.Header, []byte) {
	h, body := r.Header, r.Body
	ct := h.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "multipart/byteranges" || params["boundary"] == "" {
		return h, body
	}
	b := params["boundary"]
	h = h.Clone()
	h.Set("Content-Type", strings.Replace(ct, b, "BOUNDARY", 1))
	body = bytes.ReplaceAll(body, []byte(b), []byte("BOUNDARY"))
	if cl := h.Get("Content-Length"); cl != "" {
		if n, err := strconv.Atoi(cl); err == nil {
			h.Set("Content-Length", strconv.Itoa(n-bytes.Count(r.Body, []byte(b))*(len(b)-len("BOUNDARY"))))
		}
	}
	return h, body
}

// withoutSelf replaces a server's own address in a body (error texts name
// the URLs a server fetched from itself) with "SELF", and adjusts
// Content-Length to match.
func withoutSelf(r Response, addr string) Response {
	if r.Err != nil || !bytes.Contains(r.Body, []byte(addr)) {
		return r
	}
	body := bytes.ReplaceAll(r.Body, []byte(addr), []byte("SELF"))
	h := r.Header.Clone()
	if cl := h.Get("Content-Length"); cl != "" {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	r.Body, r.Header = body, h
	return r
}
