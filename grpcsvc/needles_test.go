package grpcsvc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
)

func TestVolumeNeedleStatus(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	v := e.allocate(t, 21, "")
	plain := write(t, v, needle.Needle{ID: 778899, Cookie: 0xA1B2C3D4, Data: []byte("needle-status-payload")})
	ttl, _ := needle.ParseTTL("7d")
	withTTL := needle.Needle{ID: 778901, Cookie: 0xA1B2C3D6, Data: []byte("ttl")}
	withTTL.SetTTL(ttl)
	withTTL.SetLastModified(1700000000)
	withTTL = write(t, v, withTTL)
	gone := write(t, v, needle.Needle{ID: 5, Cookie: 5, Data: []byte("gone")})
	if _, err := v.Delete(gone.ID, gone.Cookie, engine.WriteOptions{}); err != nil {
		t.Fatal(err)
	}

	got, err := e.client.VolumeNeedleStatus(ctx, &volume_server_pb.VolumeNeedleStatusRequest{VolumeId: 21, NeedleId: plain.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetNeedleId() != plain.ID || got.GetCookie() != plain.Cookie || got.GetSize() != uint32(plain.Size) ||
		got.GetCrc() != needle.NewCRC(plain.Data).Legacy() || got.GetTtl() != "" {
		t.Fatalf("status %v, needle size %d", got, plain.Size)
	}
	got, err = e.client.VolumeNeedleStatus(ctx, &volume_server_pb.VolumeNeedleStatusRequest{VolumeId: 21, NeedleId: withTTL.ID})
	if err != nil || got.GetTtl() != "1w" || got.GetLastModified() != 1700000000 {
		t.Fatalf("status with ttl: %v, %v", got, err)
	}
	_, err = e.client.VolumeNeedleStatus(ctx, &volume_server_pb.VolumeNeedleStatusRequest{VolumeId: 99925, NeedleId: 1})
	wantErr(t, err, codes.Unknown, "volume not found 99925")
	_, err = e.client.VolumeNeedleStatus(ctx, &volume_server_pb.VolumeNeedleStatusRequest{VolumeId: 21, NeedleId: 123456789})
	wantErr(t, err, codes.NotFound, "needle not found 123456789")
	_, err = e.client.VolumeNeedleStatus(ctx, &volume_server_pb.VolumeNeedleStatusRequest{VolumeId: 21, NeedleId: gone.ID})
	wantErr(t, err, codes.Unknown, "already deleted")
}

func TestNeedleBlobRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	src := e.allocate(t, 1, "")
	dst := e.allocate(t, 2, "")
	n := needle.Needle{ID: 0x42, Cookie: 0xCAFE, Data: []byte("replicated by blob")}
	n.SetName([]byte("a.txt"))
	n.SetMime([]byte("text/plain"))
	n.SetLastModified(1700000001)
	n = write(t, src, n)
	off, size, _ := src.Lookup(n.ID)

	blob, err := e.client.ReadNeedleBlob(ctx, &volume_server_pb.ReadNeedleBlobRequest{VolumeId: 1, Offset: off, Size: size})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(blob.GetNeedleBlob())) != needle.ActualSize(size, src.Version()) {
		t.Fatalf("blob of %d bytes", len(blob.GetNeedleBlob()))
	}
	meta, err := e.client.ReadNeedleMeta(ctx, &volume_server_pb.ReadNeedleMetaRequest{VolumeId: 1, NeedleId: n.ID, Offset: off, Size: size})
	if err != nil {
		t.Fatal(err)
	}
	if meta.GetCookie() != n.Cookie || meta.GetLastModified() != 1700000001 || meta.GetAppendAtNs() != n.AppendAtNs ||
		meta.GetCrc() != needle.NewCRC(n.Data).Legacy() {
		t.Fatalf("meta %v, want cookie %x append %d", meta, n.Cookie, n.AppendAtNs)
	}

	req := &volume_server_pb.WriteNeedleBlobRequest{VolumeId: 2, NeedleId: n.ID, NeedleBlob: blob.GetNeedleBlob(), Size: size}
	if _, err := e.client.WriteNeedleBlob(ctx, req); err != nil {
		t.Fatal(err)
	}
	grown := dst.Size()
	if _, err := e.client.WriteNeedleBlob(ctx, req); err != nil {
		t.Fatal(err)
	}
	if dst.Size() != grown {
		t.Fatalf("identical blob appended again: %d -> %d", grown, dst.Size())
	}
	var got needle.Needle
	if _, err := dst.Read(&got, n.ID, n.Cookie, nil, engine.ReadOptions{}); err != nil || !bytes.Equal(got.Data, n.Data) || string(got.Name) != "a.txt" {
		t.Fatalf("read back: %q %q, %v", got.Data, got.Name, err)
	}
	if got.AppendAtNs <= n.AppendAtNs {
		t.Fatalf("append timestamp not renewed: %d <= %d", got.AppendAtNs, n.AppendAtNs)
	}
	if st := dst.Stats(); st.FileCount != 1 {
		t.Fatalf("destination file count %d", st.FileCount)
	}

	// The index row is on disk: the needle survives a remount.
	if _, err := e.client.VolumeUnmount(ctx, &volume_server_pb.VolumeUnmountRequest{VolumeId: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.VolumeMount(ctx, &volume_server_pb.VolumeMountRequest{VolumeId: 2}); err != nil {
		t.Fatal(err)
	}
	dst, _ = e.store.Volume(2)
	if _, err := dst.Read(&got, n.ID, n.Cookie, nil, engine.ReadOptions{}); err != nil || !bytes.Equal(got.Data, n.Data) {
		t.Fatalf("read after remount: %q, %v", got.Data, err)
	}

	for name, tc := range map[string]struct {
		req  *volume_server_pb.WriteNeedleBlobRequest
		want string
	}{
		"missing volume": {&volume_server_pb.WriteNeedleBlobRequest{VolumeId: 99113, NeedleId: 1, NeedleBlob: []byte("abc"), Size: 3}, "not found volume id 99113"},
		"short blob":     {&volume_server_pb.WriteNeedleBlobRequest{VolumeId: 2, NeedleId: 1, NeedleBlob: []byte("abc"), Size: 3}, "shorter than a needle header"},
		"size mismatch":  {&volume_server_pb.WriteNeedleBlobRequest{VolumeId: 2, NeedleId: 1, NeedleBlob: blob.GetNeedleBlob(), Size: size + 1}, "does not match its blob header size"},
		"truncated":      {&volume_server_pb.WriteNeedleBlobRequest{VolumeId: 2, NeedleId: 1, NeedleBlob: blob.GetNeedleBlob()[:20], Size: size}, "does not match the"},
		"negative size":  {&volume_server_pb.WriteNeedleBlobRequest{VolumeId: 2, NeedleId: 1, NeedleBlob: blob.GetNeedleBlob(), Size: -1}, "invalid size"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.client.WriteNeedleBlob(ctx, tc.req)
			wantErr(t, err, codes.Unknown, tc.want)
		})
	}
}

func TestReadNeedleBlobAndMetaErrors(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	v := e.allocate(t, 92, "")
	n := write(t, v, needle.Needle{ID: 880001, Cookie: 0xCCDD1122, Data: []byte("invalid-offset-check")})
	off, size, _ := v.Lookup(n.ID)

	_, err := e.client.ReadNeedleBlob(ctx, &volume_server_pb.ReadNeedleBlobRequest{VolumeId: 99111, Size: 16})
	wantErr(t, err, codes.Unknown, "not found volume id 99111")
	_, err = e.client.ReadNeedleMeta(ctx, &volume_server_pb.ReadNeedleMetaRequest{VolumeId: 99112, NeedleId: 1, Size: 16})
	wantErr(t, err, codes.Unknown, "not found volume id 99112")
	_, err = e.client.ReadNeedleBlob(ctx, &volume_server_pb.ReadNeedleBlobRequest{VolumeId: 92, Offset: 1 << 40, Size: 64})
	wantErr(t, err, codes.Unknown, "read needle blob offset 1099511627776 size 64")
	_, err = e.client.ReadNeedleBlob(ctx, &volume_server_pb.ReadNeedleBlobRequest{VolumeId: 92, Offset: off, Size: -1})
	wantErr(t, err, codes.Unknown, "invalid needle size -1")
	if _, err = e.client.ReadNeedleMeta(ctx, &volume_server_pb.ReadNeedleMetaRequest{VolumeId: 92, NeedleId: n.ID, Offset: 1 << 40, Size: 64}); err == nil {
		t.Fatal("ReadNeedleMeta past the end succeeded")
	}
	// a 4-byte volume looks again 32 GiB on, past its end (see below)
	_, err = e.client.ReadNeedleMeta(ctx, &volume_server_pb.ReadNeedleMetaRequest{VolumeId: 92, NeedleId: n.ID, Offset: off, Size: size + 8})
	wantErr(t, err, codes.Unknown, "EOF")
}

// TestReadNeedleMetaSizeMismatch checks the answers to a size that is not
// the record's, found by difftest: on a volume of 4-byte offsets upstream
// looks again 32 GiB further on (where a wrapped offset points) and answers
// that read's error, EOF; on a 5-byte volume it names the record found.
func TestReadNeedleMetaSizeMismatch(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	v4 := e.allocate(t, 93, "")
	v5, err := engine.OpenVolume(engine.VolumeConfig{ID: 94, Dir: e.dir, Create: true, OffsetSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	if err := v5.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.VolumeMount(ctx, &volume_server_pb.VolumeMountRequest{VolumeId: 94}); err != nil {
		t.Fatal(err)
	}
	v5, _ = e.store.Volume(94)
	if v5.OffsetSize() != 5 {
		t.Fatalf("volume 94 has %d-byte offsets", v5.OffsetSize())
	}
	for _, v := range []*engine.Volume{v4, v5} {
		n := write(t, v, needle.Needle{ID: 0x32, Cookie: 7, Data: []byte("size mismatch probe")})
		off, size, _ := v.Lookup(n.ID)
		if _, err := e.client.ReadNeedleMeta(ctx, &volume_server_pb.ReadNeedleMetaRequest{VolumeId: v.ID, NeedleId: n.ID, Offset: off, Size: size}); err != nil {
			t.Fatalf("volume %d: the right size: %v", v.ID, err)
		}
		_, err := e.client.ReadNeedleMeta(ctx, &volume_server_pb.ReadNeedleMetaRequest{VolumeId: v.ID, NeedleId: n.ID, Offset: off, Size: 0})
		if v.OffsetSize() == 4 {
			wantErr(t, err, codes.Unknown, "EOF")
			if got := status.Convert(err).Message(); got != "EOF" {
				t.Fatalf("4-byte volume: %q, want EOF", got)
			}
			// at or past 32 GiB there is no second look
			_, err = e.client.ReadNeedleMeta(ctx, &volume_server_pb.ReadNeedleMetaRequest{VolumeId: v.ID, Offset: v.MaxSize() + off, Size: 0})
			wantErr(t, err, codes.Unknown, "EOF")
			continue
		}
		want := fmt.Sprintf("size mismatch for entry at offset %d: found id 32 size %d, expected size 0", off, size)
		if got := status.Convert(err).Message(); got != want {
			t.Fatalf("5-byte volume: %q, want %q", got, want)
		}
	}
}

// TestReadNeedleMetaInvalidMetaSize checks upstream's text for a record
// whose data size field runs past its end: it names the DataSize.
func TestReadNeedleMetaInvalidMetaSize(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	v := e.allocate(t, 95, "")
	n := write(t, v, needle.Needle{ID: 9, Cookie: 9, Data: []byte("data size corrupted")})
	off, size, _ := v.Lookup(n.ID)
	f, err := os.OpenFile(v.FileName(".dat"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// the 4-byte data size after the 16-byte header
	if _, err := f.WriteAt([]byte{0, 1, 0, 0}, off+needle.HeaderSize); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.ReadNeedleMeta(ctx, &volume_server_pb.ReadNeedleMetaRequest{VolumeId: 95, NeedleId: n.ID, Offset: off, Size: size})
	meta := needle.ActualSize(size, v.Version()) - needle.HeaderSize - needle.DataSizeSize - 1<<16
	want := fmt.Sprintf("invalid needle meta size %d: DataSize=%d, size=%d, offset=%d", meta, 1<<16, size, off)
	if got := status.Convert(err).Message(); got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}

func TestBatchDelete(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	v := e.allocate(t, 31, "")
	a := write(t, v, needle.Needle{ID: 910001, Cookie: 0x11111111, Data: []byte("a")})
	b := write(t, v, needle.Needle{ID: 910002, Cookie: 0x22222222, Data: []byte("b")})
	c := write(t, v, needle.Needle{ID: 910003, Cookie: 0x33333333, Data: []byte("c")})
	m := needle.Needle{ID: 920001, Cookie: 0x5555AAAA, Data: []byte("manifest"), Flags: needle.FlagIsChunkManifest}
	m = write(t, v, m)
	ro := e.allocate(t, 32, "")
	r := write(t, ro, needle.Needle{ID: 1, Cookie: 1, Data: []byte("r")})
	if err := ro.SetReadOnly(true, false); err != nil {
		t.Fatal(err)
	}

	type row struct {
		fid    string
		status int32
		errSub string
	}
	for _, tc := range []struct {
		name string
		skip bool
		rows []row
	}{
		{"mixed", false, []row{
			{"bad-fid", http.StatusBadRequest, "Wrong fid format."},
			{"31,12", http.StatusBadRequest, "Invalid fid"},
			{fid(31, a.ID, a.Cookie), http.StatusAccepted, ""},
			{fid(31, 919999, 0x44444444), http.StatusNotFound, "not found"},
			{fid(31, a.ID, a.Cookie), http.StatusNotFound, "already deleted"},
			{fid(77, 1, 1), http.StatusNotFound, "volume 77 not found"},
			{fid(31, b.ID, b.Cookie+1), http.StatusBadRequest, "File Random Cookie does not match."},
			{fid(31, c.ID, c.Cookie), http.StatusAccepted, ""},
			{fid(31, m.ID, m.Cookie), http.StatusNotAcceptable, "ChunkManifest: not allowed in batch delete mode."},
			{fid(32, r.ID, r.Cookie), http.StatusInternalServerError, "read only"},
		}},
		{"skip cookie check", true, []row{
			{fid(31, b.ID, b.Cookie+1), http.StatusAccepted, ""},
			{fid(31, b.ID, b.Cookie), http.StatusNotModified, ""},
			{fid(77, 1, 1), http.StatusInternalServerError, "volume 77 not found on 127.0.0.1:18080"},
			{"31,1234", http.StatusBadRequest, "KeyHash is too short."},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fids []string
			for _, r := range tc.rows {
				fids = append(fids, r.fid)
			}
			resp, err := e.client.BatchDelete(ctx, &volume_server_pb.BatchDeleteRequest{FileIds: fids, SkipCookieCheck: tc.skip})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.GetResults()) != len(tc.rows) {
				t.Fatalf("%d results for %d ids", len(resp.GetResults()), len(tc.rows))
			}
			for i, r := range tc.rows {
				got := resp.GetResults()[i]
				if got.GetFileId() != r.fid || got.GetStatus() != r.status || !bytes.Contains([]byte(got.GetError()), []byte(r.errSub)) {
					t.Errorf("%s: got %d %q, want %d %q", r.fid, got.GetStatus(), got.GetError(), r.status, r.errSub)
				}
				if r.status == http.StatusAccepted && got.GetSize() == 0 {
					t.Errorf("%s: accepted with size 0", r.fid)
				}
			}
		})
	}
	var n needle.Needle
	if _, err := v.Read(&n, m.ID, m.Cookie, nil, engine.ReadOptions{}); err != nil {
		t.Fatalf("chunk manifest was deleted: %v", err)
	}
	if _, err := v.Read(&n, c.ID, c.Cookie, nil, engine.ReadOptions{}); !errors.Is(err, engine.ErrDeleted) {
		t.Fatalf("c after batch delete: %v", err)
	}
}

func TestReadAllNeedles(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	v := e.allocate(t, 84, "")
	w := e.allocate(t, 85, "")
	want := map[uint64]string{444441: "one", 444442: "two-final"}
	write(t, v, needle.Needle{ID: 444441, Cookie: 0xA0B0C0D0, Data: []byte("one")})
	write(t, v, needle.Needle{ID: 444442, Cookie: 0xA0B0C0D0, Data: []byte("two-first")})
	named := needle.Needle{ID: 444442, Cookie: 0xA0B0C0D0, Data: []byte("two-final")}
	named.SetName([]byte("two.txt"))
	write(t, v, named)
	write(t, w, needle.Needle{ID: 1, Cookie: 1, Data: []byte("other volume")})

	stream, err := e.client.ReadAllNeedles(ctx, &volume_server_pb.ReadAllNeedlesRequest{VolumeIds: []uint32{84, 85}})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint32]map[uint64]string{}
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if seen[msg.GetVolumeId()] == nil {
			seen[msg.GetVolumeId()] = map[uint64]string{}
		}
		if _, dup := seen[msg.GetVolumeId()][msg.GetNeedleId()]; dup {
			t.Fatalf("needle %d sent twice", msg.GetNeedleId())
		}
		seen[msg.GetVolumeId()][msg.GetNeedleId()] = string(msg.GetNeedleBlob())
		if msg.GetNeedleId() == 444442 && (string(msg.GetName()) != "two.txt" || msg.GetCrc() != needle.NewCRC([]byte("two-final")).Legacy()) {
			t.Fatalf("needle 444442: name %q crc %x", msg.GetName(), msg.GetCrc())
		}
	}
	for k, body := range want {
		if seen[84][k] != body {
			t.Fatalf("volume 84 needle %d = %q, want %q (all %v)", k, seen[84][k], body, seen)
		}
	}
	if len(seen[84]) != 2 || seen[85][1] != "other volume" {
		t.Fatalf("streamed %v", seen)
	}

	missing, err := e.client.ReadAllNeedles(ctx, &volume_server_pb.ReadAllNeedlesRequest{VolumeIds: []uint32{98763}})
	if err == nil {
		_, err = missing.Recv()
	}
	wantErr(t, err, codes.Unknown, "not found volume id 98763")
}
