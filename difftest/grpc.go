package difftest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/idx"
)

// The gRPC phase: the reads a master, `weed shell`, a replica or a backup
// makes over the VolumeServer contract, sent to both sides with the same
// arguments. None of these seven calls carries a cookie; the wrong-cookie
// cases of the HTTP phase become wrong needle ids here (ReadNeedleMeta
// takes one it should not trust, VolumeNeedleStatus looks one up).
//
// Target strings never hold a ',' or a '/', so that knownDivergences
// rules written for HTTP paths never match a gRPC request.

// grpcTimeout bounds one call (a whole stream for ReadAllNeedles).
const grpcTimeout = 60 * time.Second

// missingVids are volume ids neither side serves: large, small, and the
// extremes of the uint32 the contract carries.
var missingVids = []uint32{9999, 250, 0, math.MaxUint32}

// grpcAnswer is one side's answer: the messages received (one for a
// unary call, every one in order for a stream) and how the call ended.
type grpcAnswer struct {
	msgs []proto.Message
	err  error
}

// idxRow is one .idx row and whether it is the last of its key.
type idxRow struct {
	idx.Entry
	last bool // the row that wins for its key
}

// volumeIndex is what the copied .idx files say, per volume.
type volumeIndex struct {
	byKey map[uint32]map[uint64][]idxRow // a key's rows in file order
	dat   map[uint32]int64               // .dat size
}

// loadIndex reads every .idx in dir (offset width width). Upstream's
// copy is read: it is the one whose rows both sides were given.
func loadIndex(dir string, width int) (*volumeIndex, error) {
	f, err := idx.FormatFor(width)
	if err != nil {
		return nil, err
	}
	vi := &volumeIndex{byKey: map[uint32]map[uint64][]idxRow{}, dat: map[uint32]int64{}}
	names, err := filepath.Glob(filepath.Join(dir, "*.idx"))
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		base := strings.TrimSuffix(filepath.Base(name), ".idx")
		_, vid, ok := engine.ParseBaseName(base)
		if !ok {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		keys := map[uint64][]idxRow{}
		if err := f.Decode(b, func(e idx.Entry) error {
			keys[e.Key] = append(keys[e.Key], idxRow{Entry: e})
			return nil
		}); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for k, rs := range keys {
			rs[len(rs)-1].last = true
			keys[k] = rs
		}
		vi.byKey[vid] = keys
		if st, err := os.Stat(filepath.Join(dir, base+".dat")); err == nil {
			vi.dat[vid] = st.Size()
		}
	}
	return vi, nil
}

// RunGRPC compares the gRPC reads over every volume and every entry of
// the corpus, then n seeded random probes with wrong offsets, sizes and
// ids.
func (h *Harness) RunGRPC(phase string, seed uint64, n int) {
	vi, err := loadIndex(h.Up.Dir, h.cfg.Width)
	if err != nil {
		h.Res.add(phase, &Request{Method: "gRPC", Target: "load .idx", Label: "harness"}, []Diff{{"harness", err.Error(), "-"}}, "")
		return
	}
	vids := append([]uint32(nil), h.Corpus.Vids...)
	for vid := range vi.byKey {
		if !containsVid(vids, vid) {
			vids = append(vids, vid)
		}
	}
	sort.Slice(vids, func(i, j int) bool { return vids[i] < vids[j] })

	for _, vid := range append(vids, missingVids...) {
		h.volumeCalls(phase, vid)
	}
	h.readAllCalls(phase, vids)
	known := map[uint32]map[uint64]bool{}
	for _, e := range h.Corpus.Entries {
		h.entryCalls(phase, vi, e)
		if known[e.Vid] == nil {
			known[e.Vid] = map[uint64]bool{}
		}
		known[e.Vid][e.Key] = true
	}
	// rows of keys the corpus does not list (none are expected: every
	// write is an entry), so that every .idx row is read
	for _, vid := range vids {
		var keys []uint64
		for key := range vi.byKey[vid] {
			if !known[vid][key] {
				keys = append(keys, key)
			}
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		for _, key := range keys {
			h.entryCalls(phase, vi, &Entry{Vid: vid, Key: key, Kind: "needle the corpus does not list"})
		}
	}
	// ids no entry has: past the largest key of each volume, 0, all ones
	for _, vid := range vids {
		for _, key := range []uint64{h.Corpus.MaxKey[vid] + 1, 0, math.MaxUint64, 1 << 40} {
			h.needleStatus(phase, vid, key, "never written")
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x67727063))
	var rowed []*Entry
	for _, e := range h.Corpus.Entries {
		if len(vi.byKey[e.Vid][e.Key]) > 0 {
			rowed = append(rowed, e)
		}
	}
	for i := 0; i < n && len(rowed) > 0; i++ {
		h.oddProbe(phase, rng, vi, vids, rowed[rng.IntN(len(rowed))])
	}
}

func containsVid(vids []uint32, vid uint32) bool {
	for _, v := range vids {
		if v == vid {
			return true
		}
	}
	return false
}

// volumeCalls compares the three per-volume status calls.
func (h *Harness) volumeCalls(phase string, vid uint32) {
	v := strconv.FormatUint(uint64(vid), 10)
	h.unary(phase, &Request{Method: "gRPC", Target: "VolumeStatus volume=" + v, Label: "volume status"},
		func(ctx context.Context, c volume_server_pb.VolumeServerClient) (proto.Message, error) {
			return c.VolumeStatus(ctx, &volume_server_pb.VolumeStatusRequest{VolumeId: vid})
		})
	h.unary(phase, &Request{Method: "gRPC", Target: "ReadVolumeFileStatus volume=" + v, Label: "volume file status"},
		func(ctx context.Context, c volume_server_pb.VolumeServerClient) (proto.Message, error) {
			return c.ReadVolumeFileStatus(ctx, &volume_server_pb.ReadVolumeFileStatusRequest{VolumeId: vid})
		})
	h.unary(phase, &Request{Method: "gRPC", Target: "VolumeSyncStatus volume=" + v, Label: "volume sync status"},
		func(ctx context.Context, c volume_server_pb.VolumeServerClient) (proto.Message, error) {
			return c.VolumeSyncStatus(ctx, &volume_server_pb.VolumeSyncStatusRequest{VolumeId: vid})
		})
}

// readAllCalls compares ReadAllNeedles of each volume, of all of them in
// one call, of lists with a missing volume first, in the middle and
// repeated, and of an empty list.
func (h *Harness) readAllCalls(phase string, vids []uint32) {
	lists := [][]uint32{nil, vids, {missingVids[0]}}
	for _, vid := range vids {
		lists = append(lists, []uint32{vid})
	}
	if len(vids) > 1 {
		lists = append(lists, []uint32{vids[0], missingVids[0], vids[1]}, []uint32{vids[1], vids[1]})
	}
	for _, list := range lists {
		parts := make([]string, len(list))
		for i, v := range list {
			parts[i] = strconv.FormatUint(uint64(v), 10)
		}
		req := &volume_server_pb.ReadAllNeedlesRequest{VolumeIds: list}
		h.compare(phase, &Request{Method: "gRPC", Target: "ReadAllNeedles volumes=[" + strings.Join(parts, " ") + "]", Label: "read all needles"},
			func(ctx context.Context, c volume_server_pb.VolumeServerClient) grpcAnswer {
				stream, err := c.ReadAllNeedles(ctx, req)
				if err != nil {
					return grpcAnswer{err: err}
				}
				var a grpcAnswer
				for {
					m, err := stream.Recv()
					if err != nil {
						if !errors.Is(err, io.EOF) {
							a.err = err
						}
						return a
					}
					a.msgs = append(a.msgs, m)
				}
			})
	}
}

// entryCalls compares VolumeNeedleStatus of an entry and the blob and meta
// reads of every .idx row of its key: the current record, the records an
// overwrite superseded, and the tombstone of a delete.
func (h *Harness) entryCalls(phase string, vi *volumeIndex, e *Entry) {
	state := "live"
	if e.Deleted {
		state = "deleted"
	}
	h.needleStatus(phase, e.Vid, e.Key, state+" "+e.Kind)
	for _, r := range vi.byKey[e.Vid][e.Key] {
		what := "superseded row"
		switch {
		case r.Size < 0:
			what = "tombstone row"
		case r.last:
			what = "current row"
		}
		label := what + " of " + state + " " + e.Kind
		h.readBlob(phase, e.Vid, r.Offset, r.Size, label)
		h.readMeta(phase, e.Vid, e.Key, r.Offset, r.Size, label)
	}
}

func (h *Harness) needleStatus(phase string, vid uint32, key uint64, label string) {
	h.unary(phase, &Request{Method: "gRPC", Target: fmt.Sprintf("VolumeNeedleStatus volume=%d needle=%x", vid, key), Label: label},
		func(ctx context.Context, c volume_server_pb.VolumeServerClient) (proto.Message, error) {
			return c.VolumeNeedleStatus(ctx, &volume_server_pb.VolumeNeedleStatusRequest{VolumeId: vid, NeedleId: key})
		})
}

func (h *Harness) readBlob(phase string, vid uint32, off int64, size int32, label string) {
	h.unary(phase, &Request{Method: "gRPC", Target: fmt.Sprintf("ReadNeedleBlob volume=%d offset=%d size=%d", vid, off, size), Label: label},
		func(ctx context.Context, c volume_server_pb.VolumeServerClient) (proto.Message, error) {
			return c.ReadNeedleBlob(ctx, &volume_server_pb.ReadNeedleBlobRequest{VolumeId: vid, Offset: off, Size: size})
		})
}

func (h *Harness) readMeta(phase string, vid uint32, key uint64, off int64, size int32, label string) {
	h.unary(phase, &Request{Method: "gRPC", Target: fmt.Sprintf("ReadNeedleMeta volume=%d needle=%x offset=%d size=%d", vid, key, off, size), Label: label},
		func(ctx context.Context, c volume_server_pb.VolumeServerClient) (proto.Message, error) {
			return c.ReadNeedleMeta(ctx, &volume_server_pb.ReadNeedleMetaRequest{VolumeId: vid, NeedleId: key, Offset: off, Size: size})
		})
}

// oddProbe sends one blob or meta read of e's current row with the
// offset, size, needle id or volume id changed.
func (h *Harness) oddProbe(phase string, rng *rand.Rand, vi *volumeIndex, vids []uint32, e *Entry) {
	rows := vi.byKey[e.Vid][e.Key]
	r := rows[rng.IntN(len(rows))]
	vid, key, off, size := e.Vid, e.Key, r.Offset, r.Size
	dat := vi.dat[vid]
	var what string
	switch rng.IntN(16) {
	case 0:
		off, what = off+idx.Unit, "offset one unit on"
	case 1:
		off, what = off-idx.Unit, "offset one unit back"
	case 2:
		off, what = off+1+int64(rng.IntN(7)), "unaligned offset"
	case 3:
		off, what = dat, "offset at the end of the .dat"
	case 4:
		off, what = dat-idx.Unit, "offset a unit before the end of the .dat"
	case 5:
		off, what = dat+1<<20, "offset past the end of the .dat"
	case 6:
		off, what = 1<<35+off, "offset past 32 GiB"
	case 7:
		off, what = -idx.Unit, "negative offset"
	case 8:
		off, what = 0, "offset 0 (the super block)"
	case 9:
		size, what = size+1, "size one more"
	case 10:
		size, what = size-1, "size one less"
	case 11:
		size, what = 0, "size 0"
	case 12:
		size, what = -1, "tombstone size"
	case 13:
		size, what = int32(dat)+4096, "size past the end of the .dat"
	case 14:
		key, what = key^(1+rng.Uint64()%0xffff), "wrong needle id"
	default:
		if rng.IntN(2) == 0 {
			vid, what = missingVids[rng.IntN(len(missingVids))], "missing volume"
		} else {
			vid, what = vids[rng.IntN(len(vids))], "another volume's offset"
		}
	}
	label := what + " (" + e.Kind + ")"
	if rng.IntN(2) == 0 {
		h.readBlob(phase, vid, off, size, label)
	} else {
		h.readMeta(phase, vid, key, off, size, label)
	}
}

// unary compares one unary call.
func (h *Harness) unary(phase string, req *Request, call func(context.Context, volume_server_pb.VolumeServerClient) (proto.Message, error)) {
	h.compare(phase, req, func(ctx context.Context, c volume_server_pb.VolumeServerClient) grpcAnswer {
		m, err := call(ctx, c)
		if err != nil {
			return grpcAnswer{err: err}
		}
		return grpcAnswer{msgs: []proto.Message{m}}
	})
}

// compare makes call on upstream, then on weedvol, and records the
// comparison of the answers.
func (h *Harness) compare(phase string, req *Request, call func(context.Context, volume_server_pb.VolumeServerClient) grpcAnswer) {
	answer := func(s *Side) grpcAnswer {
		ctx, cancel := context.WithTimeout(context.Background(), grpcTimeout)
		defer cancel()
		a := call(ctx, s.GRPC)
		a.err = withoutSelfErr(a.err, s)
		return a
	}
	up, wv := answer(h.Up), answer(h.Wv)
	diffs := compareAnswers(up, wv)
	known := ""
	if len(diffs) > 0 {
		diffs, known = h.applyKnown(req, up.response(), wv.response(), diffs)
	}
	h.Res.add(phase, req, diffs, known)
}

// response renders a for knownDivergences, whose rules see HTTP-shaped
// answers: Status is the gRPC status code (0 for OK), Body the text of
// the messages, one per line, followed by the error message.
func (a grpcAnswer) response() Response {
	var b strings.Builder
	for _, m := range a.msgs {
		b.WriteString(prototext.MarshalOptions{}.Format(m))
		b.WriteByte('\n')
	}
	st := status.Convert(a.err)
	if a.err != nil {
		b.WriteString(st.Message())
	}
	return Response{Status: int(st.Code()), Body: []byte(b.String())}
}

// withoutSelfErr replaces a side's data directory and address in an error
// message (read errors name the file) with DIR and SELF.
func withoutSelfErr(err error, s *Side) error {
	if err == nil {
		return nil
	}
	st := status.Convert(err)
	msg := st.Message()
	if abs, aerr := filepath.Abs(s.Dir); aerr == nil {
		msg = strings.ReplaceAll(msg, abs, "DIR")
	}
	msg = strings.ReplaceAll(msg, s.Dir, "DIR")
	msg = strings.ReplaceAll(msg, s.Addr(), "SELF")
	if msg == st.Message() {
		return err
	}
	return status.Error(st.Code(), msg)
}

// compareAnswers lists how wv differs from up: the number of messages,
// each message field by field, and the end of the call (status code and
// message text, which clients read).
//
// No field is cleared before the comparison: none differs legitimately.
// The file times of ReadVolumeFileStatus (and the TTL volume's
// expire_at_sec, counted from the .dat's time) agree because the data
// directory was copied with its modification times, as an operator's
// rsync -a or cp -a keeps them; append_at_ns and every other needle field
// come from the same .dat bytes.
func compareAnswers(up, wv grpcAnswer) []Diff {
	var diffs []Diff
	const maxMessageDiffs = 5
	if len(up.msgs) != len(wv.msgs) {
		diffs = append(diffs, Diff{"messages", strconv.Itoa(len(up.msgs)), strconv.Itoa(len(wv.msgs))})
	}
	shown := 0
	for i := 0; i < min(len(up.msgs), len(wv.msgs)); i++ {
		a, b := up.msgs[i], wv.msgs[i]
		if proto.Equal(a, b) {
			continue
		}
		if shown++; shown > maxMessageDiffs {
			continue
		}
		prefix := ""
		if len(up.msgs) > 1 || len(wv.msgs) > 1 {
			prefix = fmt.Sprintf("message %d ", i)
		}
		diffs = append(diffs, messageDiffs(prefix, a.ProtoReflect(), b.ProtoReflect())...)
	}
	if shown > maxMessageDiffs {
		diffs = append(diffs, Diff{"more messages differ", strconv.Itoa(shown - maxMessageDiffs), "-"})
	}
	su, sw := status.Convert(up.err), status.Convert(wv.err)
	if su.Code() != sw.Code() {
		diffs = append(diffs, Diff{"code", su.Code().String(), sw.Code().String()})
	}
	if su.Message() != sw.Message() {
		diffs = append(diffs, Diff{"error", strconv.Quote(su.Message()), strconv.Quote(sw.Message())})
	}
	return diffs
}

// messageDiffs lists the fields of a and b (the same message type) that
// differ, descending into singular sub-messages.
func messageDiffs(prefix string, a, b protoreflect.Message) []Diff {
	var diffs []Diff
	fields := a.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		va, vb := a.Get(fd), b.Get(fd)
		if va.Equal(vb) && a.Has(fd) == b.Has(fd) {
			continue
		}
		name := prefix + string(fd.Name())
		if fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap() && a.Has(fd) && b.Has(fd) {
			diffs = append(diffs, messageDiffs(name+".", va.Message(), vb.Message())...)
			continue
		}
		diffs = append(diffs, Diff{name, describeValue(fd, va, a.Has(fd)), describeValue(fd, vb, b.Has(fd))})
	}
	return diffs
}

// describeValue renders a field's value for a report, shortened.
func describeValue(fd protoreflect.FieldDescriptor, v protoreflect.Value, has bool) string {
	switch {
	case !has && fd.HasPresence():
		return "absent"
	case fd.IsList() || fd.IsMap():
		s := fmt.Sprint(v.Interface())
		if l, ok := v.Interface().(protoreflect.List); ok {
			var parts []string
			for i := 0; i < l.Len(); i++ {
				parts = append(parts, describeValue(fd, l.Get(i), true))
			}
			s = "[" + strings.Join(parts, ", ") + "]"
		}
		return shorten(s)
	case fd.Kind() == protoreflect.MessageKind:
		return shorten(prototext.MarshalOptions{}.Format(v.Message().Interface()))
	case fd.Kind() == protoreflect.BytesKind:
		return describeBody(v.Bytes())
	case fd.Kind() == protoreflect.StringKind:
		return strconv.Quote(v.String())
	default:
		return fmt.Sprint(v.Interface())
	}
}

func shorten(s string) string {
	const show = 300
	if len(s) > show {
		return s[:show] + "..."
	}
	return s
}
