package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/ec"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/internal/weedproc"
)

// volumeGRPC dials the gRPC port upstream derives from p's HTTP port.
func volumeGRPC(t *testing.T, p *weedproc.Process) volume_server_pb.VolumeServerClient {
	t.Helper()
	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(p.Port+10000), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return volume_server_pb.NewVolumeServerClient(conn)
}

func allShardIDs() []uint32 {
	ids := make([]uint32, 14)
	for i := range ids {
		ids[i] = uint32(i)
	}
	return ids
}

// startUpstream runs upstream's master (with masterArgs) and `weed volume`
// on vdir, both stopped when the test ends.
func startUpstream(t *testing.T, weed, mdir, vdir, logDir string, masterArgs ...string) (master, vol *weedproc.Process) {
	t.Helper()
	master, err := weedproc.StartMaster(weed, mdir, masterArgs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Stop() })
	vol, err = weedproc.StartVolume(weed, vdir, logDir, master.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vol.Stop() })
	return master, vol
}

// checkNeedle fails the test unless a read of needle name gave want, or,
// when deleted, reported it deleted or absent.
func checkNeedle(t *testing.T, what, name string, n *needle.Needle, err error, want []byte, deleted bool) {
	t.Helper()
	if deleted {
		if !errors.Is(err, engine.ErrDeleted) && !errors.Is(err, engine.ErrNotFound) {
			t.Fatalf("%s: deleted %s reads back: %v (%d bytes)", what, name, err, len(n.Data))
		}
		return
	}
	if err != nil || !bytes.Equal(n.Data, want) {
		t.Fatalf("%s: %s: %v (%d bytes, want %d)", what, name, err, len(n.Data), len(want))
	}
}

// TestEcFilesWrittenByUpstream has upstream `weed volume` encode a volume
// and record a delete in its .ecj; the engine then mounts the shards,
// reads every needle, rebuilds four lost shards byte-identical to
// upstream's, and decodes the volume back with the deletes kept.
func TestEcFilesWrittenByUpstream(t *testing.T) {
	for _, width := range []int{4, 5} {
		t.Run(fmt.Sprintf("offset%d", width), func(t *testing.T) {
			weed := upstreamBinary(t, width)
			root := t.TempDir()
			mdir, vdir := filepath.Join(root, "m"), filepath.Join(root, "v")
			os.MkdirAll(mdir, 0o755)
			os.MkdirAll(vdir, 0o755)
			_, vol := startUpstream(t, weed, mdir, vdir, root, "-volumeSizeLimitMB=64")

			// The volume is allocated on the server directly, not grown by
			// the master: a loaded machine can keep the master's growth "in
			// progress" past any deadline.
			gc := volumeGRPC(t, vol)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			const vid = 5
			if _, err := gc.AllocateVolume(ctx, &volume_server_pb.AllocateVolumeRequest{VolumeId: vid, Replication: "000", Version: 3}); err != nil {
				t.Fatal(err)
			}
			sizes := []int{1, 7, 100, 4096, 65536, 1 << 20, 3<<20 + 5}
			var ups []upload
			for i := 0; i < 40; i++ {
				u := upload{vid: vid, key: uint64(1000 + i*37), ck: uint32(i*2654435761 + 1), data: randomBytes(sizes[i%len(sizes)])}
				u.fid = needle.FormatFid(vid, u.key, u.ck)
				if err := weedproc.Upload(vol.Addr(), u.fid, "f.bin", "application/octet-stream", u.data); err != nil {
					t.Fatal(err)
				}
				ups = append(ups, u)
			}
			deleted := map[uint64]bool{}
			for i := 0; i < len(ups); i += 6 {
				if err := weedproc.Delete(vol.Addr(), ups[i].fid); err != nil {
					t.Fatal(err)
				}
				deleted[ups[i].key] = true
			}
			if _, err := gc.VolumeMarkReadonly(ctx, &volume_server_pb.VolumeMarkReadonlyRequest{VolumeId: vid}); err != nil {
				t.Fatal(err)
			}
			if _, err := gc.VolumeEcShardsGenerate(ctx, &volume_server_pb.VolumeEcShardsGenerateRequest{VolumeId: vid}); err != nil {
				t.Fatal(err)
			}
			if _, err := gc.VolumeEcShardsMount(ctx, &volume_server_pb.VolumeEcShardsMountRequest{VolumeId: vid, ShardIds: allShardIDs()}); err != nil {
				t.Fatal(err)
			}
			if _, err := gc.VolumeUnmount(ctx, &volume_server_pb.VolumeUnmountRequest{VolumeId: vid}); err != nil {
				t.Fatal(err)
			}
			// a delete on the EC volume goes to upstream's .ecj
			if err := weedproc.Delete(vol.Addr(), ups[1].fid); err != nil {
				t.Fatal(err)
			}
			deleted[ups[1].key] = true
			if err := vol.Stop(); err != nil {
				t.Fatal(err)
			}
			base := filepath.Join(vdir, strconv.Itoa(int(vid)))
			orig := map[int][]byte{}
			for i := 0; i < 14; i++ {
				var err error
				if orig[i], err = os.ReadFile(ec.ShardFileName(base, i)); err != nil {
					t.Fatal(err)
				}
			}
			// the normal volume's files go, so only the EC volume serves
			for _, ext := range []string{".dat", ".idx"} {
				os.Remove(base + ext)
			}

			store, err := engine.OpenStore(engine.StoreConfig{Locations: []engine.LocationConfig{{Dir: vdir, MaxVolumes: 16}}})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			if info, ok := store.EcVolume(vid); !ok || len(info.Shards) != 14 {
				t.Fatalf("EC volume %d not loaded at start: %+v", vid, info)
			}
			check := func(what string) {
				t.Helper()
				for _, u := range ups {
					var n needle.Needle
					_, err := store.EcRead(ctx, vid, &n, u.key, u.ck, engine.ReadOptions{})
					checkNeedle(t, what, u.fid, &n, err, u.data, deleted[u.key])
				}
			}
			check("upstream's shards")

			lost := []uint32{0, 3, 11, 13}
			if err := store.EcDeleteShards(vid, "", lost); err != nil {
				t.Fatal(err)
			}
			check("four shards lost")
			if got, err := store.EcRebuild(ctx, vid, ""); err != nil || len(got) != 4 {
				t.Fatalf("rebuild: %v %v", got, err)
			}
			for _, id := range lost {
				b, err := os.ReadFile(ec.ShardFileName(base, int(id)))
				if err != nil || !bytes.Equal(b, orig[int(id)]) {
					t.Fatalf("rebuilt shard %d differs from upstream's (%v)", id, err)
				}
			}
			if err := store.EcMount(vid, "", lost); err != nil {
				t.Fatal(err)
			}
			if err := store.EcToVolume(ctx, vid, ""); err != nil {
				t.Fatal(err)
			}
			if err := store.MountVolume(vid); err != nil {
				t.Fatal(err)
			}
			v, _ := store.Volume(vid)
			for _, u := range ups {
				var n needle.Needle
				_, err := v.Read(&n, u.key, u.ck, nil, engine.ReadOptions{})
				checkNeedle(t, "decoded", u.fid, &n, err, u.data, deleted[u.key])
			}
		})
	}
}

// TestUpstreamServesEcFilesWrittenByEngine encodes a volume with the
// engine, records a delete in the .ecj, removes the original volume, and
// has upstream `weed volume` load the shards at start: every needle reads
// back over HTTP (deleted ones 404), and upstream decodes the shards back
// into a volume that serves the same.
func TestUpstreamServesEcFilesWrittenByEngine(t *testing.T) {
	for _, width := range []int{4, 5} {
		t.Run(fmt.Sprintf("offset%d", width), func(t *testing.T) {
			weed := upstreamBinary(t, width)
			root := t.TempDir()
			mdir, vdir := filepath.Join(root, "m"), filepath.Join(root, "v")
			os.MkdirAll(mdir, 0o755)
			os.MkdirAll(vdir, 0o755)
			const vid = 9
			store, err := engine.OpenStore(engine.StoreConfig{OffsetSize: width,
				Locations: []engine.LocationConfig{{Dir: vdir, MaxVolumes: 16}}})
			if err != nil {
				t.Fatal(err)
			}
			if err := store.AllocateVolume(vid, engine.AllocateOptions{}); err != nil {
				t.Fatal(err)
			}
			v, _ := store.Volume(vid)
			type w struct {
				key     uint64
				cookie  uint32
				data    []byte
				deleted bool
			}
			var all []w
			for k := uint64(1); k <= 60; k++ {
				n := needle.Needle{ID: k, Cookie: uint32(k * 2654435761), Data: randomBytes(int(k*k*131) % 400000)}
				if len(n.Data) == 0 {
					n.Data = []byte("x")
				}
				if _, err := v.Write(&n, engine.WriteOptions{}); err != nil {
					t.Fatal(err)
				}
				all = append(all, w{key: k, cookie: n.Cookie, data: n.Data})
			}
			for i := 4; i < len(all); i += 9 {
				if _, err := v.Delete(all[i].key, all[i].cookie, engine.WriteOptions{}); err != nil {
					t.Fatal(err)
				}
				all[i].deleted = true
			}
			ctx := context.Background()
			if err := store.EcGenerate(ctx, vid, ""); err != nil {
				t.Fatal(err)
			}
			if err := store.EcMount(vid, "", allShardIDs()); err != nil {
				t.Fatal(err)
			}
			if err := store.DeleteVolume(vid); err != nil {
				t.Fatal(err)
			}
			if _, err := store.EcDelete(ctx, vid, all[2].key, all[2].cookie); err != nil {
				t.Fatal(err)
			}
			all[2].deleted = true
			if err := store.Close(); err != nil {
				t.Fatal(err)
			}

			_, vol := startUpstream(t, weed, mdir, vdir, root)
			check := func(what string) {
				t.Helper()
				for _, x := range all {
					fid := needle.FormatFid(vid, x.key, x.cookie)
					code, body, _, err := weedproc.Get(vol.Addr(), fid)
					if err != nil {
						t.Fatal(err)
					}
					if x.deleted {
						if code != 404 {
							t.Fatalf("%s: deleted %s answered %d", what, fid, code)
						}
						continue
					}
					if code != 200 || !bytes.Equal(body, x.data) {
						t.Fatalf("%s: %s answered %d with %d bytes, want %d", what, fid, code, len(body), len(x.data))
					}
				}
			}
			check("upstream serving the engine's shards")

			gc := volumeGRPC(t, vol)
			if _, err := gc.VolumeEcShardsToVolume(ctx, &volume_server_pb.VolumeEcShardsToVolumeRequest{VolumeId: vid}); err != nil {
				t.Fatal(err)
			}
			if _, err := gc.VolumeEcShardsUnmount(ctx, &volume_server_pb.VolumeEcShardsUnmountRequest{VolumeId: vid, ShardIds: allShardIDs()}); err != nil {
				t.Fatal(err)
			}
			if _, err := gc.VolumeMount(ctx, &volume_server_pb.VolumeMountRequest{VolumeId: vid}); err != nil {
				t.Fatal(err)
			}
			check("upstream's decode of the engine's shards")

			// and the engine serves upstream's decode: its .idx is sorted by
			// key and lacks the needles deleted before the encode
			if err := vol.Stop(); err != nil {
				t.Fatal(err)
			}
			store, err = engine.OpenStore(engine.StoreConfig{Locations: []engine.LocationConfig{{Dir: vdir, MaxVolumes: 16}}})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			v, ok := store.Volume(vid)
			if !ok {
				t.Fatal("upstream's decoded volume not loaded")
			}
			for _, x := range all {
				var n needle.Needle
				_, err := v.Read(&n, x.key, x.cookie, nil, engine.ReadOptions{})
				checkNeedle(t, "upstream's decode", fmt.Sprintf("needle %d", x.key), &n, err, x.data, x.deleted)
			}
		})
	}
}
