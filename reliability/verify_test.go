package reliability

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// category is one kind of problem the test counts.
type category int

const (
	catLost            category = iota // acknowledged write read as 404 (or DELETE 404)
	catOther                           // a read returned bytes that are not the file's
	catDeleteBackData                  // a deleted file read back with its data
	catDeleteBackEmpty                 // a deleted file read back as 200 with an empty body
	cat5xx                             // any 5xx answer
	catFailedRestart                   // weedvol did not come back, or without a volume
	catReadOnly                        // a volume came back read-only
	catUnexpected                      // other statuses, request errors before the kill
	numCategories
)

var categoryNames = [numCategories]string{
	catLost:            "lost",
	catOther:           "other bytes",
	catDeleteBackData:  "deletes back with data",
	catDeleteBackEmpty: "deletes back empty",
	cat5xx:             "5xx",
	catFailedRestart:   "failed restarts",
	catReadOnly:        "read-only volumes",
	catUnexpected:      "unexpected answers",
}

// outcome is an allowed result the test counts for the report (it fails
// nothing).
type outcome int

const (
	outWriteLostToCut     outcome = iota // acknowledged write read 404 after a cut
	outWriteLostIdx                      // the same where only .idx rows were cut (the record was intact)
	outDeleteUndone                      // acknowledged delete read with its data after a cut
	outDeleteUndoneIdx                   // the same where only .idx rows were cut (the tombstone record was intact)
	outInFlightWriteTook                 // upload in flight at the kill read with its bytes
	outInFlightDeleteTook                // delete in flight at the kill read 404
	numOutcomes
)

var outcomeNames = [numOutcomes]string{
	outWriteLostToCut:     "acknowledged writes lost to cuts",
	outWriteLostIdx:       "of which with the record intact (.idx cut only)",
	outDeleteUndone:       "acknowledged deletes undone by cuts",
	outDeleteUndoneIdx:    "of which with the tombstone record intact (.idx cut only)",
	outInFlightWriteTook:  "in-flight writes that took",
	outInFlightDeleteTook: "in-flight deletes that took",
}

const maxExamples = 10

type example struct{ what, expected, got string }

// tally counts problems, keeping the first examples of each kind.
type tally struct {
	mu       sync.Mutex
	counts   [numCategories]int
	examples [numCategories][]example
	outcomes [numOutcomes]int
}

func (t *tally) note(o outcome) {
	t.mu.Lock()
	t.outcomes[o]++
	t.mu.Unlock()
}

// outcomeLine is the allowed outcomes counted so far, on one line.
func (t *tally) outcomeLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	parts := make([]string, 0, numOutcomes)
	for o := range numOutcomes {
		parts = append(parts, fmt.Sprintf("%d %s", t.outcomes[o], outcomeNames[o]))
	}
	return strings.Join(parts, ", ")
}

func (t *tally) add(c category, what, expected, got string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.counts[c]++
	if len(t.examples[c]) < maxExamples {
		t.examples[c] = append(t.examples[c], example{what, expected, got})
	}
}

func (t *tally) failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, n := range t.counts {
		if n != 0 {
			return true
		}
	}
	return false
}

// line is the counts on one line: "0 lost, 0 other bytes, ...".
func (t *tally) line() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	parts := make([]string, 0, numCategories)
	for c := range numCategories {
		parts = append(parts, fmt.Sprintf("%d %s", t.counts[c], categoryNames[c]))
	}
	return strings.Join(parts, ", ")
}

func (t *tally) details() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	for c := range numCategories {
		if t.counts[c] == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s: %d\n", categoryNames[c], t.counts[c])
		for _, ex := range t.examples[c] {
			fmt.Fprintf(&b, "  %s\n    expected: %s\n    got:      %s\n", ex.what, ex.expected, ex.got)
		}
	}
	return b.String()
}

// observation is what a GET showed, against the file's bytes.
type observation int

const (
	obsExact      observation = iota // 200 with exactly the file's bytes
	obsAbsent                        // 404
	obsEmpty                         // 200, empty body, the file is not empty
	obsOther                         // 200 with other bytes
	obs5xx                           // a 5xx status
	obsUnexpected                    // any other status, or no answer
)

// judge rules on one read of a file the test holds in state st. It returns
// the problem to count (ok false when there is none) and the file's state
// from now on. relaxed files (a cut may have touched them) may read as 404
// or their bytes whatever their state; empty says the file's data is empty.
func judge(st state, relaxed, empty bool, o observation) (cat category, ok bool, next state) {
	switch o {
	case obs5xx:
		return cat5xx, false, st
	case obsUnexpected:
		return catUnexpected, false, st
	}
	deleteBack := func() category {
		if empty || o == obsEmpty {
			return catDeleteBackEmpty
		}
		return catDeleteBackData
	}
	switch st {
	case stLive:
		switch o {
		case obsExact:
			return 0, true, stLive
		case obsAbsent:
			if relaxed {
				return 0, true, stGone
			}
			return catLost, false, stGone
		}
		return catOther, false, stBroken
	case stPendingWrite:
		switch o {
		case obsExact:
			return 0, true, stLive
		case obsAbsent:
			return 0, true, stGone
		}
		return catOther, false, stBroken
	case stPendingDelete:
		switch o {
		case obsExact:
			return 0, true, stLive
		case obsAbsent:
			return 0, true, stDeleted
		case obsEmpty:
			return catDeleteBackEmpty, false, stBroken
		}
		return catOther, false, stBroken
	case stDeleted:
		switch o {
		case obsAbsent:
			return 0, true, stDeleted
		case obsExact:
			if relaxed {
				return 0, true, stLive // the delete was lost with the cut bytes
			}
			return deleteBack(), false, stBroken
		case obsEmpty:
			return catDeleteBackEmpty, false, stBroken
		}
		return catOther, false, stBroken
	case stGone:
		switch o {
		case obsAbsent:
			return 0, true, stGone
		case obsExact:
			if relaxed {
				return 0, true, stLive
			}
		}
		return catOther, false, stBroken
	}
	return 0, true, st // stBroken: counted once already
}

// verify reads files back and judges them: every file of this cycle, every
// file a cut may have touched or still in flight, and the files of earlier
// cycles, these up to -crash.reverifyMB per cycle (rotating through them),
// or all of them in the last cycle. It returns how many files and bytes it
// read.
func (r *run) verify(c int, all bool) (files int, read int64) {
	var todo, old []*entry
	for _, w := range r.writers {
		for _, e := range w.entries {
			switch {
			case e.state == stBroken:
			case all || e.cycle == c || e.relaxed || e.state == stPendingWrite || e.state == stPendingDelete:
				todo = append(todo, e)
			default:
				old = append(old, e)
			}
		}
	}
	budget := int64(*flagReverify) << 20
	if budget <= 0 {
		todo = append(todo, old...)
	} else if len(old) > 0 {
		start := r.reverifyAt % len(old)
		var spent int64
		n := 0
		for ; n < len(old) && spent < budget; n++ {
			e := old[(start+n)%len(old)]
			todo = append(todo, e)
			spent += int64(e.size)
		}
		r.reverifyAt = start + n
	}

	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan *entry)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got int64
			for e := range next {
				got += r.check(c, e)
			}
			mu.Lock()
			read += got
			mu.Unlock()
		}()
	}
	for _, e := range todo {
		next <- e
	}
	close(next)
	wg.Wait()

	for _, w := range r.writers {
		w.live = w.live[:0]
		for _, e := range w.entries {
			if e.state == stLive {
				w.live = append(w.live, e)
			}
		}
	}
	return len(todo), read
}

// check reads e, judges the read and updates e. It returns the bytes read.
func (r *run) check(c int, e *entry) int64 {
	resp, err := r.client.Get("http://" + r.vol.Addr() + "/" + e.fid)
	var body []byte
	status := 0
	if err == nil {
		status = resp.StatusCode
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	o, got := observe(e, status, body, err)
	cat, ok, next := judge(e.state, e.relaxed, e.size == 0, o)
	if ok {
		switch {
		case e.relaxed && e.state == stLive && next == stGone:
			r.tally.note(outWriteLostToCut)
			if !e.cutDat {
				r.tally.note(outWriteLostIdx)
			}
		case e.relaxed && e.state == stDeleted && next == stLive:
			r.tally.note(outDeleteUndone)
			if !e.cutDat {
				r.tally.note(outDeleteUndoneIdx)
			}
		case e.state == stPendingWrite && next == stLive:
			r.tally.note(outInFlightWriteTook)
		case e.state == stPendingDelete && next == stDeleted:
			r.tally.note(outInFlightDeleteTook)
		}
	}
	if !ok {
		note := fmt.Sprintf("GET after cycle %d: %s", c, got)
		if e.state == stPendingDelete {
			note += " (its delete was in flight at the kill)"
		}
		r.tally.add(cat, e.fid, e.expected(), note)
	}
	if o != obs5xx && o != obsUnexpected {
		e.state, e.relaxed, e.cutDat = next, false, false
	}
	return int64(len(body))
}

// observe classifies a GET's answer against e's bytes and describes it.
func observe(e *entry, status int, body []byte, err error) (observation, string) {
	if err != nil {
		return obsUnexpected, "request error: " + err.Error()
	}
	switch {
	case status == http.StatusNotFound:
		return obsAbsent, "404"
	case status >= 500:
		return obs5xx, fmt.Sprintf("%d %q", status, clip(body))
	case status != http.StatusOK:
		return obsUnexpected, fmt.Sprintf("%d %q", status, clip(body))
	}
	sum := sha256.Sum256(body)
	switch {
	case len(body) == e.size && bytes.Equal(sum[:], e.sum[:]):
		return obsExact, "200 with its bytes"
	case len(body) == 0:
		return obsEmpty, "200 with an empty body"
	}
	return obsOther, fmt.Sprintf("200 with %d bytes sha256 %x, starting %x", len(body), sum[:6], clip(body))
}

func clip(b []byte) []byte {
	if len(b) > 24 {
		return b[:24]
	}
	return b
}
