// Package nodestate holds the volume server's node-wide state that both the
// HTTP and the gRPC front ends read and change: whether the node is
// heartbeating to a master, stopping, or has left the cluster, and the
// identity it announces. It sits beneath httpfast and grpcsvc so neither
// imports the other.
package nodestate

import (
	"sync"
	"sync/atomic"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/protobuf/proto"
)

// Version strings as upstream prints them. Upstream's size limit is that
// of its build: "30GB" for the default 4-byte .idx offsets, "8000GB" for
// the 5BytesOffset build; weedvol reports the one of its
// -index.offsetSize.
const (
	VersionNumber = "4.53"
	SizeLimit     = "30GB"
	SizeLimit5    = "8000GB"
	Version       = SizeLimit + " " + VersionNumber
)

// ServerHeader is the Server header of the default build: upstream's
// "SeaweedFS Volume 30GB 4.53", byte for byte, as every reply of upstream's
// carries it (clients and the differential tests compare it). weedvol's
// own version is in /status (WeedvolVersion), the UI and `weedvol version`.
var ServerHeader = serverHeaderFor(Version)

func serverHeaderFor(v string) string {
	return "SeaweedFS Volume " + v
}

// VersionFor is upstream's version string for an .idx offset width.
func VersionFor(offsetSize int) string {
	if offsetSize == 5 {
		return SizeLimit5 + " " + VersionNumber
	}
	return Version
}

// State is shared by the front ends. All methods are safe for concurrent use.
type State struct {
	heartbeating atomic.Bool
	reached      atomic.Bool // a master has answered once (or none is configured)
	stopping     atomic.Bool
	left         atomic.Bool

	mu    sync.Mutex // guards state
	state *volume_server_pb.VolumeServerState

	// version and serverHeader are set once, before the front ends start.
	version      string
	serverHeader []byte
}

// New returns a State with an empty, version-0 server state, reporting the
// version of upstream's default build.
func New() *State {
	return NewFor(4)
}

// NewFor is New for a node whose new volumes use offsetSize-byte .idx
// offsets: it reports the version upstream's build for that width does.
func NewFor(offsetSize int) *State {
	v := VersionFor(offsetSize)
	return &State{state: &volume_server_pb.VolumeServerState{}, version: v, serverHeader: []byte(serverHeaderFor(v))}
}

// Version is upstream's version string this node reports ("30GB 4.53").
func (s *State) Version() string { return s.version }

// ServerHeader is the Server header of every reply. The caller must not
// modify it.
func (s *State) ServerHeader() []byte { return s.serverHeader }

// SetHeartbeating records whether a master stream is established.
func (s *State) SetHeartbeating(on bool) { s.heartbeating.Store(on) }

// IsHeartbeating reports whether a master stream is established.
func (s *State) IsHeartbeating() bool { return s.heartbeating.Load() }

// SetStopping marks the node as shutting down.
func (s *State) SetStopping() { s.stopping.Store(true) }

// IsStopping reports whether the node is shutting down.
func (s *State) IsStopping() bool { return s.stopping.Load() }

// Leave records VolumeServerLeave: the node stops heartbeating for good.
func (s *State) Leave() { s.left.Store(true); s.heartbeating.Store(false) }

// HasLeft reports whether VolumeServerLeave was called.
func (s *State) HasLeft() bool { return s.left.Load() }

// SetMasterReached records that a master has answered (any answer on the
// heartbeat stream), or that there is no master to wait for.
func (s *State) SetMasterReached() { s.reached.Store(true) }

// MasterReached reports whether SetMasterReached was called.
func (s *State) MasterReached() bool { return s.reached.Load() }

// Healthy is what /healthz and /readyz report: a master has been reached
// since start-up, the heartbeat has not been stopped (stop, leave) and the
// node is not stopping. Upstream does not even listen before a master
// answers, and stays healthy while a master it once reached is away.
func (s *State) Healthy() bool {
	return !s.IsStopping() && s.IsHeartbeating() && s.MasterReached()
}

// ServerState returns a copy of the maintenance state.
func (s *State) ServerState() *volume_server_pb.VolumeServerState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return proto.Clone(s.state).(*volume_server_pb.VolumeServerState)
}

// InMaintenance reports whether maintenance mode is on.
func (s *State) InMaintenance() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.GetMaintenance()
}

// UpdateServerState applies fn to the state under the lock; fn returns
// whether to keep its change (the version is then bumped).
func (s *State) UpdateServerState(fn func(st *volume_server_pb.VolumeServerState) bool) *volume_server_pb.VolumeServerState {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := proto.Clone(s.state).(*volume_server_pb.VolumeServerState)
	if fn(next) {
		s.state = next
	}
	return proto.Clone(s.state).(*volume_server_pb.VolumeServerState)
}
