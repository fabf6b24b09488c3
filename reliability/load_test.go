package reliability

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"sync/atomic"
)

// state is what the test knows about one file id.
type state uint8

const (
	stPendingWrite  state = iota // upload sent, not acknowledged (no answer, 5xx, ...)
	stLive                       // upload acknowledged, or seen after a restart
	stPendingDelete              // delete sent, not acknowledged
	stDeleted                    // delete acknowledged, or a delete seen to have taken
	stGone                       // an upload seen not to have taken (or lost, and counted)
	stBroken                     // already counted as wrong; not judged again
)

var stateNames = [...]string{"write in flight", "written", "delete in flight", "deleted", "absent", "counted"}

func (s state) String() string { return stateNames[s] }

// entry is one file id of one writer.
type entry struct {
	fid   string
	vid   uint32
	key   uint64
	size  int
	sum   [sha256.Size]byte
	fsync bool
	cycle int // written in
	state state
	// relaxed: a cut of this cycle may have taken the file's record or
	// row, so its read may be 404 or its bytes, whatever the state.
	relaxed bool
	// cutDat: a .dat cut of this cycle may have taken one of its records
	// (else only .idx rows were cut, and its records are all there).
	cutDat bool
	// acked: the upload was acknowledged (201) at some point.
	acked bool
}

func (e *entry) expected() string {
	exp := fmt.Sprintf("%s (written in cycle %d", e.state, e.cycle)
	if e.fsync {
		exp += ", fsync"
	}
	if e.relaxed {
		exp += ", in a cut region"
	}
	return exp + fmt.Sprintf("): %d bytes sha256 %x", e.size, e.sum[:6])
}

// writer uploads and deletes its own files. Between cycles (when no writer
// runs) the verifier reads and updates its entries.
type writer struct {
	id      int
	seed    uint64
	rng     *rand.Rand // sizes, cookies, volumes, fsync, deletes
	seq     uint64
	entries []*entry
	live    []*entry // acknowledged files, the candidates for a delete
	data    []byte
	body    bytes.Buffer

	cycleAcked, cycleDeleted int
}

func newWriter(id int, seed uint64) *writer {
	return &writer{id: id, seed: seed, rng: rand.New(rand.NewPCG(seed, uint64(id)+1))}
}

// fileBytes fills data with the bytes of the file with key: a PRNG stream
// seeded by the run's seed and the key, so that any file's bytes can be
// made again from the two.
func fileBytes(data []byte, seed, key uint64) []byte {
	src := rand.NewPCG(seed, key)
	var word [8]byte
	for i := 0; i < len(data); i += 8 {
		binary.LittleEndian.PutUint64(word[:], src.Uint64())
		copy(data[i:], word[:])
	}
	return data
}

// sizeClasses is the mix of upload sizes: mostly small, now and then empty
// or large.
var sizeClasses = []struct {
	weight   int
	min, max int
}{
	{2, 0, 0},
	{38, 1, 4 << 10},
	{44, 4 << 10, 64 << 10},
	{15, 64 << 10, 200 << 10},
	{1, 1 << 20, 2 << 20},
}

func pickSize(rng *rand.Rand) int {
	total := 0
	for _, c := range sizeClasses {
		total += c.weight
	}
	n := rng.IntN(total)
	for _, c := range sizeClasses {
		if n < c.weight {
			return c.min + rng.IntN(c.max-c.min+1)
		}
		n -= c.weight
	}
	panic("unreachable")
}

// load writes and deletes until stop is set. Every request is recorded in
// the entries before it is sent.
func (w *writer) load(r *run, cycle int, vids []uint32, stop *atomic.Bool) {
	w.cycleAcked, w.cycleDeleted = 0, 0
	for !stop.Load() {
		if len(w.live) > 0 && w.rng.IntN(5) == 0 {
			w.delete(r)
		} else {
			w.write(r, cycle, vids)
		}
	}
}

func (w *writer) write(r *run, cycle int, vids []uint32) {
	w.seq++
	key := uint64(w.id+1)<<32 | w.seq
	cookie := w.rng.Uint32() | 1
	vid := vids[w.rng.IntN(len(vids))]
	size := pickSize(w.rng)
	if cap(w.data) < size {
		w.data = make([]byte, size)
	}
	data := fileBytes(w.data[:size], w.seed, key)
	e := &entry{
		fid: fmt.Sprintf("%d,%x%08x", vid, key, cookie), vid: vid, key: key, size: size,
		sum: sha256.Sum256(data), fsync: w.rng.IntN(5) == 0, cycle: cycle, state: stPendingWrite,
	}
	w.entries = append(w.entries, e)

	w.body.Reset()
	mw := multipart.NewWriter(&w.body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="f%x.bin"`, key))
	h.Set("Content-Type", "application/octet-stream")
	part, _ := mw.CreatePart(h)
	part.Write(data)
	mw.Close()
	url := "http://" + r.vol.Addr() + "/" + e.fid
	if e.fsync {
		url += "?fsync=true"
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(w.body.Bytes()))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	// Lets net/http resend an upload that met a keep-alive connection the
	// server had just closed (it never reached the server).
	req.Header.Set("X-Idempotency-Key", e.fid)
	status, msg, err := r.do(req)
	switch {
	case err != nil:
		if !r.killed.Load() {
			r.tally.add(catUnexpected, e.fid, "an answer to the upload", "request error before the kill: "+err.Error())
		}
	case status == http.StatusCreated || status == http.StatusNoContent:
		// 204: an identical upload is already stored (a resend by net/http).
		e.state, e.acked = stLive, true
		w.live = append(w.live, e)
		w.cycleAcked++
	case status >= 500:
		r.tally.add(cat5xx, e.fid, "201 to the upload", fmt.Sprintf("%d %s", status, msg))
	default:
		r.tally.add(catUnexpected, e.fid, "201 to the upload", fmt.Sprintf("%d %s", status, msg))
	}
}

func (w *writer) delete(r *run) {
	i := w.rng.IntN(len(w.live))
	e := w.live[i]
	w.live[i] = w.live[len(w.live)-1]
	w.live = w.live[:len(w.live)-1]
	e.state = stPendingDelete
	req, err := http.NewRequest(http.MethodDelete, "http://"+r.vol.Addr()+"/"+e.fid, nil)
	if err != nil {
		panic(err)
	}
	status, msg, err := r.do(req)
	switch {
	case err != nil:
		if !r.killed.Load() {
			r.tally.add(catUnexpected, e.fid, "an answer to the delete", "request error before the kill: "+err.Error())
		}
	case status == http.StatusAccepted:
		e.state = stDeleted
		w.cycleDeleted++
	case status == http.StatusNotFound:
		r.tally.add(catLost, e.fid, e.expected(), "DELETE answered 404: "+msg)
		e.state = stGone
	case status >= 500:
		r.tally.add(cat5xx, e.fid, "202 to the delete", fmt.Sprintf("%d %s", status, msg))
	default:
		r.tally.add(catUnexpected, e.fid, "202 to the delete", fmt.Sprintf("%d %s", status, msg))
	}
}

// do sends req and returns the status and the start of the body.
func (r *run) do(req *http.Request) (int, string, error) {
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, resp.Body)
	if err != nil {
		return 0, "", err
	}
	return resp.StatusCode, string(b), nil
}
