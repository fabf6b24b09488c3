package grpcsvc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"io"
	"os"
	"testing"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
)

// rowHash is upstream's prefix hash, computed here from the raw .idx
// bytes independently of the engine: FNV-1a over each row's key and size.
func rowHash(idx []byte, rows int) uint64 {
	h := fnv.New64a()
	for i := 0; i < rows; i++ {
		r := idx[i*16 : i*16+16]
		h.Write(r[0:8])
		h.Write(r[12:16])
	}
	return h.Sum64()
}

// TestVolumeIncrementalCopyResumeByEntry resumes a backup by its last
// index entry: a prefix that matches gets the records and rows after it,
// one that does not (fewer rows here, another key, size, cookie or hash)
// gets FailedPrecondition, and a backup holding every row gets nothing.
func TestVolumeIncrementalCopyResumeByEntry(t *testing.T) {
	e := newEnv(t)
	const vid = 36
	v := e.allocate(t, vid, "")
	a := write(t, v, needle.Needle{ID: 1, Cookie: 11, Data: []byte("first")})
	b := write(t, v, needle.Needle{ID: 2, Cookie: 22, Data: bytes.Repeat([]byte("b"), copyChunk+10)})
	if _, err := v.Delete(a.ID, a.Cookie, engine.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	c := write(t, v, needle.Needle{ID: 3, Cookie: 33, Data: []byte("third")})
	datFile, err := os.ReadFile(v.FileName(".dat"))
	if err != nil {
		t.Fatal(err)
	}
	idxFile, err := os.ReadFile(v.FileName(".idx"))
	if err != nil {
		t.Fatal(err)
	}
	if len(idxFile) != 4*16 {
		t.Fatalf(".idx has %d bytes, want 4 rows", len(idxFile))
	}
	row := func(i int) (key uint64, off int64, size int32) {
		r := idxFile[i*16:]
		return binary.BigEndian.Uint64(r), int64(binary.BigEndian.Uint32(r[8:])) * 8, int32(binary.BigEndian.Uint32(r[12:]))
	}
	_, offB, _ := row(1)
	_, offDel, _ := row(2)
	_, offC, _ := row(3)

	recv := func(req *volume_server_pb.VolumeIncrementalCopyRequest) (dat, idx []byte, err error) {
		req.VolumeId = vid
		return e.incrementalCopy(t, req)
	}
	// resume builds the request of a backup holding the first n rows.
	resume := func(n int, cookie uint32) *volume_server_pb.VolumeIncrementalCopyRequest {
		key, _, size := row(n - 1)
		return &volume_server_pb.VolumeIncrementalCopyRequest{EntryCount: uint64(n), LastNeedleKey: key,
			LastNeedleCookie: cookie, LastNeedleSize: size, EntriesHash: rowHash(idxFile, n)}
	}
	end := v.Size()
	for _, tc := range []struct {
		name     string
		req      *volume_server_pb.VolumeIncrementalCopyRequest
		code     codes.Code
		dat, idx []byte
	}{
		{"after the first row", resume(1, a.Cookie), codes.OK, datFile[offB:end], idxFile[16:]},
		{"after the second row", resume(2, b.Cookie), codes.OK, datFile[offDel:end], idxFile[32:]},
		{"after the tombstone", resume(3, a.Cookie), codes.OK, datFile[offC:end], idxFile[48:]},
		{"up to date", resume(4, c.Cookie), codes.OK, nil, nil},
		{"more rows than here", func() *volume_server_pb.VolumeIncrementalCopyRequest {
			r := resume(4, c.Cookie)
			r.EntryCount = 5
			return r
		}(), codes.FailedPrecondition, nil, nil},
		{"another key", func() *volume_server_pb.VolumeIncrementalCopyRequest {
			r := resume(2, b.Cookie)
			r.LastNeedleKey = 9
			return r
		}(), codes.FailedPrecondition, nil, nil},
		{"another size", func() *volume_server_pb.VolumeIncrementalCopyRequest {
			r := resume(2, b.Cookie)
			r.LastNeedleSize++
			return r
		}(), codes.FailedPrecondition, nil, nil},
		{"another cookie", resume(2, b.Cookie+1), codes.FailedPrecondition, nil, nil},
		{"another prefix", func() *volume_server_pb.VolumeIncrementalCopyRequest {
			r := resume(2, b.Cookie)
			r.EntriesHash++
			return r
		}(), codes.FailedPrecondition, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dat, idx, err := recv(tc.req)
			if status.Code(err) != tc.code {
				t.Fatalf("code %v (%v), want %v", status.Code(err), err, tc.code)
			}
			if tc.code == codes.FailedPrecondition && status.Convert(err).Message() != "local copy diverged from the replica" {
				t.Fatalf("message %q", status.Convert(err).Message())
			}
			if !bytes.Equal(dat, tc.dat) || !bytes.Equal(idx, tc.idx) {
				t.Fatalf("got %d data and %d index bytes, want %d and %d", len(dat), len(idx), len(tc.dat), len(tc.idx))
			}
		})
	}
}

// incrementalCopy runs VolumeIncrementalCopy and returns the .dat and .idx
// bytes it streamed, up to the first error.
func (e *env) incrementalCopy(t *testing.T, req *volume_server_pb.VolumeIncrementalCopyRequest) (dat, idx []byte, err error) {
	stream, err := e.client.VolumeIncrementalCopy(ctxT(t), req)
	if err != nil {
		return nil, nil, err
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return dat, idx, nil
		}
		if err != nil {
			return dat, idx, err
		}
		dat = append(dat, msg.GetFileContent()...)
		idx = append(idx, msg.GetIdxContent()...)
	}
}
