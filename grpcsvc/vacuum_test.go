package grpcsvc

import (
	"io"
	"strings"
	"testing"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
)

func TestVacuumVolumeCheck(t *testing.T) {
	e := newEnv(t)
	v := e.allocate(t, 38, "")
	check := func() float64 {
		t.Helper()
		resp, err := e.client.VacuumVolumeCheck(ctxT(t), &volume_server_pb.VacuumVolumeCheckRequest{VolumeId: 38})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetGarbageRatio()
	}
	if r := check(); r != 0 {
		t.Fatalf("empty volume: ratio %v", r)
	}
	a := write(t, v, needle.Needle{ID: 1, Cookie: 1, Data: make([]byte, 1000)})
	write(t, v, needle.Needle{ID: 2, Cookie: 2, Data: make([]byte, 1000)})
	if r := check(); r != 0 {
		t.Fatalf("no garbage: ratio %v", r)
	}
	if _, err := v.Delete(a.ID, a.Cookie, engine.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := check(); r < 0.49 || r > 0.51 {
		t.Fatalf("one of two equal needles deleted: ratio %v", r)
	}
	_, err := e.client.VacuumVolumeCheck(ctxT(t), &volume_server_pb.VacuumVolumeCheckRequest{VolumeId: 99})
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "volume id 99 is not found") {
		t.Fatalf("missing volume: %v", err)
	}
}

func TestVacuumCompactCommitCleanup(t *testing.T) {
	e := newEnv(t)
	const vid = 39
	v := e.allocate(t, vid, "")
	var keep []needle.Needle
	for key := uint64(1); key <= 40; key++ {
		n := write(t, v, needle.Needle{ID: key, Cookie: uint32(key), Data: make([]byte, 2000+int(key))})
		if key%4 == 0 {
			keep = append(keep, n)
			continue
		}
		if _, err := v.Delete(n.ID, n.Cookie, engine.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	before, rev := v.Size(), v.SuperBlock().CompactionRevision
	compact := func() error {
		stream, err := e.client.VacuumVolumeCompact(ctxT(t), &volume_server_pb.VacuumVolumeCompactRequest{VolumeId: vid})
		if err != nil {
			return err
		}
		for {
			if _, err := stream.Recv(); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	}
	if err := compact(); err != nil {
		t.Fatal(err)
	}
	// cleanup drops the copy: a commit then has nothing to commit
	if _, err := e.client.VacuumVolumeCleanup(ctxT(t), &volume_server_pb.VacuumVolumeCleanupRequest{VolumeId: vid}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.VacuumVolumeCommit(ctxT(t), &volume_server_pb.VacuumVolumeCommitRequest{VolumeId: vid}); err == nil {
		t.Fatalf("commit after cleanup succeeded")
	}
	if err := compact(); err != nil {
		t.Fatal(err)
	}
	resp, err := e.client.VacuumVolumeCommit(ctxT(t), &volume_server_pb.VacuumVolumeCommitRequest{VolumeId: vid})
	if err != nil {
		t.Fatal(err)
	}
	nv, _ := e.store.Volume(vid)
	if resp.GetVolumeSize() != uint64(nv.Size()) || resp.GetVolumeSize() >= uint64(before)/2 || resp.GetIsReadOnly() {
		t.Fatalf("commit: %v, .dat was %d", resp, before)
	}
	if nv.SuperBlock().CompactionRevision != rev+1 {
		t.Fatalf("revision %d, want %d", nv.SuperBlock().CompactionRevision, rev+1)
	}
	for _, n := range keep {
		var got needle.Needle
		if _, err := nv.Read(&got, n.ID, n.Cookie, nil, engine.ReadOptions{}); err != nil || len(got.Data) != len(n.Data) {
			t.Fatalf("needle %d after vacuum: %v", n.ID, err)
		}
	}
	if r, err := e.client.VacuumVolumeCheck(ctxT(t), &volume_server_pb.VacuumVolumeCheckRequest{VolumeId: vid}); err != nil || r.GetGarbageRatio() != 0 {
		t.Fatalf("garbage after vacuum: %v, %v", r, err)
	}

	stream, err := e.client.VacuumVolumeCompact(ctxT(t), &volume_server_pb.VacuumVolumeCompactRequest{VolumeId: 999})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.NotFound {
		t.Fatalf("compact of a missing volume: %v", err)
	}
}

func TestVacuumStepsRefuseInMaintenance(t *testing.T) {
	e := newEnv(t)
	e.allocate(t, 39, "")
	e.setMaintenance(t, true)
	stream, err := e.client.VacuumVolumeCompact(ctxT(t), &volume_server_pb.VacuumVolumeCompactRequest{VolumeId: 39})
	if err == nil {
		_, err = stream.Recv()
	}
	_, commitErr := e.client.VacuumVolumeCommit(ctxT(t), &volume_server_pb.VacuumVolumeCommitRequest{VolumeId: 39})
	_, cleanupErr := e.client.VacuumVolumeCleanup(ctxT(t), &volume_server_pb.VacuumVolumeCleanupRequest{VolumeId: 39})
	for i, err := range []error{err, commitErr, cleanupErr} {
		if err == nil || !strings.Contains(err.Error(), "maintenance mode") {
			t.Errorf("step %d in maintenance: %v", i, err)
		}
	}
}
