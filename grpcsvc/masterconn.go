package grpcsvc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"google.golang.org/grpc/credentials"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/master_pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// maxMessageSize is upstream's gRPC message limit in both directions.
const maxMessageSize = 1 << 30

// dialOptions mirror upstream's client settings: 1 GiB messages, a ping
// after 60s of silence on active streams, 20s to answer it; mutual TLS
// when security.toml configures it ([grpc.volume] with [grpc] ca), else
// plaintext.
func dialOptions(clientTLS *tls.Config) []grpc.DialOption {
	creds := insecure.NewCredentials()
	if clientTLS != nil {
		creds = credentials.NewTLS(clientTLS)
	}
	return []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(maxMessageSize), grpc.MaxCallRecvMsgSize(maxMessageSize)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 60 * time.Second, Timeout: 20 * time.Second}),
	}
}

// dialMaster returns a client connection to master's gRPC port. It does not
// wait for the connection: the first call does.
func dialMaster(master string, clientTLS *tls.Config) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(grpcAddress(master), dialOptions(clientTLS)...)
	if err != nil {
		return nil, fmt.Errorf("fail to dial %s : %v", master, err)
	}
	return conn, nil
}

// masterConns caches one connection per master for unary calls.
type masterConns struct {
	clientTLS *tls.Config
	mu        sync.Mutex // guards conns
	conns     map[string]*grpc.ClientConn
}

func newMasterConns(clientTLS *tls.Config) *masterConns {
	return &masterConns{clientTLS: clientTLS, conns: map[string]*grpc.ClientConn{}}
}

func (m *masterConns) client(master string) (master_pb.SeaweedClient, error) {
	addr := grpcAddress(master)
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.conns[addr]; ok {
		return master_pb.NewSeaweedClient(c), nil
	}
	c, err := dialMaster(master, m.clientTLS)
	if err != nil {
		return nil, err
	}
	m.conns[addr] = c
	return master_pb.NewSeaweedClient(c), nil
}

func (m *masterConns) close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for k, c := range m.conns {
		errs = append(errs, c.Close())
		delete(m.conns, k)
	}
	return errors.Join(errs...)
}

// Location is one server holding a volume, as the master reports it.
type Location struct {
	URL        string // host:port of its HTTP server
	PublicURL  string
	DataCenter string
	GrpcPort   int
}

// ErrNoMaster is returned by master lookups when no master is configured.
var ErrNoMaster = errors.New("no master configured")

// LookupVolume asks the master where volume vid lives. It asks the current
// leader, then the seed masters, and returns the first answer.
func (s *Service) LookupVolume(ctx context.Context, vid uint32) ([]Location, error) {
	candidates := s.masterCandidates()
	if len(candidates) == 0 {
		return nil, ErrNoMaster
	}
	id := strconv.FormatUint(uint64(vid), 10)
	var last error
	for _, m := range candidates {
		c, err := s.masters.client(m)
		if err != nil {
			last = err
			continue
		}
		resp, err := c.LookupVolume(ctx, &master_pb.LookupVolumeRequest{VolumeOrFileIds: []string{id}})
		if err != nil {
			last = fmt.Errorf("lookup volume %d on master %s: %w", vid, m, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		for _, l := range resp.GetVolumeIdLocations() {
			if l.GetVolumeOrFileId() != id {
				continue
			}
			if l.GetError() != "" {
				return nil, &VolumeNotFoundError{Msg: l.GetError()}
			}
			out := make([]Location, 0, len(l.GetLocations()))
			for _, loc := range l.GetLocations() {
				out = append(out, Location{URL: loc.GetUrl(), PublicURL: loc.GetPublicUrl(), DataCenter: loc.GetDataCenter(), GrpcPort: int(loc.GetGrpcPort())})
			}
			return out, nil
		}
		return nil, &VolumeNotFoundError{Msg: fmt.Sprintf("volume %d not found", vid)}
	}
	return nil, last
}

// VolumeNotFoundError is a master's answer that it knows no holder of a
// volume, as opposed to a master that could not be asked.
type VolumeNotFoundError struct{ Msg string }

func (e *VolumeNotFoundError) Error() string { return e.Msg }

// VolumeNotFound marks the error for callers that cannot import grpcsvc.
func (e *VolumeNotFoundError) VolumeNotFound() bool { return true }

// masterCandidates is the current leader followed by the other seeds.
func (s *Service) masterCandidates() []string {
	var out []string
	if cur := s.hb.currentMaster(); cur != "" {
		out = append(out, cur)
	}
	for _, m := range s.cfg.Masters {
		if len(out) == 0 || !sameServer(out[0], m) {
			out = append(out, m)
		}
	}
	return out
}

// markReadonlyOnMaster tells the master to stop (or resume) routing writes
// to this server's replica of v, retrying on the leader when the master
// asked is a follower. Without masters there is nobody to tell.
func (s *Service) markReadonlyOnMaster(ctx context.Context, req *master_pb.VolumeMarkReadonlyRequest) error {
	if len(s.cfg.Masters) == 0 {
		return nil
	}
	master := s.hb.currentMaster()
	if master == "" {
		master = s.cfg.Masters[0]
	}
	err := s.markReadonlyOn(ctx, master, req)
	if err != nil && strings.Contains(err.Error(), "Not current leader") {
		leader, lerr := s.findLeader(ctx)
		if lerr != nil {
			return fmt.Errorf("heartbeat master %s rejected mark-readonly and leader lookup failed: %w", master, lerr)
		}
		err = s.markReadonlyOn(ctx, leader, req)
	}
	return err
}

func (s *Service) markReadonlyOn(ctx context.Context, master string, req *master_pb.VolumeMarkReadonlyRequest) error {
	c, err := s.masters.client(master)
	if err == nil {
		if _, err = c.VolumeMarkReadonly(ctx, req); err != nil {
			err = fmt.Errorf("set volume %d to read only on master: %v", req.GetVolumeId(), err)
		}
	}
	if err != nil {
		return fmt.Errorf("grpc VolumeMarkReadonly with master %s: %v", master, err)
	}
	return nil
}

// findLeader asks the seed masters which of them leads.
func (s *Service) findLeader(ctx context.Context) (string, error) {
	var last error = ErrNoMaster
	for _, m := range s.cfg.Masters {
		c, err := s.masters.client(m)
		if err != nil {
			last = err
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := c.GetMasterConfiguration(cctx, &master_pb.GetMasterConfigurationRequest{})
		cancel()
		if err != nil {
			last = err
			continue
		}
		if l := resp.GetLeader(); l != "" {
			return l, nil
		}
		last = fmt.Errorf("master %s knows no leader", m)
	}
	return "", last
}

// pingMaster calls Ping on master and returns its start time.
func (s *Service) pingMaster(ctx context.Context, master string) (int64, error) {
	c, err := s.masters.client(master)
	if err != nil {
		return 0, err
	}
	resp, err := c.Ping(ctx, &master_pb.PingRequest{})
	return resp.GetStartTimeNs(), err
}
