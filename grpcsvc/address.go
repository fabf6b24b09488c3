package grpcsvc

import "github.com/weedvol/weedvol/netguard"

// Server addresses use upstream's ServerAddress form (see netguard): these
// are the package's short names for netguard's parsers.

// grpcPortOffset is upstream's distance from a server's HTTP port to its
// gRPC port when none is given.
const grpcPortOffset = netguard.GRPCPortOffset

func splitPorts(addr string) (host, httpPort, grpcPort string, ok bool) {
	return netguard.SplitPorts(addr)
}

func httpAddress(addr string) string { return netguard.HTTPAddress(addr) }
func grpcAddress(addr string) string { return netguard.GRPCAddress(addr) }
func sameServer(a, b string) bool    { return netguard.SameServer(a, b) }
