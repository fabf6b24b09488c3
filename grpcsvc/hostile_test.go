package grpcsvc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/superblock"
)

// snapshotTree describes every entry beneath root without following links:
// links by target, files by size and content hash.
func snapshotTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "link " + target
		case d.IsDir():
			out[rel] = "dir"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			out[rel] = fmt.Sprintf("file %d %s", len(b), hex.EncodeToString(sum[:8]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(a, b map[string]string) bool { return maps.Equal(a, b) }

// world is a data directory four levels beneath a parent that holds
// victims: files and a directory a hostile name or a planted link could
// lead weedvol to. After every call, everything outside the data
// directory must be exactly as it was.
type world struct {
	parent, data string
	victim       string // parent/victim.txt
	victimDir    string // parent/victimdir, holding victim.txt
	e            *env
	outside      map[string]string
}

func newWorld(t *testing.T, opts ...envOption) *world {
	t.Helper()
	w := newBareWorld(t)
	w.e = newEnvIn(t, w.data, opts...)
	return w
}

// newBareWorld is a world whose server the test starts itself.
func newBareWorld(t *testing.T) *world {
	t.Helper()
	w := &world{parent: t.TempDir()}
	w.data = filepath.Join(w.parent, "a", "b", "c", "data")
	w.victim = filepath.Join(w.parent, "victim.txt")
	w.victimDir = filepath.Join(w.parent, "victimdir")
	for _, f := range []string{w.victim, filepath.Join(w.victimDir, "victim.txt")} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("victim"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(w.data, 0o755); err != nil {
		t.Fatal(err)
	}
	w.snapshot(t)
	return w
}

// snapshot records the outside as it is now (after planting victims).
func (w *world) snapshot(t *testing.T) { w.outside = w.outsideTree(t) }

func (w *world) outsideTree(t *testing.T) map[string]string {
	tree := snapshotTree(t, w.parent)
	rel, _ := filepath.Rel(w.parent, w.data)
	for k := range tree {
		if k == rel || strings.HasPrefix(k, rel+string(filepath.Separator)) {
			delete(tree, k)
		}
	}
	return tree
}

// check fails the test when anything outside the data directory changed.
func (w *world) check(t *testing.T, what string) {
	t.Helper()
	if got := w.outsideTree(t); !sameTree(w.outside, got) {
		t.Errorf("%s changed files outside the data directory:\nbefore %v\nafter  %v", what, w.outside, got)
		w.outside = got
	}
}

// link plants a symbolic link at data/name pointing to target.
func (w *world) link(t *testing.T, name, target string) {
	t.Helper()
	p := filepath.Join(w.data, name)
	os.Remove(p)
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func hostileCollections(parent string) []string {
	return []string{
		".", "..", "../x", "../../x", "../../../../victim", "a/b", "/abs", parent + "/abs", `..\x`, `a\b`,
		"a\x00b", ".hidden", "\x01ctl", "tab\tname", "del\x7f", "c1\u0085",
		strings.Repeat("x", 100<<10), strings.Repeat("y", engine.MaxCollectionLen+1),
	}
}

var hostileExts = []string{
	"", ".", "dat", "..", "./x", "/../../x", "/etc/passwd", ".d/at", `.d\at`, ".dat\x00", ".a.b", ". dat", ".d\u00e4t",
	"." + strings.Repeat("a", 100<<10), "." + strings.Repeat("a", engine.MaxExtLen),
}

// receiveFile pushes content as ext of volume vid and returns the
// response's error text (or the call's error).
func receiveFile(t *testing.T, e *env, info *volume_server_pb.ReceiveFileInfo, content string) string {
	t.Helper()
	stream, err := e.client.ReceiveFile(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	msgs := []*volume_server_pb.ReceiveFileRequest{{Data: &volume_server_pb.ReceiveFileRequest_Info{Info: info}}}
	if content != "" {
		msgs = append(msgs, &volume_server_pb.ReceiveFileRequest{Data: &volume_server_pb.ReceiveFileRequest_FileContent{FileContent: []byte(content)}})
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil && !errors.Is(err, io.EOF) {
			return err.Error()
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return err.Error()
	}
	return resp.GetError()
}

// copyFile reads ext of volume vid through CopyFile.
func copyFile(t *testing.T, e *env, req *volume_server_pb.CopyFileRequest) ([]byte, error) {
	t.Helper()
	stream, err := e.client.CopyFile(ctxT(t), req)
	if err != nil {
		return nil, err
	}
	var got []byte
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, msg.GetFileContent()...)
	}
}

// lyingSource is a peer whose ReadVolumeFileStatus names a hostile
// collection.
type lyingSource struct {
	volume_server_pb.UnimplementedVolumeServerServer
	mu         sync.Mutex
	collection string
}

func (l *lyingSource) VolumeStatus(context.Context, *volume_server_pb.VolumeStatusRequest) (*volume_server_pb.VolumeStatusResponse, error) {
	return &volume_server_pb.VolumeStatusResponse{}, nil
}

func (l *lyingSource) ReadVolumeFileStatus(_ context.Context, req *volume_server_pb.ReadVolumeFileStatusRequest) (*volume_server_pb.ReadVolumeFileStatusResponse, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return &volume_server_pb.ReadVolumeFileStatusResponse{VolumeId: req.GetVolumeId(), Collection: l.collection, DatFileSize: superblock.Size, Version: 3}, nil
}

func (l *lyingSource) CopyFile(req *volume_server_pb.CopyFileRequest, stream volume_server_pb.VolumeServer_CopyFileServer) error {
	if req.GetExt() != ".dat" {
		return nil
	}
	head, _ := (&superblock.SuperBlock{Version: 3}).Encode()
	return stream.Send(&volume_server_pb.CopyFileResponse{FileContent: head})
}

func startLyingSource(t *testing.T) (*lyingSource, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	src := &lyingSource{}
	gs := grpc.NewServer()
	volume_server_pb.RegisterVolumeServerServer(gs, src)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return src, "127.0.0.1:1." + lis.Addr().String()[strings.LastIndexByte(lis.Addr().String(), ':')+1:]
}

// TestHostileNames sends every hostile collection and extension to every
// RPC that takes one: each is refused (with InvalidArgument where upstream
// has no check, with upstream's error where it has one) and neither the
// data directory nor anything outside it changes. VolumeCopy gets its
// hostile collection from the source's ReadVolumeFileStatus, and victims
// sit where upstream's (and weedvol's former) leftovers clean-up would
// have deleted.
func TestHostileNames(t *testing.T) {
	w := newWorld(t)
	e := w.e
	const vid, copyID = 60, 70
	e.allocate(t, vid, "pics")
	src, source := startLyingSource(t)
	names := hostileCollections(w.parent)
	for _, c := range names {
		for _, ext := range []string{".dat", ".idx", ".vif", ".wvx", ".note"} {
			p := filepath.Join(w.data, engine.CopyStagingDir, c+"_70"+ext)
			if strings.HasPrefix(p, w.parent+string(filepath.Separator)) && !strings.ContainsRune(p, 0) && len(filepath.Base(p)) < 200 {
				os.MkdirAll(filepath.Dir(p), 0o755)
				os.WriteFile(p, []byte("victim"), 0o644)
			}
		}
	}
	w.snapshot(t)
	inside := snapshotTree(t, w.data)

	for i, c := range names {
		label := c
		if len(label) > 40 {
			label = label[:40] + "..."
		}
		_, err := e.client.AllocateVolume(ctxT(t), &volume_server_pb.AllocateVolumeRequest{VolumeId: vid + 100 + uint32(i), Collection: c, Replication: "000"})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "invalid collection") {
			t.Errorf("AllocateVolume %q: %v, want InvalidArgument", label, err)
		}
		w.check(t, "AllocateVolume "+label)
		_, err = e.client.DeleteCollection(ctxT(t), &volume_server_pb.DeleteCollectionRequest{Collection: c})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("DeleteCollection %q: %v, want InvalidArgument", label, err)
		}
		w.check(t, "DeleteCollection "+label)
		if _, err := copyFile(t, e, &volume_server_pb.CopyFileRequest{VolumeId: vid, Ext: ".dat", Collection: c, StopOffset: 8}); status.Code(err) != codes.Unknown || !strings.Contains(err.Error(), "invalid collection") {
			t.Errorf("CopyFile collection %q: %v", label, err)
		}
		if msg := receiveFile(t, e, &volume_server_pb.ReceiveFileInfo{VolumeId: vid, Ext: ".x", Collection: c}, "pushed"); !strings.Contains(msg, "invalid collection") {
			t.Errorf("ReceiveFile collection %q: %q", label, msg)
		}
		w.check(t, "ReceiveFile "+label)
		src.mu.Lock()
		src.collection = c
		src.mu.Unlock()
		if err := volumeCopyErr(t, e, copyID, source); err == nil || !strings.Contains(err.Error(), "invalid collection") {
			t.Errorf("VolumeCopy of a source naming collection %q: %v", label, err)
		}
		w.check(t, "VolumeCopy "+label)
	}
	for _, ext := range hostileExts {
		label := ext
		if len(label) > 40 {
			label = label[:40] + "..."
		}
		want := "invalid file extension"
		if _, err := copyFile(t, e, &volume_server_pb.CopyFileRequest{VolumeId: vid, Ext: ext, StopOffset: 8}); status.Code(err) != codes.Unknown || !strings.Contains(err.Error(), want) {
			t.Errorf("CopyFile ext %q: %v", label, err)
		}
		if msg := receiveFile(t, e, &volume_server_pb.ReceiveFileInfo{VolumeId: vid, Ext: ext}, "pushed"); !strings.Contains(msg, want) {
			t.Errorf("ReceiveFile ext %q: %q", label, msg)
		}
		w.check(t, "ext "+label)
	}
	if got := snapshotTree(t, w.data); !sameTree(inside, got) {
		t.Errorf("refused calls changed the data directory:\nbefore %v\nafter  %v", inside, got)
	}
	if _, ok := e.store.Volume(copyID); ok {
		t.Error("a copy of a hostile source was mounted")
	}
	// a valid name still works as upstream
	src.mu.Lock()
	src.collection = "bucket-name.2024"
	src.mu.Unlock()
	if err := volumeCopyErr(t, e, copyID, source); err != nil {
		t.Fatalf("VolumeCopy of a valid collection: %v", err)
	}
	if v, ok := e.store.Volume(copyID); !ok || v.Collection != "bucket-name.2024" {
		t.Fatal("the valid copy is not mounted")
	}
	w.check(t, "valid copy")
}
