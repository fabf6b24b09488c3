package grpcsvc

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
)

// tailRecord is one record as a tail stream delivers it, reassembled.
type tailRecord struct {
	header needle.Header
	rec    []byte // header and body
	chunks int
}

func collectTail(t *testing.T, e *env, vid uint32, since uint64) []tailRecord {
	t.Helper()
	stream, err := e.client.VolumeTailSender(ctxT(t), &volume_server_pb.VolumeTailSenderRequest{VolumeId: vid, SinceNs: since, IdleTimeoutSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	var out []tailRecord
	var cur *tailRecord
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			if cur != nil {
				t.Fatalf("stream ended inside a record")
			}
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.GetNeedleHeader()) == 0 {
			if !msg.GetIsLastChunk() || msg.GetVersion() != 3 {
				t.Fatalf("heartbeat %v", msg)
			}
			continue
		}
		if cur == nil {
			h, _ := needle.ParseHeader(msg.GetNeedleHeader())
			cur = &tailRecord{header: h, rec: append([]byte(nil), msg.GetNeedleHeader()...)}
		}
		cur.rec = append(cur.rec, msg.GetNeedleBody()...)
		cur.chunks++
		if msg.GetIsLastChunk() {
			out = append(out, *cur)
			cur = nil
		}
	}
}

func TestVolumeTailSenderAndReceiver(t *testing.T) {
	defer func(old time.Duration) { tailPollInterval = old }(tailPollInterval)
	tailPollInterval = 20 * time.Millisecond

	src, dst := newEnv(t), newEnv(t)
	const vid = 31
	sv := src.allocate(t, vid, "")
	dv := dst.allocate(t, vid, "")
	big := bytes.Repeat([]byte("B"), tailChunk+1000)
	a := write(t, sv, needle.Needle{ID: 1, Cookie: 11, Data: []byte("first")})
	b := write(t, sv, needle.Needle{ID: 2, Cookie: 22, Data: []byte("second, deleted below")})
	c := write(t, sv, needle.Needle{ID: 3, Cookie: 33, Data: big})
	if _, err := sv.Delete(b.ID, b.Cookie, engine.WriteOptions{}); err != nil {
		t.Fatal(err)
	}

	all := collectTail(t, src, vid, 0)
	if len(all) != 4 {
		t.Fatalf("%d records from 0, want 4", len(all))
	}
	for i, want := range []struct {
		id     uint64
		chunks int
	}{{a.ID, 1}, {b.ID, 1}, {c.ID, 2}, {b.ID, 1}} {
		if all[i].header.ID != want.id || all[i].chunks != want.chunks {
			t.Fatalf("record %d: id %d in %d chunks, want %d in %d", i, all[i].header.ID, all[i].chunks, want.id, want.chunks)
		}
		var n needle.Needle
		if err := n.DecodeAny(all[i].rec, needle.Version3); err != nil {
			t.Fatalf("record %d does not decode: %v", i, err)
		}
	}
	if all[3].header.Size != 0 {
		t.Fatalf("tombstone has size %d", all[3].header.Size)
	}
	if later := collectTail(t, src, vid, b.AppendAtNs); len(later) != 2 || later[0].header.ID != c.ID {
		t.Fatalf("since the second write: %d records", len(later))
	}

	srcAddr := "127.0.0.1:1." + src.addr[strings.LastIndexByte(src.addr, ':')+1:]
	if _, err := dst.client.VolumeTailReceiver(ctxT(t), &volume_server_pb.VolumeTailReceiverRequest{
		VolumeId: vid, SourceVolumeServer: srcAddr, IdleTimeoutSeconds: 1,
	}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []needle.Needle{a, c} {
		var got needle.Needle
		if _, err := dv.Read(&got, n.ID, n.Cookie, nil, engine.ReadOptions{}); err != nil || !bytes.Equal(got.Data, n.Data) {
			t.Fatalf("needle %d on the receiver: %v, %d bytes", n.ID, err, len(got.Data))
		}
	}
	var gone needle.Needle
	if _, err := dv.Read(&gone, b.ID, b.Cookie, nil, engine.ReadOptions{}); err == nil {
		t.Fatalf("needle deleted on the source is readable on the receiver")
	}

	_, err := dst.client.VolumeTailReceiver(ctxT(t), &volume_server_pb.VolumeTailReceiverRequest{VolumeId: 999, SourceVolumeServer: srcAddr})
	if err == nil || !strings.Contains(err.Error(), "receiver not found volume id 999") {
		t.Fatalf("missing volume: %v", err)
	}
}

func TestVolumeSyncStatus(t *testing.T) {
	e := newEnv(t)
	v := e.allocate(t, 32, "pics")
	write(t, v, needle.Needle{ID: 1, Cookie: 1, Data: []byte("x")})
	got, err := e.client.VolumeSyncStatus(ctxT(t), &volume_server_pb.VolumeSyncStatusRequest{VolumeId: 32})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetVolumeId() != 32 || got.GetCollection() != "pics" || got.GetTailOffset() != uint64(v.Size()) ||
		got.GetIdxFileSize() != uint64(v.IndexSize()) || got.GetVersion() != 3 || got.GetReplication() != "000" {
		t.Fatalf("sync status %v", got)
	}
	if _, err := e.client.VolumeSyncStatus(ctxT(t), &volume_server_pb.VolumeSyncStatusRequest{VolumeId: 33}); err == nil ||
		!strings.Contains(err.Error(), "not found volume id 33") {
		t.Fatalf("missing volume: %v", err)
	}
}

func TestVolumeIncrementalCopy(t *testing.T) {
	e := newEnv(t)
	const vid = 34
	v := e.allocate(t, vid, "")
	a := write(t, v, needle.Needle{ID: 1, Cookie: 1, Data: []byte("first")})
	b := write(t, v, needle.Needle{ID: 2, Cookie: 2, Data: bytes.Repeat([]byte("b"), copyChunk+10)})

	recv := func(since uint64, entries uint64) (dat, idx []byte, err error) {
		return e.incrementalCopy(t, &volume_server_pb.VolumeIncrementalCopyRequest{VolumeId: vid, SinceNs: since, EntryCount: entries})
	}
	datFile, err := os.ReadFile(v.FileName(".dat"))
	if err != nil {
		t.Fatal(err)
	}
	idxFile, err := os.ReadFile(v.FileName(".idx"))
	if err != nil {
		t.Fatal(err)
	}
	sb := v.SuperBlock()
	// from nothing: every record, then the whole index
	dat, idx, err := recv(0, 0)
	if err != nil || !bytes.Equal(dat, datFile[sb.BlockSize():v.Size()]) || !bytes.Equal(idx, idxFile) {
		t.Fatalf("since 0: %d data bytes, %d index bytes, %v", len(dat), len(idx), err)
	}
	// after the first record: the second record only, no index
	off, _, _ := v.Lookup(b.ID)
	dat, idx, err = recv(a.AppendAtNs, 0)
	if err != nil || !bytes.Equal(dat, datFile[off:v.Size()]) || len(idx) != 0 {
		t.Fatalf("since the first record: %d data bytes, %d index bytes, %v", len(dat), len(idx), err)
	}
	if dat, idx, err = recv(b.AppendAtNs, 0); err != nil || len(dat)+len(idx) != 0 {
		t.Fatalf("since the last record: %d + %d bytes, %v", len(dat), len(idx), err)
	}
	stream, err := e.client.VolumeIncrementalCopy(ctxT(t), &volume_server_pb.VolumeIncrementalCopyRequest{VolumeId: 999})
	if err == nil {
		_, err = stream.Recv()
	}
	if err == nil || !strings.Contains(err.Error(), "not found volume id 999") {
		t.Fatalf("missing volume: %v", err)
	}
}
