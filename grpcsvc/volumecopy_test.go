package grpcsvc

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
)

// runVolumeCopy asks dst to copy vid from src and returns the last
// append time it reported.
func runVolumeCopy(t *testing.T, dst, src *env, vid uint32, rate int64) (uint64, error) {
	t.Helper()
	source := "127.0.0.1:1." + src.addr[strings.LastIndexByte(src.addr, ':')+1:]
	stream, err := dst.client.VolumeCopy(ctxT(t), &volume_server_pb.VolumeCopyRequest{VolumeId: vid, SourceDataNode: source, IoBytePerSecond: rate})
	if err != nil {
		return 0, err
	}
	var last uint64
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return last, nil
		}
		if err != nil {
			return last, err
		}
		if msg.GetLastAppendAtNs() > 0 {
			last = msg.GetLastAppendAtNs()
		}
	}
}

func readNeedle(t *testing.T, e *env, vid uint32, n needle.Needle) ([]byte, error) {
	t.Helper()
	v, ok := e.store.Volume(vid)
	if !ok {
		return nil, errors.New("volume not mounted")
	}
	var got needle.Needle
	if _, err := v.Read(&got, n.ID, n.Cookie, nil, engine.ReadOptions{}); err != nil {
		return nil, err
	}
	return got.Data, nil
}

func TestVolumeCopyReplacesReplica(t *testing.T) {
	src, dst := newEnv(t), newEnv(t)
	const vid = 35
	sv := src.allocate(t, vid, "")
	kept := write(t, sv, needle.Needle{ID: 1, Cookie: 1, Data: []byte("kept")})
	gone := write(t, sv, needle.Needle{ID: 2, Cookie: 2, Data: []byte("deleted at the source")})
	if _, err := sv.Delete(gone.ID, gone.Cookie, engine.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	big := write(t, sv, needle.Needle{ID: 3, Cookie: 3, Data: bytes.Repeat([]byte("x"), 3<<20)})

	dv := dst.allocate(t, vid, "")
	stale := write(t, dv, needle.Needle{ID: 9, Cookie: 9, Data: []byte("only on the old replica")})

	last, err := runVolumeCopy(t, dst, src, vid, 0)
	if err != nil {
		t.Fatal(err)
	}
	if last != big.AppendAtNs {
		t.Fatalf("last append %d, want the source's newest %d", last, big.AppendAtNs)
	}
	for _, n := range []needle.Needle{kept, big} {
		if got, err := readNeedle(t, dst, vid, n); err != nil || !bytes.Equal(got, n.Data) {
			t.Fatalf("needle %d after copy: %v", n.ID, err)
		}
	}
	for _, n := range []needle.Needle{gone, stale} {
		if _, err := readNeedle(t, dst, vid, n); err == nil {
			t.Fatalf("needle %d readable after copy", n.ID)
		}
	}
	srcDat, _ := os.ReadFile(sv.FileName(".dat"))
	nv, _ := dst.store.Volume(vid)
	dstDat, _ := os.ReadFile(nv.FileName(".dat"))
	if !bytes.Equal(srcDat, dstDat) {
		t.Fatalf(".dat differs: %d vs %d bytes", len(srcDat), len(dstDat))
	}
	staging, _ := os.ReadDir(filepath.Join(dst.dir, engine.CopyStagingDir))
	if len(staging) != 0 {
		t.Fatalf("staging dir keeps %d files", len(staging))
	}
}

func TestVolumeCopyFailureKeepsReplica(t *testing.T) {
	src, dst := newEnv(t), newEnv(t)
	const vid = 36
	dv := dst.allocate(t, vid, "")
	mine := write(t, dv, needle.Needle{ID: 1, Cookie: 1, Data: []byte("the only copy")})
	// the source does not have the volume
	if _, err := runVolumeCopy(t, dst, src, vid, 0); err == nil || !strings.Contains(err.Error(), "read volume file status failed") {
		t.Fatalf("copy from a source without the volume: %v", err)
	}
	if got, err := readNeedle(t, dst, vid, mine); err != nil || !bytes.Equal(got, mine.Data) {
		t.Fatalf("replica after a failed copy: %v", err)
	}
	// once the source has it, the copy replaces the replica
	sv := src.allocate(t, vid, "")
	write(t, sv, needle.Needle{ID: 2, Cookie: 2, Data: []byte("source")})
	if _, err := runVolumeCopy(t, dst, src, vid, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := readNeedle(t, dst, vid, mine); err == nil {
		t.Fatalf("copy did not replace the replica")
	}

	dst.setMaintenance(t, true)
	if _, err := runVolumeCopy(t, dst, src, vid, 0); err == nil || !strings.Contains(err.Error(), "maintenance mode") {
		t.Fatalf("copy in maintenance mode: %v", err)
	}
}

func TestVolumeCopyIsPaced(t *testing.T) {
	src, dst := newEnv(t), newEnv(t)
	const vid = 37
	sv := src.allocate(t, vid, "")
	write(t, sv, needle.Needle{ID: 1, Cookie: 1, Data: bytes.Repeat([]byte("p"), 1<<20)})
	start := time.Now()
	if _, err := runVolumeCopy(t, dst, src, vid, 4<<20); err != nil {
		t.Fatal(err)
	}
	// 1 MiB at 4 MiB/s cannot take less than about a quarter second
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Fatalf("paced copy took %v", took)
	}
}

func TestReceiveFile(t *testing.T) {
	e := newEnv(t)
	const vid = 40
	e.allocate(t, vid, "")
	send := func(msgs ...*volume_server_pb.ReceiveFileRequest) (*volume_server_pb.ReceiveFileResponse, error) {
		stream, err := e.client.ReceiveFile(ctxT(t))
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			// a server that answered early (maintenance mode) makes Send
			// fail with io.EOF; the answer is what CloseAndRecv returns
			if err := stream.Send(m); err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			} else if err != nil {
				break
			}
		}
		return stream.CloseAndRecv()
	}
	info := func(ext string) *volume_server_pb.ReceiveFileRequest {
		return &volume_server_pb.ReceiveFileRequest{Data: &volume_server_pb.ReceiveFileRequest_Info{Info: &volume_server_pb.ReceiveFileInfo{VolumeId: vid, Ext: ext}}}
	}
	content := func(b string) *volume_server_pb.ReceiveFileRequest {
		return &volume_server_pb.ReceiveFileRequest{Data: &volume_server_pb.ReceiveFileRequest_FileContent{FileContent: []byte(b)}}
	}
	resp, err := send(info(".tmprecv"), content("part one, "), content("part two"))
	if err != nil || resp.GetError() != "" || resp.GetBytesWritten() != 18 {
		t.Fatalf("receive: %v, %v", resp, err)
	}
	v, _ := e.store.Volume(vid)
	if got, _ := os.ReadFile(v.FileName(".tmprecv")); string(got) != "part one, part two" {
		t.Fatalf("received file holds %q", got)
	}
	for _, tc := range []struct {
		msgs []*volume_server_pb.ReceiveFileRequest
		want string
	}{
		{[]*volume_server_pb.ReceiveFileRequest{content("early")}, "file info must be sent first"},
		{[]*volume_server_pb.ReceiveFileRequest{{}}, "unknown message type"},
		{[]*volume_server_pb.ReceiveFileRequest{info(".dat"), content("clobber")}, "refusing to overwrite .dat"},
		{[]*volume_server_pb.ReceiveFileRequest{info("../x")}, "invalid file extension"},
	} {
		resp, err := send(tc.msgs...)
		if err != nil || !strings.Contains(resp.GetError(), tc.want) {
			t.Errorf("want %q: %v, %v", tc.want, resp, err)
		}
	}
	if st, _ := os.Stat(v.FileName(".dat")); st.Size() != v.Size() {
		t.Fatalf(".dat changed by a refused receive")
	}
	e.setMaintenance(t, true)
	if _, err := send(info(".tmprecv")); err == nil || !strings.Contains(err.Error(), "maintenance mode") {
		t.Fatalf("receive in maintenance: %v", err)
	}
}
