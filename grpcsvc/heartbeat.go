package grpcsvc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/master_pb"
	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"github.com/weedvol/weedvol/wlog"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// errDuplicateDirs is the master's report that this server's data
// directories (their UUIDs) are another server's too.
var errDuplicateDirs = errors.New("volume directories shared with another server")

// maxDuplicateRetries is how many such reports upstream sits out before
// it exits.
const maxDuplicateRetries = 3

// leaderSettle is how long upstream waits before dialing a master another
// master named as leader: the named one may still be taking office.
const leaderSettle = 3 * time.Second

// maxPending bounds the changes queued while no stream is up; beyond it
// they are dropped, since the full heartbeat on connect covers them.
const maxPending = 4096

// change is one incremental report queued for the stream.
type change struct {
	added, deleted     *master_pb.VolumeShortInformationMessage
	ecAdded, ecDeleted *master_pb.VolumeEcShardInformationMessage
	state              *volume_server_pb.VolumeServerState
}

// heartbeater owns the SendHeartbeat stream. Only its run goroutine sends
// on a stream; the stream's receiver only records what the master says.
type heartbeater struct {
	svc    *Service
	pulse  time.Duration
	settle time.Duration // wait before dialing a named leader

	mu      sync.Mutex // guards pending, current, started
	pending []change
	current string // the leader master, "" when unknown
	started bool

	kick   chan struct{} // cap 1: pending has entries
	resend chan struct{} // cap 1: the master asked for the full list
	stop   chan struct{} // closed by stopAndWait
	once   sync.Once
	done   chan struct{} // closed when run returns

	connected       atomic.Bool
	volumeSizeLimit atomic.Uint64
	backendErr      atomic.Value // string: the last storage-backends error logged
	refreshing      atomic.Bool  // a refreshSupers run is under way
}

func newHeartbeater(s *Service) *heartbeater {
	return &heartbeater{
		svc: s, pulse: s.cfg.Pulse, settle: leaderSettle,
		kick: make(chan struct{}, 1), resend: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
}

func (h *heartbeater) start(ctx context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started || h.stopped() {
		return
	}
	h.started = true
	go h.run(ctx)
}

func (h *heartbeater) stopped() bool {
	select {
	case <-h.stop:
		return true
	default:
		return false
	}
}

// stopAndWait stops the loop and waits up to timeout for its goodbye
// heartbeat. It reports whether the loop had been stopped before.
func (h *heartbeater) stopAndWait(timeout time.Duration) (already bool) {
	already = true
	h.once.Do(func() {
		already = false
		close(h.stop)
	})
	h.mu.Lock()
	started := h.started
	h.mu.Unlock()
	if started {
		select {
		case <-h.done:
		case <-time.After(timeout):
		}
	}
	return already
}

func (h *heartbeater) currentMaster() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.current
}

func (h *heartbeater) setCurrent(m string) {
	h.mu.Lock()
	h.current = m
	h.mu.Unlock()
}

// queue adds a change for the next delta heartbeat.
func (h *heartbeater) queue(c change) {
	h.mu.Lock()
	if len(h.pending) >= maxPending {
		h.pending = h.pending[:0]
	}
	h.pending = append(h.pending, c)
	h.mu.Unlock()
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

func (h *heartbeater) takePending() []change {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.pending
	h.pending = nil
	return p
}

func (h *heartbeater) notifyState(st *volume_server_pb.VolumeServerState) {
	h.queue(change{state: st})
}

// run dials the seed masters in turn, or the leader one of them named,
// until stopped.
func (h *heartbeater) run(ctx context.Context) {
	defer close(h.done)
	seeds := h.svc.cfg.Masters
	if len(seeds) == 0 {
		wlog.Warningf("Volume server has no master nodes to heartbeat to; heartbeats disabled")
		return
	}
	wlog.Infof("Volume server start with seed master nodes: %v", seeds)
	next, hint := 0, ""
	backoff := time.Second
	dups := 0 // consecutive reports of our directories as another server's
	for !h.stopped() && ctx.Err() == nil {
		target := hint
		if target == "" {
			target = seeds[next%len(seeds)]
			next++
		}
		hint = ""
		leader, registered, err := h.session(ctx, target)
		if h.stopped() || ctx.Err() != nil {
			return
		}
		// upstream counts every heartbeat stream that ends, by the
		// master it went to
		h.svc.m.MasterDisconnected(target)
		if errors.Is(err, errDuplicateDirs) {
			// upstream retries three times, 2 s, 4 s and 8 s apart (the
			// report may be a reconnection race), then shuts down
			if dups++; dups > maxDuplicateRetries && h.svc.cfg.Fatal != nil {
				h.svc.cfg.Fatal(fmt.Errorf("%w, %d retries later; is another volume server using the same directory?", err, maxDuplicateRetries))
				return
			}
			wlog.Warningf("heartbeat to %s: %v (retry %d/%d)", target, err, min(dups, maxDuplicateRetries), maxDuplicateRetries)
			h.sleep(ctx, time.Duration(1<<(dups-1))*2*time.Second)
			continue
		}
		dups = 0
		if registered {
			backoff = time.Second
		}
		if leader != "" {
			wlog.Infof("Volume Server found a new master newLeader: %v instead of %v", leader, target)
			hint = leader
			h.sleep(ctx, h.settle)
			continue
		}
		wlog.Infof("heartbeat to %s error: %v", target, err)
		if registered {
			// Lookups stop going to a master that just dropped us.
			h.setCurrent("")
		}
		h.sleep(ctx, backoff)
		backoff = min(2*backoff, h.pulse)
	}
}

func (h *heartbeater) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-h.stop:
	case <-ctx.Done():
	}
}

// recvEvent ends a session: a leader named by a follower, or an error.
type recvEvent struct {
	leader string
	err    error
}

// session runs one heartbeat stream to target. It returns the leader when
// target is a follower naming another master, whether target accepted the
// stream, and the error that ended it.
func (h *heartbeater) session(ctx context.Context, target string) (leader string, registered bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conn, err := dialMaster(target, h.svc.cfg.ClientTLS)
	if err != nil {
		return "", false, err
	}
	defer conn.Close()
	stream, err := master_pb.NewSeaweedClient(conn).SendHeartbeat(sctx)
	if err != nil {
		return "", false, err
	}
	wlog.Infof("Heartbeat to: %v", target)
	// Upstream's master announces storage backends in
	// GetMasterConfiguration (its volume server asks once, at start); ask
	// on every new stream, so a restarted master's new backends arrive.
	go h.fetchBackends(sctx, master_pb.NewSeaweedClient(conn), target)

	var reg atomic.Bool
	events := make(chan recvEvent, 1)
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		events <- h.receive(stream, target, &reg)
	}()
	defer func() {
		cancel()
		<-recvDone
		if reg.Load() {
			h.connected.Store(false)
		}
	}()

	// A master may know nothing of this server: start with everything, which
	// also covers any change queued before now.
	h.takePending()
	first := h.svc.fullHeartbeat()
	if err := stream.Send(first); err != nil {
		return "", reg.Load(), err
	}
	sent := first.GetVolumes() // the volume list the master holds from us
	sentEc := first.GetEcShards()
	sinceFull := 0
	if err := stream.Send(h.svc.ecHeartbeat()); err != nil {
		return "", reg.Load(), err
	}
	tick := time.NewTicker(h.pulse)
	defer tick.Stop()
	for {
		select {
		case <-h.kick:
			for _, beat := range h.svc.deltaHeartbeats(h.takePending()) {
				if err := stream.Send(beat); err != nil {
					return "", reg.Load(), err
				}
			}
		case <-h.resend:
			hb := h.svc.fullHeartbeat()
			if err := stream.Send(hb); err != nil {
				return "", reg.Load(), err
			}
			sent, sentEc, sinceFull = hb.GetVolumes(), hb.GetEcShards(), 0
		case <-tick.C:
			h.svc.store.AdjustAutoMax(h.volumeSizeLimit.Load())
			hb := h.svc.fullHeartbeat()
			sinceFull++
			if sinceFull < fullEvery && sameVolumes(sent, hb.GetVolumes()) && sameEcShards(sentEc, hb.GetEcShards()) {
				hb = lightHeartbeat(hb)
			} else {
				sent, sentEc, sinceFull = hb.GetVolumes(), hb.GetEcShards(), 0
			}
			if err := stream.Send(hb); err != nil {
				return "", reg.Load(), err
			}
		case ev := <-events:
			if ev.err == nil && ev.leader == "" {
				ev.err = errors.New("heartbeat stream closed by master")
			}
			return ev.leader, reg.Load(), ev.err
		case <-h.stop:
			h.goodbye(stream, events)
			return "", reg.Load(), nil
		case <-ctx.Done():
			return "", reg.Load(), ctx.Err()
		}
	}
}

// receive handles the master's replies until the stream ends or a follower
// names the leader.
func (h *heartbeater) receive(stream master_pb.Seaweed_SendHeartbeatClient, target string, reg *atomic.Bool) recvEvent {
	for {
		resp, err := stream.Recv()
		if err != nil {
			return recvEvent{err: err}
		}
		// The limit is stored before the node counts as connected, so
		// whoever sees it connected sees the limit too.
		if v := resp.GetVolumeSizeLimit(); v != 0 && h.volumeSizeLimit.Swap(v) != v {
			// -max=0 directories are sized from the limit, as upstream
			if h.svc.store.AdjustAutoMax(v) {
				select {
				case h.resend <- struct{}{}:
				default:
				}
			}
		}
		h.svc.state.SetMasterReached()
		// Only a follower names the leader; the leader answers every new
		// stream without naming one.
		if l := resp.GetLeader(); l != "" {
			if !sameServer(l, target) {
				h.setCurrent(l)
				return recvEvent{leader: l}
			}
		} else if !reg.Load() {
			reg.Store(true)
			h.setCurrent(target)
			h.connected.Store(true)
		}
		if len(resp.GetDuplicatedUuids()) > 0 {
			return recvEvent{err: fmt.Errorf("master %s reports %w: %v", target, errDuplicateDirs, h.svc.duplicateDirs(resp.GetDuplicatedUuids()))}
		}
		if sb := resp.GetStorageBackends(); len(sb) > 0 {
			h.updateBackends(sb)
		}
		h.svc.stamp.raise(resp.GetMaxVolumeId())
		h.svc.stamp.setTopology(resp.GetTopologyId())
		if resp.GetResendFullVolumeList() {
			select {
			case h.resend <- struct{}{}:
			default:
			}
		}
	}
}

// fetchBackends asks master for its configuration and applies its storage
// backends. A failure is logged; the next stream asks again.
func (h *heartbeater) fetchBackends(ctx context.Context, c master_pb.SeaweedClient, master string) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := c.GetMasterConfiguration(cctx, &master_pb.GetMasterConfigurationRequest{})
	if err != nil {
		if ctx.Err() == nil {
			h.svc.logf("get master %s configuration: %v", master, err)
		}
		return
	}
	h.updateBackends(resp.GetStorageBackends())
}

// updateBackends applies the master's storage backends, as upstream's
// LoadFromPbStorageBackends, from every GetMasterConfiguration and every
// HeartbeatResponse that carries them. A bad
// entry is logged when its error first appears, not on every heartbeat.
func (h *heartbeater) updateBackends(list []*master_pb.StorageBackend) {
	err := h.svc.backends.Update(list)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if old, _ := h.backendErr.Swap(msg).(string); msg != "" && msg != old {
		wlog.Warningf("storage backends from master: %v", err)
	}
	if err == nil {
		h.refreshSupers()
	}
}

// refreshSupers has the store read the super blocks of tiered volumes
// that opened before their backend was known
// (engine.Store.RefreshRemoteSupers), in the background so that the
// heartbeat never waits on a remote read; one run at a time. The next
// full heartbeat carries the TTL and compaction revision they give.
func (h *heartbeater) refreshSupers() {
	if !h.refreshing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer h.refreshing.Store(false)
		if n := h.svc.store.RefreshRemoteSupers(); n > 0 {
			h.svc.logf("super blocks of %d tiered volumes read from their remote copies", n)
		}
	}()
}

// goodbye sends upstream's last heartbeat, one with no volumes, so the
// master stops sending traffic here, then half-closes the stream and gives
// the master a moment to apply it.
func (h *heartbeater) goodbye(stream master_pb.Seaweed_SendHeartbeatClient, events chan recvEvent) {
	s := h.svc
	beat := &master_pb.Heartbeat{
		Ip: s.cfg.IP, Port: uint32(s.cfg.Port), PublicUrl: s.cfg.PublicURL,
		DataCenter: s.cfg.DataCenter, Rack: s.cfg.Rack, HasNoVolumes: true,
	}
	wlog.V(1).Infof("volume server %s:%d stops and deletes all volumes", s.cfg.IP, s.cfg.Port) // upstream: V(1)
	if err := stream.Send(beat); err != nil {
		wlog.Infof("volume server failed to update to master: %v", err)
		return
	}
	if stream.CloseSend() != nil {
		return
	}
	select {
	case ev := <-events:
		// Upstream masters end the stream by returning the EOF they read.
		if ev.err != nil && !errors.Is(ev.err, io.EOF) && status.Convert(ev.err).Message() != "EOF" {
			wlog.Infof("heartbeat closed: %v", ev.err)
		}
	case <-time.After(2 * time.Second):
	}
}

// fullEvery is how many pulses may pass with light heartbeats (the volume
// list unchanged) before the whole list is sent again anyway.
const fullEvery = 60

// sameVolumes reports whether two volume lists, both sorted by id (as
// fullHeartbeat builds them), tell the master the same.
func sameVolumes(a, b []*master_pb.VolumeInformationMessage) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// lightHeartbeat is hb without its volume and EC shard lists, for a pulse
// at which neither changed: the master keeps the lists it has (it syncs
// each only from a heartbeat that lists some or says it has none) and
// still hears the disk counts, state and volume id bound.
func lightHeartbeat(hb *master_pb.Heartbeat) *master_pb.Heartbeat {
	hb.Volumes, hb.HasNoVolumes = nil, false
	hb.EcShards, hb.HasNoEcShards = nil, false
	return hb
}
