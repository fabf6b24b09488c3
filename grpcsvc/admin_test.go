package grpcsvc

import (
	"github.com/weedvol/weedvol/guard"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/engine/superblock"
	"github.com/weedvol/weedvol/engine/vif"
)

func wantErr(t *testing.T, err error, code codes.Code, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error %q (%v), got none", substr, code)
	}
	if got := status.Code(err); got != code {
		t.Fatalf("want code %v, got %v: %v", code, got, err)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Fatalf("want error containing %q, got %v", substr, err)
	}
}

func TestVolumeLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	c := e.client
	e.allocate(t, 11, "")

	st, err := c.VolumeStatus(ctx, &volume_server_pb.VolumeStatusRequest{VolumeId: 11})
	if err != nil || st.GetFileCount() != 0 || st.GetIsReadOnly() || st.GetVolumeSize() != superblock.Size {
		t.Fatalf("VolumeStatus of a new volume: %v, %v", st, err)
	}
	_, err = c.AllocateVolume(ctx, &volume_server_pb.AllocateVolumeRequest{VolumeId: 11, Replication: "000"})
	wantErr(t, err, codes.Unknown, "Volume Id 11 already exists!")
	_, err = c.AllocateVolume(ctx, &volume_server_pb.AllocateVolumeRequest{VolumeId: 12, Replication: "0x0"})
	wantErr(t, err, codes.Unknown, "replication")

	for i := 0; i < 2; i++ { // unmount twice: the second is a no-op
		if _, err := c.VolumeUnmount(ctx, &volume_server_pb.VolumeUnmountRequest{VolumeId: 11}); err != nil {
			t.Fatalf("VolumeUnmount #%d: %v", i, err)
		}
	}
	if _, err := c.VolumeUnmount(ctx, &volume_server_pb.VolumeUnmountRequest{VolumeId: 99331}); err != nil {
		t.Fatalf("VolumeUnmount of a missing volume: %v", err)
	}
	_, err = c.VolumeStatus(ctx, &volume_server_pb.VolumeStatusRequest{VolumeId: 11})
	wantErr(t, err, codes.Unknown, "not found volume id 11")
	_, err = c.VolumeMount(ctx, &volume_server_pb.VolumeMountRequest{VolumeId: 99331})
	wantErr(t, err, codes.Unknown, "volume 99331 not found on disk")
	if _, err := c.VolumeMount(ctx, &volume_server_pb.VolumeMountRequest{VolumeId: 11}); err != nil {
		t.Fatalf("VolumeMount: %v", err)
	}
	if _, err := c.VolumeMount(ctx, &volume_server_pb.VolumeMountRequest{VolumeId: 11}); err != nil {
		t.Fatalf("VolumeMount of a mounted volume: %v", err)
	}

	v, _ := e.store.Volume(11)
	write(t, v, needle.Needle{ID: 1, Cookie: 2, Data: []byte("data")})
	_, err = c.VolumeDelete(ctx, &volume_server_pb.VolumeDeleteRequest{VolumeId: 11, OnlyEmpty: true})
	wantErr(t, err, codes.FailedPrecondition, "DeleteVolume 11: volume not empty")
	_, err = c.VolumeDelete(ctx, &volume_server_pb.VolumeDeleteRequest{VolumeId: 11, OnlyGarbage: true})
	wantErr(t, err, codes.FailedPrecondition, "volume not empty")
	if _, err := v.Delete(1, 2, engineWriteOptions()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VolumeDelete(ctx, &volume_server_pb.VolumeDeleteRequest{VolumeId: 11, OnlyGarbage: true}); err != nil {
		t.Fatalf("VolumeDelete only_garbage of an all-deleted volume: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "11.dat")); !os.IsNotExist(err) {
		t.Fatalf("11.dat still there after delete: %v", err)
	}
	_, err = c.VolumeDelete(ctx, &volume_server_pb.VolumeDeleteRequest{VolumeId: 11})
	wantErr(t, err, codes.NotFound, "delete volume 11 not found on disk: volume not found")

	e.allocate(t, 13, "")
	if _, err := c.VolumeDelete(ctx, &volume_server_pb.VolumeDeleteRequest{VolumeId: 13, OnlyEmpty: true}); err != nil {
		t.Fatalf("VolumeDelete only_empty of an empty volume: %v", err)
	}
}

func TestAllocateOptions(t *testing.T) {
	e := newEnv(t)
	_, err := e.client.AllocateVolume(ctxT(t), &volume_server_pb.AllocateVolumeRequest{
		VolumeId: 5, Collection: "pics", Replication: "001", Ttl: "7d", Version: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := e.store.Volume(5)
	sb := v.SuperBlock()
	if v.Collection != "pics" || sb.ReplicaPlacement.String() != "001" || sb.TTL.String() != "1w" || v.Version() != 2 {
		t.Fatalf("volume 5: collection %q placement %s ttl %s version %d", v.Collection, sb.ReplicaPlacement, sb.TTL, v.Version())
	}
	if _, err := os.Stat(filepath.Join(e.dir, "pics_5.dat")); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.AllocateVolume(ctxT(t), &volume_server_pb.AllocateVolumeRequest{VolumeId: 6, DiskType: "ssd"})
	wantErr(t, err, codes.Unknown, "No more free space left")
}

func TestMaintenanceRejections(t *testing.T) {
	e := newEnv(t)
	v := e.allocate(t, 3, "")
	key := write(t, v, needle.Needle{ID: 9, Cookie: 9, Data: []byte("x")})
	e.setMaintenance(t, true)
	ctx := ctxT(t)
	const msg = "volume server 127.0.0.1:18080 is in maintenance mode"
	rejected := map[string]error{}
	_, rejected["AllocateVolume"] = e.client.AllocateVolume(ctx, &volume_server_pb.AllocateVolumeRequest{VolumeId: 4})
	_, rejected["VolumeMarkWritable"] = e.client.VolumeMarkWritable(ctx, &volume_server_pb.VolumeMarkWritableRequest{VolumeId: 3})
	_, rejected["WriteNeedleBlob"] = e.client.WriteNeedleBlob(ctx, &volume_server_pb.WriteNeedleBlobRequest{VolumeId: 3, NeedleId: 2, NeedleBlob: []byte("abc"), Size: 3})
	_, rejected["BatchDelete"] = e.client.BatchDelete(ctx, &volume_server_pb.BatchDeleteRequest{FileIds: []string{fid(3, key.ID, key.Cookie)}})
	_, rejected["VolumeConfigure"] = e.client.VolumeConfigure(ctx, &volume_server_pb.VolumeConfigureRequest{VolumeId: 3, Replication: "001"})
	for name, err := range rejected {
		t.Run(name, func(t *testing.T) { wantErr(t, err, codes.Unknown, msg) })
	}
	// Reads, read-only marks and deletes of whole volumes stay allowed.
	if _, err := e.client.VolumeMarkReadonly(ctx, &volume_server_pb.VolumeMarkReadonlyRequest{VolumeId: 3, Persist: true}); err != nil {
		t.Fatalf("VolumeMarkReadonly in maintenance: %v", err)
	}
	if _, err := e.client.VolumeNeedleStatus(ctx, &volume_server_pb.VolumeNeedleStatusRequest{VolumeId: 3, NeedleId: 9}); err != nil {
		t.Fatalf("VolumeNeedleStatus in maintenance: %v", err)
	}
	if _, err := e.client.VolumeDelete(ctx, &volume_server_pb.VolumeDeleteRequest{VolumeId: 3}); err != nil {
		t.Fatalf("VolumeDelete in maintenance: %v", err)
	}
	e.setMaintenance(t, false)
	if _, err := e.client.AllocateVolume(ctx, &volume_server_pb.AllocateVolumeRequest{VolumeId: 4}); err != nil {
		t.Fatalf("AllocateVolume after maintenance: %v", err)
	}
}

func TestSetState(t *testing.T) {
	dir := t.TempDir()
	e := newEnvIn(t, dir)
	ctx := ctxT(t)
	initial, err := e.client.GetState(ctx, &volume_server_pb.GetStateRequest{})
	if err != nil || initial.GetState() == nil || initial.GetState().GetVersion() != 0 {
		t.Fatalf("GetState: %v, %v", initial, err)
	}
	_, err = e.client.SetState(ctx, &volume_server_pb.SetStateRequest{State: &volume_server_pb.VolumeServerState{Maintenance: true, Version: 1}})
	wantErr(t, err, codes.Unknown, "version mismatch for VolumeServerState (got 0, want 1)")
	nilResp, err := e.client.SetState(ctx, &volume_server_pb.SetStateRequest{})
	if err != nil || nilResp.GetState().GetVersion() != 0 || nilResp.GetState().GetMaintenance() {
		t.Fatalf("SetState(nil): %v, %v", nilResp, err)
	}
	on, err := e.client.SetState(ctx, &volume_server_pb.SetStateRequest{State: &volume_server_pb.VolumeServerState{Maintenance: true, Version: 0}})
	if err != nil || !on.GetState().GetMaintenance() || on.GetState().GetVersion() != 1 {
		t.Fatalf("SetState(maintenance): %v, %v", on, err)
	}
	if !e.state.InMaintenance() {
		t.Fatal("nodestate does not show maintenance")
	}
	// The state survives a restart, as upstream's state.pb.
	e.svc.Close()
	e.store.Close()
	again := newEnvIn(t, dir)
	got, err := again.client.GetState(ctx, &volume_server_pb.GetStateRequest{})
	if err != nil || !got.GetState().GetMaintenance() || got.GetState().GetVersion() != 1 {
		t.Fatalf("GetState after restart: %v, %v", got, err)
	}
}

func TestVolumeConfigure(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	v := e.allocate(t, 22, "col")
	n := write(t, v, needle.Needle{ID: 7, Cookie: 7, Data: []byte("kept")})

	resp, err := e.client.VolumeConfigure(ctx, &volume_server_pb.VolumeConfigureRequest{VolumeId: 22, Replication: "bad-replication"})
	if err != nil || !strings.Contains(resp.GetError(), "replication") {
		t.Fatalf("invalid replication: %v, %v", resp, err)
	}
	resp, err = e.client.VolumeConfigure(ctx, &volume_server_pb.VolumeConfigureRequest{VolumeId: 22, Replication: "010"})
	if err != nil || resp.GetError() != "" {
		t.Fatalf("VolumeConfigure: %v, %v", resp, err)
	}
	v, ok := e.store.Volume(22)
	if !ok || v.SuperBlock().ReplicaPlacement.String() != "010" || v.IsReadOnly() {
		t.Fatalf("after configure: mounted %v placement %v", ok, v.SuperBlock().ReplicaPlacement)
	}
	info, _, err := vif.Load(filepath.Join(e.dir, "col_22.vif"))
	if err != nil || info.GetReplication() != "010" {
		t.Fatalf(".vif replication %q: %v", info.GetReplication(), err)
	}
	var got needle.Needle
	if _, err := v.Read(&got, n.ID, n.Cookie, nil, engineReadOptions()); err != nil || string(got.Data) != "kept" {
		t.Fatalf("needle after configure: %q, %v", got.Data, err)
	}

	resp, err = e.client.VolumeConfigure(ctx, &volume_server_pb.VolumeConfigureRequest{VolumeId: 99024, Replication: "000"})
	if err != nil {
		t.Fatal(err)
	}
	if msg := resp.GetError(); !strings.Contains(msg, "not found on disk") || !strings.Contains(msg, "failed to restore mount") {
		t.Fatalf("missing volume: %q", msg)
	}
}

func TestMarkReadonlyWritable(t *testing.T) {
	dir := t.TempDir()
	e := newEnvIn(t, dir)
	ctx := ctxT(t)
	e.allocate(t, 72, "")
	e.allocate(t, 74, "")
	_, err := e.client.VolumeMarkReadonly(ctx, &volume_server_pb.VolumeMarkReadonlyRequest{VolumeId: 98771})
	wantErr(t, err, codes.Unknown, "volume 98771 not found")
	_, err = e.client.VolumeMarkWritable(ctx, &volume_server_pb.VolumeMarkWritableRequest{VolumeId: 98772})
	wantErr(t, err, codes.Unknown, "volume 98772 not found")

	for _, tc := range []struct {
		id      uint32
		persist bool
	}{{72, false}, {74, true}} {
		if _, err := e.client.VolumeMarkReadonly(ctx, &volume_server_pb.VolumeMarkReadonlyRequest{VolumeId: tc.id, Persist: tc.persist}); err != nil {
			t.Fatal(err)
		}
		st, err := e.client.VolumeStatus(ctx, &volume_server_pb.VolumeStatusRequest{VolumeId: tc.id})
		if err != nil || !st.GetIsReadOnly() {
			t.Fatalf("volume %d after mark readonly: %v, %v", tc.id, st, err)
		}
	}
	v, _ := e.store.Volume(72)
	if _, err := v.Write(&needle.Needle{ID: 1, Cookie: 1, Data: []byte("x")}, engineWriteOptions()); err == nil {
		t.Fatal("write to a read-only volume succeeded")
	}
	if _, err := e.client.VolumeMarkWritable(ctx, &volume_server_pb.VolumeMarkWritableRequest{VolumeId: 72}); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.client.VolumeStatus(ctx, &volume_server_pb.VolumeStatusRequest{VolumeId: 72}); st.GetIsReadOnly() {
		t.Fatal("volume 72 still read-only after VolumeMarkWritable")
	}
	// Only the persisted mark survives a restart.
	e.svc.Close()
	e.store.Close()
	again := newEnvIn(t, dir)
	for id, want := range map[uint32]bool{72: false, 74: true} {
		st, err := again.client.VolumeStatus(ctx, &volume_server_pb.VolumeStatusRequest{VolumeId: id})
		if err != nil || st.GetIsReadOnly() != want {
			t.Fatalf("volume %d read-only after restart = %v, want %v (%v)", id, st.GetIsReadOnly(), want, err)
		}
	}
}

// TestMarkReadonlyCanDelete: VolumeMarkReadonly with can_delete refuses
// writes and takes deletes, reports read_only and read_only_can_delete in
// both heartbeat messages, persists both in the .vif, and survives a
// restart; VolumeMarkWritable lifts it.
func TestMarkReadonlyCanDelete(t *testing.T) {
	dir := t.TempDir()
	e := newEnvIn(t, dir)
	ctx := ctxT(t)
	e.allocate(t, 77, "")
	v, _ := e.store.Volume(77)
	for _, k := range []uint64{1, 2} {
		if _, err := v.Write(&needle.Needle{ID: k, Cookie: 7, Data: []byte("kept")}, engineWriteOptions()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.client.VolumeMarkReadonly(ctx, &volume_server_pb.VolumeMarkReadonlyRequest{VolumeId: 77, Persist: true, CanDelete: true}); err != nil {
		t.Fatal(err)
	}
	check := func(e *env, v *engine.Volume, key uint64) {
		t.Helper()
		st, err := e.client.VolumeStatus(ctx, &volume_server_pb.VolumeStatusRequest{VolumeId: 77})
		if err != nil || !st.GetIsReadOnly() {
			t.Fatalf("status: %v, %v", st, err)
		}
		full, _ := e.svc.volumeInfo(v)
		short := e.svc.shortInfo(v)
		if !full.GetReadOnly() || !full.GetReadOnlyCanDelete() || !short.GetReadOnly() || !short.GetReadOnlyCanDelete() {
			t.Fatalf("heartbeat: %v / %v", full, short)
		}
		if _, err := v.Write(&needle.Needle{ID: 9, Cookie: 7, Data: []byte("x")}, engineWriteOptions()); err == nil {
			t.Fatal("write to a read-only (can delete) volume succeeded")
		}
		resp, err := e.client.BatchDelete(ctx, &volume_server_pb.BatchDeleteRequest{FileIds: []string{fid(77, key, 7)}})
		if err != nil || len(resp.GetResults()) != 1 || resp.GetResults()[0].GetStatus() != 202 {
			t.Fatalf("delete of %d: %v, %v", key, resp, err)
		}
	}
	check(e, v, 1)
	e.svc.Close()
	e.store.Close()
	again := newEnvIn(t, dir)
	v, _ = again.store.Volume(77)
	check(again, v, 2)
	if _, err := again.client.VolumeMarkWritable(ctx, &volume_server_pb.VolumeMarkWritableRequest{VolumeId: 77}); err != nil {
		t.Fatal(err)
	}
	if full, _ := again.svc.volumeInfo(v); full.GetReadOnly() || full.GetReadOnlyCanDelete() {
		t.Fatalf("after VolumeMarkWritable: %v", full)
	}
	if _, err := v.Write(&needle.Needle{ID: 9, Cookie: 7, Data: []byte("x")}, engineWriteOptions()); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteCollection(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	e.allocate(t, 73, "it")
	e.allocate(t, 75, "it")
	e.allocate(t, 76, "other")
	for i := 0; i < 2; i++ {
		if _, err := e.client.DeleteCollection(ctx, &volume_server_pb.DeleteCollectionRequest{Collection: "it"}); err != nil {
			t.Fatalf("DeleteCollection #%d: %v", i, err)
		}
	}
	_, err := e.client.VolumeStatus(ctx, &volume_server_pb.VolumeStatusRequest{VolumeId: 73})
	wantErr(t, err, codes.Unknown, "not found volume")
	if _, ok := e.store.Volume(76); !ok {
		t.Fatal("volume of another collection was deleted")
	}
	if _, err := os.Stat(filepath.Join(e.dir, "it_75.dat")); !os.IsNotExist(err) {
		t.Fatalf("it_75.dat survived: %v", err)
	}
}

func TestServerStatusPingLeave(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Masters = []string{"127.0.0.1:9333"}; c.DataCenter = "dc1"; c.Rack = "r1" })
	ctx := ctxT(t)
	st, err := e.client.VolumeServerStatus(ctx, &volume_server_pb.VolumeServerStatusRequest{})
	if err != nil || st.GetVersion() == "" || len(st.GetDiskStatuses()) != 1 || st.GetState() == nil ||
		st.GetMemoryStatus().GetGoroutines() <= 0 || st.GetDataCenter() != "dc1" || st.GetRack() != "r1" {
		t.Fatalf("VolumeServerStatus: %v, %v", st, err)
	}
	if d := st.GetDiskStatuses()[0]; d.GetAll() == 0 || !filepath.IsAbs(d.GetDir()) {
		t.Fatalf("disk status %v", d)
	}

	self, err := e.client.Ping(ctx, &volume_server_pb.PingRequest{})
	if err != nil || self.GetRemoteTimeNs() != 0 || self.GetStopTimeNs() < self.GetStartTimeNs() || self.GetStartTimeNs() == 0 {
		t.Fatalf("self ping: %v, %v", self, err)
	}
	for _, tc := range []struct{ typ, target string }{
		{"unknown-type", "127.0.0.1:12345"},
		{"master", "127.0.0.1:1"},
		{"filer", "127.0.0.1:1"},
		{"volumeServer", e.addr},
	} {
		_, err := e.client.Ping(ctx, &volume_server_pb.PingRequest{TargetType: tc.typ, Target: tc.target})
		wantErr(t, err, codes.InvalidArgument, "unknown ping target "+tc.target+" of type "+tc.typ)
	}
	// A seed master that is down: admitted, then the dial fails.
	_, err = e.client.Ping(ctx, &volume_server_pb.PingRequest{TargetType: "master", Target: "127.0.0.1:9333.1"})
	wantErr(t, err, codes.Unknown, "ping master 127.0.0.1:9333.1")

	e.state.SetMasterReached() // as if the seed master had answered once
	if !e.state.Healthy() {
		t.Fatal("not healthy before leave")
	}
	for i := 0; i < 2; i++ {
		if _, err := e.client.VolumeServerLeave(ctx, &volume_server_pb.VolumeServerLeaveRequest{}); err != nil {
			t.Fatalf("VolumeServerLeave #%d: %v", i, err)
		}
	}
	if e.state.Healthy() || !e.state.HasLeft() {
		t.Fatal("still healthy after leave")
	}
}

func TestWhiteList(t *testing.T) {
	deny, _ := guard.New([]string{"10.0.0.0/8"})
	e := newEnv(t, func(c *Config) { c.WhiteList = deny })
	_, err := e.client.AllocateVolume(ctxT(t), &volume_server_pb.AllocateVolumeRequest{VolumeId: 1})
	wantErr(t, err, codes.PermissionDenied, "not authorized: 127.0.0.1")
	if _, err := e.client.VolumeStatus(ctxT(t), &volume_server_pb.VolumeStatusRequest{VolumeId: 1}); status.Code(err) == codes.PermissionDenied {
		t.Fatal("VolumeStatus is not an admin RPC")
	}
	allow, _ := guard.New([]string{"127.0.0.0/30"}) // a CIDR lets the writer in
	open := newEnv(t, func(c *Config) { c.WhiteList = allow })
	open.allocate(t, 1, "")
}
