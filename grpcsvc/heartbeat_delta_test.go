package grpcsvc

import (
	"context"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/master_pb"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/iouring"
)

// failingSyncs is an I/O engine whose files' Sync fails while fail is set.
type failingSyncs struct {
	iouring.Engine
	fail atomic.Bool
}

func (e *failingSyncs) Open(f *os.File) (iouring.File, error) {
	inner, err := e.Engine.Open(f)
	if err != nil {
		return nil, err
	}
	return &failingSyncFile{File: inner, e: e}, nil
}

type failingSyncFile struct {
	iouring.File
	e *failingSyncs
}

func (f *failingSyncFile) Sync() error {
	if f.e.fail.Load() {
		return syscall.EIO
	}
	return f.File.Sync()
}

// TestHeartbeatSendsOnlyChanges: pulses at which no volume changed carry
// no volume list (the master keeps the one it has); a write, and a volume
// that turned read-only after a failed fsync, go out in the next pulse's
// full list.
func TestHeartbeatSendsOnlyChanges(t *testing.T) {
	io := &failingSyncs{Engine: iouring.NewSync()}
	harnessIO = io
	t.Cleanup(func() { harnessIO = nil })
	m := startFakeMaster(t, "", 0)
	e := newEnv(t, func(c *Config) {
		c.Masters = []string{m.addr}
		c.Pulse = 100 * time.Millisecond
	})
	v := e.allocate(t, 5, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.svc.StartHeartbeat(ctx)

	full := func(pred func(*master_pb.VolumeInformationMessage) bool) int {
		n := 0
		for _, hb := range m.received() {
			if len(hb.GetVolumes()) == 1 && pred(hb.GetVolumes()[0]) {
				n++
			}
		}
		return n
	}
	light := func() int {
		n := 0
		for _, hb := range m.received() {
			if len(hb.GetVolumes()) == 0 && !hb.GetHasNoVolumes() && hb.GetIp() == "127.0.0.1" && hb.GetMaxVolumeCounts()[""] == 8 &&
				len(hb.GetNewVolumes()) == 0 && len(hb.GetDeletedVolumes()) == 0 && hb.GetState() != nil {
				n++
			}
		}
		return n
	}
	any := func(*master_pb.VolumeInformationMessage) bool { return true }
	eventually(t, 10*time.Second, "first full heartbeat and five light ones", func() (bool, string) {
		return full(any) >= 1 && light() >= 5, ""
	})
	if n := full(any); n != 1 {
		t.Fatalf("%d full heartbeats while nothing changed, want 1", n)
	}

	write(t, v, needle.Needle{ID: 1, Cookie: 2, Data: []byte("changes the size")})
	size := uint64(v.Size())
	eventually(t, 5*time.Second, "the new size in a full heartbeat", func() (bool, string) {
		return full(func(m *master_pb.VolumeInformationMessage) bool { return m.GetSize() == size && !m.GetReadOnly() }) == 1, ""
	})

	io.fail.Store(true)
	n := needle.Needle{ID: 3, Cookie: 4, Data: []byte("not durable")}
	if _, err := v.Write(&n, engine.WriteOptions{Fsync: true}); err == nil {
		t.Fatal("write with a failing fsync succeeded")
	}
	io.fail.Store(false)
	eventually(t, 5*time.Second, "read-only in a full heartbeat", func() (bool, string) {
		return full(func(m *master_pb.VolumeInformationMessage) bool { return m.GetReadOnly() }) >= 1, ""
	})
}
