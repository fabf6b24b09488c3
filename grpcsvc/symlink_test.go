package grpcsvc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
)

// TestPlantedSymlinks plants symbolic links to victims outside the data
// directory at names weedvol writes, deletes or reads, then runs every RPC
// that touches those names: nothing outside the data directory may change,
// and no outside content may be served.
func TestPlantedSymlinks(t *testing.T) {
	t.Run("VolumeMount of a linked .dat or .idx", func(t *testing.T) {
		w := newWorld(t)
		w.link(t, "9.dat", w.victim)
		w.snapshot(t)
		if _, err := w.e.client.VolumeMount(ctxT(t), &volume_server_pb.VolumeMountRequest{VolumeId: 9}); err == nil {
			t.Error("mounted a volume whose .dat is a link")
		}
		w.check(t, "VolumeMount 9")

		w.e.allocate(t, 10, "")
		if _, err := w.e.client.VolumeUnmount(ctxT(t), &volume_server_pb.VolumeUnmountRequest{VolumeId: 10}); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(w.data, "10.wvx"))
		w.link(t, "10.idx", w.victim)
		w.snapshot(t)
		if _, err := w.e.client.VolumeMount(ctxT(t), &volume_server_pb.VolumeMountRequest{VolumeId: 10}); err == nil {
			t.Error("mounted a volume whose .idx is a link")
		}
		w.check(t, "VolumeMount 10")
	})

	t.Run("AllocateVolume over linked names", func(t *testing.T) {
		w := newWorld(t)
		notYet := filepath.Join(w.parent, "created-through-a-link.dat")
		w.link(t, "11.dat", notYet) // dangling
		w.link(t, "12.idx", w.victim)
		w.link(t, "21.vif", filepath.Join(w.victimDir, "victim.txt"))
		w.snapshot(t)
		// a linked .vif is read (it does not parse here), never written through
		_, _ = w.e.client.AllocateVolume(ctxT(t), &volume_server_pb.AllocateVolumeRequest{VolumeId: 21, Replication: "000"})
		w.check(t, "AllocateVolume 21")
		if _, err := w.e.client.AllocateVolume(ctxT(t), &volume_server_pb.AllocateVolumeRequest{VolumeId: 11, Replication: "000"}); err == nil {
			t.Error("allocated over a dangling .dat link")
		}
		w.check(t, "AllocateVolume 11")
		v := w.e.allocate(t, 12, "") // the stale links are replaced, not followed
		write(t, v, needle.Needle{ID: 1, Cookie: 1, Data: []byte("mine")})
		w.check(t, "AllocateVolume 12")
		for _, name := range []string{"12.idx", "12.dat"} {
			if st, err := os.Lstat(filepath.Join(w.data, name)); err != nil || !st.Mode().IsRegular() {
				t.Errorf("%s after AllocateVolume: %v", name, err)
			}
		}
	})

	t.Run("VolumeDelete and DeleteCollection remove links, not targets", func(t *testing.T) {
		w := newWorld(t)
		w.e.allocate(t, 13, "")
		w.e.allocate(t, 14, "pics")
		w.link(t, "13.note", w.victim)
		w.link(t, "13.cpd", w.victimDir)
		w.link(t, "pics_14.cpx", w.victim)
		w.snapshot(t)
		if _, err := w.e.client.VolumeDelete(ctxT(t), &volume_server_pb.VolumeDeleteRequest{VolumeId: 13}); err != nil {
			t.Fatal(err)
		}
		w.check(t, "VolumeDelete 13")
		if _, err := w.e.client.DeleteCollection(ctxT(t), &volume_server_pb.DeleteCollectionRequest{Collection: "pics"}); err != nil {
			t.Fatal(err)
		}
		w.check(t, "DeleteCollection pics")
		if left, _ := filepath.Glob(filepath.Join(w.data, "1[34]*")); len(left) != 0 {
			t.Errorf("left behind: %v", left)
		}
	})

	t.Run("VolumeConfigure of a linked .dat", func(t *testing.T) {
		w := newWorld(t)
		w.e.allocate(t, 15, "")
		if _, err := w.e.client.VolumeUnmount(ctxT(t), &volume_server_pb.VolumeUnmountRequest{VolumeId: 15}); err != nil {
			t.Fatal(err)
		}
		moved := filepath.Join(w.parent, "15-moved-away.dat")
		if err := os.Rename(filepath.Join(w.data, "15.dat"), moved); err != nil {
			t.Fatal(err)
		}
		w.link(t, "15.dat", moved)
		w.snapshot(t)
		resp, err := w.e.client.VolumeConfigure(ctxT(t), &volume_server_pb.VolumeConfigureRequest{VolumeId: 15, Replication: "001"})
		if err != nil || resp.GetError() == "" {
			t.Errorf("VolumeConfigure through a link: %v, %q", err, resp.GetError())
		}
		w.check(t, "VolumeConfigure 15")
	})

	t.Run("vacuum over linked .cpd and .cpx", func(t *testing.T) {
		w := newWorld(t)
		v := w.e.allocate(t, 16, "")
		keep := write(t, v, needle.Needle{ID: 1, Cookie: 1, Data: []byte("keep")})
		gone := write(t, v, needle.Needle{ID: 2, Cookie: 2, Data: []byte("gone")})
		if _, err := v.Delete(gone.ID, gone.Cookie, engine.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		w.link(t, "16.cpd", w.victim)
		w.link(t, "16.cpx", filepath.Join(w.victimDir, "victim.txt"))
		w.snapshot(t)
		stream, err := w.e.client.VacuumVolumeCompact(ctxT(t), &volume_server_pb.VacuumVolumeCompactRequest{VolumeId: 16})
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := stream.Recv(); err != nil {
				break
			}
		}
		w.check(t, "VacuumVolumeCompact 16")
		if _, err := w.e.client.VacuumVolumeCommit(ctxT(t), &volume_server_pb.VacuumVolumeCommitRequest{VolumeId: 16}); err != nil {
			t.Fatal(err)
		}
		w.check(t, "VacuumVolumeCommit 16")
		if got, err := readNeedle(t, w.e, 16, keep); err != nil || string(got) != "keep" {
			t.Fatalf("after vacuum: %q, %v", got, err)
		}
		w.link(t, "16.cpd", w.victim)
		w.snapshot(t)
		if _, err := w.e.client.VacuumVolumeCleanup(ctxT(t), &volume_server_pb.VacuumVolumeCleanupRequest{VolumeId: 16}); err != nil {
			t.Fatal(err)
		}
		w.check(t, "VacuumVolumeCleanup 16")
	})

	t.Run("ReceiveFile and CopyFile over links", func(t *testing.T) {
		w := newWorld(t)
		w.e.allocate(t, 17, "")
		w.link(t, "17.ext", w.victim)
		w.link(t, "17.secret", w.victim)
		w.snapshot(t)
		if msg := receiveFile(t, w.e, &volume_server_pb.ReceiveFileInfo{VolumeId: 17, Ext: ".ext"}, "pushed"); msg != "" {
			t.Fatalf("ReceiveFile: %s", msg)
		}
		w.check(t, "ReceiveFile .ext")
		if b, err := os.ReadFile(filepath.Join(w.data, "17.ext")); err != nil || string(b) != "pushed" {
			t.Fatalf("received file: %q, %v", b, err)
		}
		got, err := copyFile(t, w.e, &volume_server_pb.CopyFileRequest{VolumeId: 17, Ext: ".secret", StopOffset: 1 << 20})
		if err == nil || strings.Contains(string(got), "victim") {
			t.Errorf("CopyFile through a link: %q, %v", got, err)
		}
		if _, err := w.e.client.ReadVolumeFileStatus(ctxT(t), &volume_server_pb.ReadVolumeFileStatusRequest{VolumeId: 17}); err != nil {
			t.Fatal(err)
		}
		w.check(t, "CopyFile .secret")
	})

	t.Run("VolumeCopy with copying/ or a staged name linked", func(t *testing.T) {
		src := newEnv(t)
		n := write(t, src.allocate(t, 18, ""), needle.Needle{ID: 1, Cookie: 1, Data: []byte("copied")})
		write(t, src.allocate(t, 19, ""), n)
		w := newWorld(t)
		w.link(t, engine.CopyStagingDir, w.victimDir)
		w.snapshot(t)
		if _, err := runVolumeCopy(t, w.e, src, 18, 0); err == nil {
			t.Error("copied through a linked copying/")
		}
		w.check(t, "VolumeCopy 18")
		if _, ok := w.e.store.Volume(18); ok {
			t.Error("volume 18 mounted")
		}

		os.Remove(filepath.Join(w.data, engine.CopyStagingDir))
		if err := os.Mkdir(filepath.Join(w.data, engine.CopyStagingDir), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"19.dat", "19.idx", "19.vif", "19.replaced.dat"} {
			w.link(t, filepath.Join(engine.CopyStagingDir, name), w.victim)
		}
		w.snapshot(t)
		if _, err := runVolumeCopy(t, w.e, src, 19, 0); err != nil {
			t.Fatal(err)
		}
		w.check(t, "VolumeCopy 19")
		if got, err := readNeedle(t, w.e, 19, n); err != nil || string(got) != "copied" {
			t.Fatalf("copied needle: %q, %v", got, err)
		}
	})

	t.Run("state files", func(t *testing.T) {
		w := newBareWorld(t)
		for _, name := range []string{engine.DirUUIDFile, engine.VidStampFile, engine.ServerStateFile} {
			w.link(t, name, w.victim)
		}
		w.snapshot(t)
		e := newEnvIn(t, w.data)
		w.check(t, "New")
		if id := e.svc.dirUUIDs[0]; len(id) != 36 || strings.Contains(id, "victim") {
			t.Errorf("dir uuid %q", id)
		}
		e.allocate(t, 20, "")
		e.setMaintenance(t, true)
		w.check(t, "AllocateVolume and SetState")
		for _, name := range []string{engine.DirUUIDFile, engine.VidStampFile, engine.ServerStateFile} {
			if st, err := os.Lstat(filepath.Join(w.data, name)); err != nil || !st.Mode().IsRegular() {
				t.Errorf("%s is not a regular file now: %v", name, err)
			}
		}
	})
}
