package grpcsvc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/seaweedfs/seaweedfs/weed/pb/master_pb"
	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
)

// TestEcHostileRequests sends the EC RPCs requests no honest shell sends
// and checks each gets upstream's answer (or a refusal) and no panic.
func TestEcHostileRequests(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	tests := []struct {
		name string
		call func() error
		want string // substring of the error; "" for success
	}{
		{"copy disk id out of range", func() error {
			_, err := e.client.VolumeEcShardsCopy(ctx, &volume_server_pb.VolumeEcShardsCopyRequest{VolumeId: 7, SourceDataNode: "127.0.0.1:1", ShardIds: []uint32{0}, DiskId: 99})
			return err
		}, "invalid disk_id 99: only have 1 disks"},
		{"copy shard id 32", func() error {
			_, err := e.client.VolumeEcShardsCopy(ctx, &volume_server_pb.VolumeEcShardsCopyRequest{VolumeId: 7, SourceDataNode: "127.0.0.1:1", ShardIds: []uint32{32}})
			return err
		}, "invalid shard id 32"},
		{"copy shard id max", func() error {
			_, err := e.client.VolumeEcShardsCopy(ctx, &volume_server_pb.VolumeEcShardsCopyRequest{VolumeId: 7, SourceDataNode: "127.0.0.1:1", ShardIds: []uint32{math.MaxUint32}})
			return err
		}, "invalid shard id"},
		{"copy climbing collection", func() error {
			_, err := e.client.VolumeEcShardsCopy(ctx, &volume_server_pb.VolumeEcShardsCopyRequest{VolumeId: 7, Collection: "../x", SourceDataNode: "127.0.0.1:1", ShardIds: []uint32{0}})
			return err
		}, "collection"},
		{"copy unreachable source", func() error {
			_, err := e.client.VolumeEcShardsCopy(ctx, &volume_server_pb.VolumeEcShardsCopyRequest{VolumeId: 7, SourceDataNode: "127.0.0.1:1.1", ShardIds: []uint32{0}, CopyEcxFile: true})
			return err
		}, "VolumeEcShardsCopy volume 7"},
		{"copy file bad ext", func() error {
			return drainCopy(e.client.CopyFile(ctx, &volume_server_pb.CopyFileRequest{VolumeId: 7, IsEcVolume: true, Ext: "/../../etc", StopOffset: 10}))
		}, "invalid file extension"},
		{"copy file missing", func() error {
			return drainCopy(e.client.CopyFile(ctx, &volume_server_pb.CopyFileRequest{VolumeId: 7, IsEcVolume: true, Ext: ".ec03", StopOffset: 10}))
		}, "not found ec volume id 7"},
		{"copy file missing ignored", func() error {
			return drainCopy(e.client.CopyFile(ctx, &volume_server_pb.CopyFileRequest{VolumeId: 7, IsEcVolume: true, Ext: ".ecx", StopOffset: 10, IgnoreSourceFileNotFound: true}))
		}, ""},
		{"copy file ext not ec", func() error {
			return drainCopy(e.client.CopyFile(ctx, &volume_server_pb.CopyFileRequest{VolumeId: 7, IsEcVolume: true, Ext: ".dat", StopOffset: 10}))
		}, "not an erasure-coding file"},
		{"shard read missing", func() error {
			return drainShardRead(e.client.VolumeEcShardRead(ctx, &volume_server_pb.VolumeEcShardReadRequest{VolumeId: 7, ShardId: 0, Size: 1}))
		}, "not found ec shard 7.0"},
		{"shard read huge id and size", func() error {
			return drainShardRead(e.client.VolumeEcShardRead(ctx, &volume_server_pb.VolumeEcShardReadRequest{VolumeId: 7, ShardId: math.MaxUint32, Offset: -5, Size: math.MaxInt64}))
		}, "not found ec shard 7.4294967295"},
		{"delete out-of-range shards", func() error {
			_, err := e.client.VolumeEcShardsDelete(ctx, &volume_server_pb.VolumeEcShardsDeleteRequest{VolumeId: 7, ShardIds: []uint32{32, 99, math.MaxUint32}})
			return err
		}, ""},
		{"delete missing volume", func() error {
			_, err := e.client.VolumeEcShardsDelete(ctx, &volume_server_pb.VolumeEcShardsDeleteRequest{VolumeId: 7, ShardIds: []uint32{0, 1, 13}})
			return err
		}, ""},
		{"teardown missing volume", func() error {
			resp, err := e.client.VolumeEcShardsDelete(ctx, &volume_server_pb.VolumeEcShardsDeleteRequest{VolumeId: 7, FullTeardown: true})
			if err == nil && !resp.GetFullTeardownDone() {
				return errors.New("full_teardown_done not set")
			}
			return err
		}, ""},
		{"mount shard 40", func() error {
			_, err := e.client.VolumeEcShardsMount(ctx, &volume_server_pb.VolumeEcShardsMountRequest{VolumeId: 7, ShardIds: []uint32{40}})
			return err
		}, "mount 7.40"},
		{"mount missing", func() error {
			_, err := e.client.VolumeEcShardsMount(ctx, &volume_server_pb.VolumeEcShardsMountRequest{VolumeId: 7, ShardIds: []uint32{0}})
			return err
		}, "mount 7.0"},
		{"unmount missing and out of range", func() error {
			_, err := e.client.VolumeEcShardsUnmount(ctx, &volume_server_pb.VolumeEcShardsUnmountRequest{VolumeId: 7, ShardIds: []uint32{0, 77}})
			return err
		}, ""},
		{"blob delete missing volume", func() error {
			_, err := e.client.VolumeEcBlobDelete(ctx, &volume_server_pb.VolumeEcBlobDeleteRequest{VolumeId: 7, FileKey: 1, Version: 3})
			return err
		}, ""},
		{"to volume missing", func() error {
			_, err := e.client.VolumeEcShardsToVolume(ctx, &volume_server_pb.VolumeEcShardsToVolumeRequest{VolumeId: 7})
			return err
		}, "not found"},
		{"to volume staged", func() error {
			_, err := e.client.VolumeEcShardsToVolume(ctx, &volume_server_pb.VolumeEcShardsToVolumeRequest{VolumeId: 7, FromStaged: true, DiskType: "hdd"})
			return err
		}, "staged volume 7"},
		{"info missing", func() error {
			_, err := e.client.VolumeEcShardsInfo(ctx, &volume_server_pb.VolumeEcShardsInfoRequest{VolumeId: 7})
			return err
		}, "EC volume 7 not found"},
		{"generate missing", func() error {
			_, err := e.client.VolumeEcShardsGenerate(ctx, &volume_server_pb.VolumeEcShardsGenerateRequest{VolumeId: 7})
			return err
		}, "not found"},
		{"rebuild missing", func() error {
			resp, err := e.client.VolumeEcShardsRebuild(ctx, &volume_server_pb.VolumeEcShardsRebuildRequest{VolumeId: 7, Collection: "c"})
			if err == nil && len(resp.GetRebuiltShardIds()) != 0 {
				return errors.New("rebuilt shards of a missing volume")
			}
			return err
		}, ""},
		{"scrub named missing", func() error {
			_, err := e.client.ScrubEcVolume(ctx, &volume_server_pb.ScrubEcVolumeRequest{VolumeIds: []uint32{7}, Mode: volume_server_pb.VolumeScrubMode_INDEX})
			return err
		}, "EC volume id 7 not found"},
		{"scrub deleted check in index mode", func() error {
			_, err := e.client.ScrubEcVolume(ctx, &volume_server_pb.ScrubEcVolumeRequest{Mode: volume_server_pb.VolumeScrubMode_INDEX, ForceDeletedNeedlesCheck: true})
			return err
		}, "only supported for FULL and READS"},
		{"scrub unknown mode over nothing", func() error {
			resp, err := e.client.ScrubEcVolume(ctx, &volume_server_pb.ScrubEcVolumeRequest{Mode: volume_server_pb.VolumeScrubMode(99)})
			if err == nil && resp.GetTotalVolumes() != 0 {
				return errors.New("scrubbed volumes that do not exist")
			}
			return err
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
		})
	}
}

func drainCopy(stream volume_server_pb.VolumeServer_CopyFileClient, err error) error {
	if err != nil {
		return err
	}
	for {
		if _, err := stream.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func drainShardRead(stream volume_server_pb.VolumeServer_VolumeEcShardReadClient, err error) error {
	if err != nil {
		return err
	}
	for {
		if _, err := stream.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// TestEcSourceRefusedByPeerGuard: without -allowUntrustedRemoteEndpoints a
// loopback source is refused before anything is dialed.
func TestEcSourceRefusedByPeerGuard(t *testing.T) {
	e := newEnv(t, refusePeers)
	_, err := e.client.VolumeEcShardsCopy(ctxT(t), &volume_server_pb.VolumeEcShardsCopyRequest{VolumeId: 3, SourceDataNode: "127.0.0.1:8080", ShardIds: []uint32{0}})
	if err == nil || !strings.Contains(err.Error(), "invalid source data node 127.0.0.1:8080") {
		t.Fatalf("got %v", err)
	}
}

// TestEcMaintenance: the RPCs that add data are refused in maintenance
// mode; deleting shards and unmounting are not.
func TestEcMaintenance(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	e.setMaintenance(t, true)
	refused := map[string]error{}
	_, refused["generate"] = e.client.VolumeEcShardsGenerate(ctx, &volume_server_pb.VolumeEcShardsGenerateRequest{VolumeId: 1})
	_, refused["rebuild"] = e.client.VolumeEcShardsRebuild(ctx, &volume_server_pb.VolumeEcShardsRebuildRequest{VolumeId: 1})
	_, refused["copy"] = e.client.VolumeEcShardsCopy(ctx, &volume_server_pb.VolumeEcShardsCopyRequest{VolumeId: 1, SourceDataNode: "127.0.0.1:1"})
	_, refused["blob delete"] = e.client.VolumeEcBlobDelete(ctx, &volume_server_pb.VolumeEcBlobDeleteRequest{VolumeId: 1})
	_, refused["to volume"] = e.client.VolumeEcShardsToVolume(ctx, &volume_server_pb.VolumeEcShardsToVolumeRequest{VolumeId: 1})
	for name, err := range refused {
		if err == nil || !strings.Contains(err.Error(), "maintenance mode") {
			t.Errorf("%s in maintenance: %v", name, err)
		}
	}
	if _, err := e.client.VolumeEcShardsDelete(ctx, &volume_server_pb.VolumeEcShardsDeleteRequest{VolumeId: 1, ShardIds: []uint32{0}}); err != nil {
		t.Errorf("delete in maintenance: %v", err)
	}
	if _, err := e.client.VolumeEcShardsUnmount(ctx, &volume_server_pb.VolumeEcShardsUnmountRequest{VolumeId: 1, ShardIds: []uint32{0}}); err != nil {
		t.Errorf("unmount in maintenance: %v", err)
	}
}

// TestEcReceiveFileHostile: ReceiveFile of EC files answers problems in
// the response, as upstream does.
func TestEcReceiveFileHostile(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		info *volume_server_pb.ReceiveFileInfo
		want string
	}{
		{"disk id out of range", &volume_server_pb.ReceiveFileInfo{VolumeId: 5, Ext: ".ec00", IsEcVolume: true, DiskId: 7}, "invalid disk_id 7: only have 1 disks"},
		{"bad ext", &volume_server_pb.ReceiveFileInfo{VolumeId: 5, Ext: ".ec/0", IsEcVolume: true}, "invalid file extension"},
		{"volume files refused", &volume_server_pb.ReceiveFileInfo{VolumeId: 5, Ext: ".dat", IsEcVolume: true}, "failed to create file"},
		{"climbing collection", &volume_server_pb.ReceiveFileInfo{VolumeId: 5, Ext: ".ec00", IsEcVolume: true, Collection: ".."}, "collection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := receive(t, e, tt.info, []byte("abc"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(resp.GetError(), tt.want) {
				t.Fatalf("want %q in the response error, got %q", tt.want, resp.GetError())
			}
		})
	}
	resp, err := receive(t, e, &volume_server_pb.ReceiveFileInfo{VolumeId: 5, Ext: ".ec03", IsEcVolume: true}, []byte("shard bytes"))
	if err != nil || resp.GetError() != "" || resp.GetBytesWritten() != 11 {
		t.Fatalf("unmounted shard: %v %v", resp, err)
	}
	got := readCopy(t, e, 5, ".ec03")
	if string(got) != "shard bytes" {
		t.Fatalf("CopyFile of the received shard: %q", got)
	}
}

func receive(t *testing.T, e *env, info *volume_server_pb.ReceiveFileInfo, data []byte) (*volume_server_pb.ReceiveFileResponse, error) {
	t.Helper()
	stream, err := e.client.ReceiveFile(ctxT(t))
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&volume_server_pb.ReceiveFileRequest{Data: &volume_server_pb.ReceiveFileRequest_Info{Info: info}}); err != nil {
		return nil, err
	}
	if err := stream.Send(&volume_server_pb.ReceiveFileRequest{Data: &volume_server_pb.ReceiveFileRequest_FileContent{FileContent: data}}); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return stream.CloseAndRecv()
}

func readCopy(t *testing.T, e *env, vid uint32, ext string) []byte {
	t.Helper()
	stream, err := e.client.CopyFile(ctxT(t), &volume_server_pb.CopyFileRequest{VolumeId: vid, IsEcVolume: true, Ext: ext, StopOffset: math.MaxInt64, CompactionRevision: math.MaxUint32})
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("CopyFile %s: %v", ext, err)
		}
		out = append(out, msg.GetFileContent()...)
	}
}

// TestEcCopyBetweenNodes copies a generated volume's shards, index and
// journal to a second node and checks the files arrive whole, the journal
// merged as a set.
func TestEcCopyBetweenNodes(t *testing.T) {
	src := newEnv(t)
	dst := newEnv(t)
	ctx := ctxT(t)
	v := src.allocate(t, 9, "")
	for i := uint64(1); i <= 20; i++ {
		write(t, v, needle.Needle{ID: i, Cookie: 0x1234, Data: bytes.Repeat([]byte{byte(i)}, int(100*i))})
	}
	if _, err := src.client.VolumeEcShardsGenerate(ctx, &volume_server_pb.VolumeEcShardsGenerateRequest{VolumeId: 9}); err != nil {
		t.Fatalf("generate: %v", err)
	}
	// two needles deleted at the source: its journal lists them
	if _, err := src.client.VolumeEcShardsMount(ctx, &volume_server_pb.VolumeEcShardsMountRequest{VolumeId: 9, ShardIds: []uint32{0}}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []uint64{3, 17} {
		if _, err := src.client.VolumeEcBlobDelete(ctx, &volume_server_pb.VolumeEcBlobDeleteRequest{VolumeId: 9, FileKey: key, Version: 3}); err != nil {
			t.Fatal(err)
		}
	}
	source := "127.0.0.1:1." + src.addr[strings.LastIndexByte(src.addr, ':')+1:]
	for round := 0; round < 2; round++ { // a second copy must not grow the journal
		_, err := dst.client.VolumeEcShardsCopy(ctx, &volume_server_pb.VolumeEcShardsCopyRequest{
			VolumeId: 9, SourceDataNode: source, ShardIds: []uint32{5, 13}, CopyEcxFile: true, CopyEcjFile: true, CopyVifFile: true, CopyEcsumFile: true,
		})
		if err != nil {
			t.Fatalf("copy %d: %v", round, err)
		}
	}
	for _, ext := range []string{".ec05", ".ec13", ".ecx", ".vif"} {
		if a, b := readCopy(t, src, 9, ext), readCopy(t, dst, 9, ext); !bytes.Equal(a, b) || len(a) == 0 {
			t.Errorf("%s: %d bytes at the source, %d at the copy", ext, len(a), len(b))
		}
	}
	var d ecjDecoder
	if err := d.write(readCopy(t, dst, 9, ".ecj")); err != nil {
		t.Fatal(err)
	}
	if got := d.ids(); len(got) != 2 || len(readCopy(t, dst, 9, ".ecj")) != 16 {
		t.Errorf("merged journal: ids %v in %d bytes, want 3 and 17 once each", got, len(readCopy(t, dst, 9, ".ecj")))
	}
	// the copied shards mount; a copy over a mounted shard is refused
	if _, err := dst.client.VolumeEcShardsMount(ctx, &volume_server_pb.VolumeEcShardsMountRequest{VolumeId: 9, ShardIds: []uint32{5, 13}}); err != nil {
		t.Fatalf("mount the copy: %v", err)
	}
	if _, err := dst.client.VolumeEcShardsCopy(ctx, &volume_server_pb.VolumeEcShardsCopyRequest{VolumeId: 9, SourceDataNode: source, ShardIds: []uint32{5}}); err == nil {
		t.Error("a copy over a mounted shard was taken")
	}
}

// TestEcjDecoder feeds journals in pieces of every size.
func TestEcjDecoder(t *testing.T) {
	ids := []uint64{7, 1 << 40, 7, 3, math.MaxUint64, 3}
	var journal []byte
	for _, id := range ids {
		journal = binary.BigEndian.AppendUint64(journal, id)
	}
	journal = append(journal, 1, 2, 3) // a torn last id
	want := []uint64{7, 1 << 40, 3, math.MaxUint64}
	for piece := 1; piece <= len(journal); piece++ {
		var d ecjDecoder
		for off := 0; off < len(journal); off += piece {
			if err := d.write(journal[off:min(off+piece, len(journal))]); err != nil {
				t.Fatal(err)
			}
		}
		if got := d.ids(); !slices.Equal(got, want) {
			t.Fatalf("pieces of %d: got %v, want %v", piece, got, want)
		}
	}
	var d ecjDecoder
	big := make([]byte, 1<<20)
	var err error
	for i := 0; i <= maxEcjBytes/len(big) && err == nil; i++ {
		err = d.write(big)
	}
	if err == nil {
		t.Fatal("a journal past maxEcjBytes was taken")
	}
}

// TestEcMessages checks the heartbeat's EC list and deltas: one message
// per volume and disk, bits and sizes in shard order.
func TestEcMessages(t *testing.T) {
	s := &Service{}
	vols := []engine.EcVolumeInfo{
		{ID: 3, Collection: "c", DiskType: "ssd", Files: 10, Deleted: 2, EncodeTsNs: 99, ExpireAtSec: 5, Shards: []engine.EcShardInfo{
			{ID: 0, Size: 100, DiskID: 1}, {ID: 2, Size: 100, DiskID: 0}, {ID: 13, Size: 90, DiskID: 1}, {ID: 40, Size: 1, DiskID: 0},
		}},
		{ID: 5, DiskType: "hdd", Shards: []engine.EcShardInfo{{ID: 1, Size: 7}}},
	}
	got := s.ecMessages(vols, nil, false)
	want := []*master_pb.VolumeEcShardInformationMessage{
		{Id: 3, Collection: "c", DiskType: "ssd", DiskId: 0, EcIndexBits: 1 << 2, ShardSizes: []int64{100}, FileCount: 10, DeleteCount: 2, EncodeTsNs: 99, ExpireAtSec: 5},
		{Id: 3, Collection: "c", DiskType: "ssd", DiskId: 1, EcIndexBits: 1 | 1<<13, ShardSizes: []int64{100, 90}, FileCount: 10, DeleteCount: 2, EncodeTsNs: 99, ExpireAtSec: 5},
		{Id: 5, DiskType: "", EcIndexBits: 1 << 1, ShardSizes: []int64{7}},
	}
	if !sameEcShards(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	// shards 0 and 2 of volume 3 went away: the deletion delta names them
	// with size 0, per disk
	after := []engine.EcVolumeInfo{{ID: 3, Collection: "c", DiskType: "ssd", Shards: []engine.EcShardInfo{{ID: 13, Size: 90, DiskID: 1}}}, vols[1]}
	gone := s.ecMessages(vols, shardSet(after), true)
	wantGone := []*master_pb.VolumeEcShardInformationMessage{
		{Id: 3, Collection: "c", DiskType: "ssd", DiskId: 0, EcIndexBits: 1 << 2, ShardSizes: []int64{0}, EncodeTsNs: 99},
		{Id: 3, Collection: "c", DiskType: "ssd", DiskId: 1, EcIndexBits: 1, ShardSizes: []int64{0}, EncodeTsNs: 99},
	}
	if !sameEcShards(gone, wantGone) {
		t.Fatalf("deleted: got %v\nwant %v", gone, wantGone)
	}
	if added := s.ecMessages(after, shardSet(vols), false); len(added) != 0 {
		t.Fatalf("nothing was added, got %v", added)
	}
}

func TestShardExtAndValidShards(t *testing.T) {
	for id, want := range map[uint32]string{0: ".ec00", 9: ".ec09", 10: ".ec10", 31: ".ec31"} {
		if got := shardExt(id); got != want {
			t.Errorf("shardExt(%d) = %s, want %s", id, got, want)
		}
	}
	if got := validShards([]uint32{3, 32, 3, 0, math.MaxUint32, 31}); !slices.Equal(got, []uint32{3, 0, 31}) {
		t.Errorf("validShards = %v", got)
	}
}
