package grpcsvc

import (
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/master_pb"
	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
)

// TestVacuumCommitSlots: with -compactionMaxParallelCommits=1 a commit
// waits while another holds the slot, within its deadline, and runs once
// the slot is free.
func TestVacuumCommitSlots(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxParallelCommits = 1 })
	const vid = 41
	v := e.allocate(t, vid, "")
	for key := uint64(1); key <= 10; key++ {
		n := write(t, v, needle.Needle{ID: key, Cookie: 1, Data: make([]byte, 1000)})
		if key%2 == 0 {
			if _, err := v.Delete(n.ID, n.Cookie, engine.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	stream, err := e.client.VacuumVolumeCompact(ctxT(t), &volume_server_pb.VacuumVolumeCompactRequest{VolumeId: vid})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := stream.Recv(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	release, err := e.svc.commitSlot(context.Background()) // another commit runs
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = e.client.VacuumVolumeCommit(short, &volume_server_pb.VacuumVolumeCommitRequest{VolumeId: vid})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("commit with the slot taken: %v", err)
	}
	if v.SuperBlock().CompactionRevision != 0 {
		t.Fatal("a queued commit ran")
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.client.VacuumVolumeCommit(ctxT(t), &volume_server_pb.VacuumVolumeCommitRequest{VolumeId: vid})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("commit ran while the slot was taken: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if nv, _ := e.store.Volume(vid); nv.SuperBlock().CompactionRevision != 1 {
		t.Fatal("commit did not run after the slot was freed")
	}
}

// TestHeartbeatTagsAndReach: the heartbeat carries each directory's
// -tags, and the node counts as healthy only once a master has answered.
func TestHeartbeatTagsAndReach(t *testing.T) {
	m := startFakeMaster(t, "", 0)
	e := newEnv(t, func(c *Config) {
		c.Masters = []string{m.addr}
		c.Tags = [][]string{{"fast", "ssd"}}
		c.Pulse = 200 * time.Millisecond
	})
	if e.state.Healthy() {
		t.Fatal("healthy before any master answered")
	}
	e.svc.StartHeartbeat(context.Background())
	eventually(t, 10*time.Second, "tags in the heartbeat", func() (bool, string) {
		return m.has(func(hb *master_pb.Heartbeat) bool {
			tags := hb.GetDiskTags()
			return len(tags) == 1 && slices.Equal(tags[0].GetTags(), []string{"fast", "ssd"}) && tags[0].GetMaxVolumeCount() == 8
		}), ""
	})
	eventually(t, 5*time.Second, "healthy once answered", func() (bool, string) { return e.state.Healthy(), "" })
}
