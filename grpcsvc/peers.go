package grpcsvc

import (
	"context"
	"net"

	"google.golang.org/grpc"

	"github.com/weedvol/weedvol/netguard"
)

// peerResolver resolves peer host names for the guard; nil is
// net.DefaultResolver. Tests substitute a table.
var peerResolver netguard.Resolver

// peerGuard is the policy for the peer addresses requests name: upstream's
// refusals unless -volume.allowUntrustedRemoteEndpoints.
func (s *Service) peerGuard() netguard.Guard {
	return netguard.Guard{AllowUntrusted: s.cfg.AllowUntrustedRemoteEndpoints, Resolver: peerResolver}
}

// checkPeer is upstream's validateReplicaTarget for a peer address a
// request names (VolumeCopy's source, VolumeTailReceiver's, the EC copies'):
// a bare "host:port" or "host:port.grpcPort" not leading to loopback,
// link-local, unspecified or instance-metadata addresses. Its errors are
// upstream's texts, which the handlers wrap as upstream does.
func (s *Service) checkPeer(ctx context.Context, source string) error {
	return s.peerGuard().CheckPeer(ctx, source)
}

// dialPeer connects to the gRPC port of the volume server source names,
// after checkPeer passed. Unless untrusted endpoints are allowed, the
// connection resolves and dials through the guard's dialer (gRPC's
// passthrough resolver hands it the host name), which checks every address
// it connects, on every reconnect: a name that resolved to a public
// address for checkPeer cannot lead the connection to a refused one later
// (DNS rebinding). Allowed, it dials as upstream does, through gRPC's own
// DNS resolver.
func (s *Service) dialPeer(source string) (*grpc.ClientConn, error) {
	opts := dialOptions(s.cfg.ClientTLS)
	target := netguard.GRPCAddress(source)
	if dial := s.peerGuard().Dialer(netguard.Peer, source); dial != nil {
		opts = append(opts, grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return dial(ctx, "tcp", addr)
		}))
		target = "passthrough:///" + target
	}
	return grpc.NewClient(target, opts...)
}
