package grpcsvc

import (
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

func TestVacuumStepsRefuseInMaintenanceAndAreNotImplemented(t *testing.T) {
	e := newEnv(t)
	e.allocate(t, 39, "")
	calls := func() []error {
		stream, err := e.client.VacuumVolumeCompact(ctxT(t), &volume_server_pb.VacuumVolumeCompactRequest{VolumeId: 39})
		if err == nil {
			_, err = stream.Recv()
		}
		_, commitErr := e.client.VacuumVolumeCommit(ctxT(t), &volume_server_pb.VacuumVolumeCommitRequest{VolumeId: 39})
		_, cleanupErr := e.client.VacuumVolumeCleanup(ctxT(t), &volume_server_pb.VacuumVolumeCleanupRequest{VolumeId: 39})
		return []error{err, commitErr, cleanupErr}
	}
	for i, err := range calls() {
		if status.Code(err) != codes.Unimplemented {
			t.Errorf("step %d: %v, want Unimplemented", i, err)
		}
	}
	e.setMaintenance(t, true)
	for i, err := range calls() {
		if err == nil || !strings.Contains(err.Error(), "maintenance mode") {
			t.Errorf("step %d in maintenance: %v", i, err)
		}
	}
}
