package grpcsvc

import (
	"context"
	"crypto/tls"
	"fmt"
	"github.com/weedvol/weedvol/guard"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/metrics"
	"github.com/weedvol/weedvol/nodestate"
	"github.com/weedvol/weedvol/remote"
	"github.com/weedvol/weedvol/wlog"
)

// DefaultPulse is the heartbeat period upstream volume servers use.
const DefaultPulse = 5 * time.Second

// Config wires a Service to the store, the shared node state and the
// cluster.
type Config struct {
	Store *engine.Store
	State *nodestate.State

	// IP and Port are the HTTP address announced to the master; GrpcPort
	// is where this service listens (Port+10000 when 0).
	IP        string
	Port      int
	GrpcPort  int
	PublicURL string // IP:Port when empty

	DataCenter, Rack string
	// Masters are seed masters as "host:port" (HTTP port; gRPC on
	// port+10000) or "host:port.grpcPort".
	Masters []string
	// ID is the server id announced to the master; IP:Port when empty.
	ID string

	// WhiteList limits the admin RPCs to its IPs and CIDR ranges, as
	// upstream's guard does (-whiteList with security.toml's
	// guard.white_list); nil or empty allows everyone. The same list
	// guards HTTP writes.
	WhiteList *guard.WhiteList
	// ClientTLS, when set, is the mutual TLS of every call this server
	// makes: heartbeat, master lookups, peers (tlsconf.Set.GRPCClient).
	ClientTLS *tls.Config
	// PeerHTTPTLS, when set, is the TLS of HTTP uploads to peer volume
	// servers (FetchAndWriteNeedle's replicas, then over https); nil is
	// plain http.
	PeerHTTPTLS *tls.Config
	// Pulse is the heartbeat period; DefaultPulse when 0.
	Pulse time.Duration
	// MaintenanceBytesPerSecond limits volume copies that do not set their
	// own rate (-maintenanceMBps); 0 is unlimited.
	MaintenanceBytesPerSecond int64
	// CompactionBytesPerSecond limits vacuum's scan (-compactionMBps); 0 is
	// unlimited.
	CompactionBytesPerSecond int64
	// AllowUntrustedRemoteEndpoints lifts the refusal of peer addresses
	// that lead to loopback, link-local or instance-metadata addresses
	// (VolumeCopy's and VolumeTailReceiver's sources), as upstream's
	// -volume.allowUntrustedRemoteEndpoints; false refuses (see netguard).
	AllowUntrustedRemoteEndpoints bool
	// MaxParallelCommits limits how many vacuum commits run at once
	// (-compactionMaxParallelCommits); a queued commit holds no volume
	// lock. 0 is unlimited.
	MaxParallelCommits int
	// Tags are each data directory's tags (-tags), in Store.Locations'
	// order, reported in the heartbeat's disk tags.
	Tags [][]string
	// Fatal is told, once, of a master's refusal the server cannot serve
	// through: upstream exits when the master keeps reporting its data
	// directories as another server's. nil: the heartbeat keeps retrying.
	Fatal func(error)

	Logf func(format string, args ...any)
	// Metrics receives upstream's vacuum, scrub, EC rebuild and master
	// disconnection metrics; nil means metrics.Discard.
	Metrics *metrics.Metrics
}

// Service implements volume_server_pb.VolumeServerServer over an engine
// Store and runs the heartbeat to the master.
type Service struct {
	volume_server_pb.UnimplementedVolumeServerServer

	cfg   Config
	store *engine.Store
	state *nodestate.State
	logf  func(string, ...any)
	guard *guard.WhiteList
	m     *metrics.Metrics // cfg.Metrics, never nil

	// dirUUIDs are the location directories' vol_dir.uuid, by disk id.
	dirUUIDs []string
	stamp    *vidStamp
	states   *statePersister
	masters  *masterConns
	hb       *heartbeater
	// backends are the tier backends the master announces in every
	// HeartbeatResponse (storage_backends), updated by the heartbeat loop.
	backends *remote.Backends

	// copying holds the ids of volumes a VolumeCopy is bringing in, so two
	// copies of one volume never share staging files.
	copying sync.Map // uint32 -> struct{}
	// commitSlots holds one token per running vacuum commit when
	// MaxParallelCommits limits them; nil otherwise.
	commitSlots chan struct{}
}

// Backends are the storage backends ("s3.default", ...) the master has
// announced; never nil.
func (s *Service) Backends() *remote.Backends { return s.backends }

// New creates the service. It reads (or creates) the per-directory uuid
// and volume-id stamp files and loads the persisted maintenance state into
// cfg.State. Nothing listens or dials until Register and StartHeartbeat.
func New(cfg Config) *Service {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.State == nil {
		cfg.State = nodestate.New()
	}
	if cfg.GrpcPort == 0 && cfg.Port != 0 {
		cfg.GrpcPort = cfg.Port + grpcPortOffset
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.Port))
	}
	if strings.TrimSpace(cfg.ID) == "" {
		cfg.ID = net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.Port))
	}
	if cfg.Pulse <= 0 {
		cfg.Pulse = DefaultPulse
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.Discard
	}
	s := &Service{cfg: cfg, store: cfg.Store, state: cfg.State, logf: cfg.Logf, guard: cfg.WhiteList, m: cfg.Metrics}
	var dirs []string
	for _, l := range s.store.Locations() {
		dirs = append(dirs, l.Dir)
		id, err := engine.DirUUID(l.Dir)
		if err != nil {
			wlog.Warningf("volume directory %s: %v", l.Dir, err)
		}
		s.dirUUIDs = append(s.dirUUIDs, id)
	}
	var maxID uint32
	for _, v := range s.store.Volumes() {
		maxID = max(maxID, v.ID)
	}
	s.stamp = loadVidStamp(dirs, maxID, wlog.Warningf)
	if locs := s.store.Locations(); len(locs) > 0 {
		s.states = &statePersister{dir: locs[0].IdxDir}
		if err := s.states.load(s.state); err != nil {
			wlog.Warningf("%v", err)
		}
	}
	if cfg.MaxParallelCommits > 0 {
		s.commitSlots = make(chan struct{}, cfg.MaxParallelCommits)
	}
	s.masters = newMasterConns(cfg.ClientTLS)
	s.backends = remote.NewBackends()
	// volumes whose .dat is on a remote tier read through the backends the
	// master announces (tier_backends.go)
	s.store.Tiers().Set(s.tierBackend)
	s.hb = newHeartbeater(s)
	if !s.state.HasLeft() {
		// Upstream reports healthy, once a master has answered, until the
		// heartbeat is stopped, whether or not the master stays reachable.
		s.state.SetHeartbeating(true)
	}
	if len(cfg.Masters) == 0 {
		s.state.SetMasterReached() // nothing to wait for
	}
	return s
}

// Register adds the VolumeServer service to gs.
func (s *Service) Register(gs *grpc.Server) { volume_server_pb.RegisterVolumeServerServer(gs, s) }

// StartHeartbeat starts the master client; it runs until ctx ends or
// StopHeartbeat. Without masters it does nothing.
func (s *Service) StartHeartbeat(ctx context.Context) {
	if s.state.HasLeft() {
		return
	}
	s.hb.start(ctx)
}

// StopHeartbeat sends the master a last heartbeat with no volumes, closes
// the stream and marks the node as no longer heartbeating. It reports
// whether the heartbeat was already stopped.
func (s *Service) StopHeartbeat() (alreadyStopped bool) {
	s.state.SetHeartbeating(false)
	return s.hb.stopAndWait(5 * time.Second)
}

// Close stops the heartbeat and closes cached master connections.
func (s *Service) Close() error {
	s.StopHeartbeat()
	return s.masters.close()
}

// Connected reports whether a leader master accepted the heartbeat stream.
func (s *Service) Connected() bool { return s.hb.connected.Load() }

// CurrentMaster is the leader master last seen on the heartbeat stream, ""
// when none.
func (s *Service) CurrentMaster() string { return s.hb.currentMaster() }

// VolumeSizeLimit is the master's volume size limit in bytes, 0 until the
// master has told it.
func (s *Service) VolumeSizeLimit() uint64 { return s.hb.volumeSizeLimit.Load() }

// maintenanceErr is upstream's CheckMaintenanceMode: a plain error (code
// Unknown) naming the server.
func (s *Service) maintenanceErr() error {
	if !s.state.InMaintenance() {
		return nil
	}
	return fmt.Errorf("volume server %s is in maintenance mode", s.cfg.ID)
}

// checkAdmin is upstream's checkGrpcAdminAuth: the caller's IP must be
// white-listed for destructive RPCs.
func (s *Service) checkAdmin(ctx context.Context) error {
	if s.guard.Empty() {
		return nil
	}
	p, ok := peer.FromContext(ctx)
	if !ok {
		return status.Error(codes.PermissionDenied, "no peer info")
	}
	addr := p.Addr.String()
	host := addr
	if tcp, ok := p.Addr.(*net.TCPAddr); ok {
		host = tcp.IP.String()
	} else if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if !s.guard.Allows(host) {
		s.logf("gRPC admin auth failed: %s is not whitelisted (remote: %s)", host, addr)
		return status.Errorf(codes.PermissionDenied, "not authorized: %s", host)
	}
	return nil
}
