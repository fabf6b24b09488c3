package grpcsvc

import (
	"net"
	"strconv"
	"strings"
)

// Master addresses use upstream's ServerAddress form: "host:port" names the
// HTTP port and implies gRPC on port+10000; "host:port.grpcPort" names both.

// grpcPortOffset is upstream's distance from a server's HTTP port to its
// gRPC port when none is given.
const grpcPortOffset = 10000

// splitPorts returns host, the HTTP port text and the gRPC port text ("" when
// absent) of addr. ok is false when addr has no port.
func splitPorts(addr string) (host, httpPort, grpcPort string, ok bool) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 || i+1 >= len(addr) {
		return addr, "", "", false
	}
	host, ports := addr[:i], addr[i+1:]
	if j := strings.LastIndexByte(ports, '.'); j >= 0 {
		return host, ports[:j], ports[j+1:], true
	}
	return host, ports, "", true
}

// httpAddress is addr without its gRPC port suffix.
func httpAddress(addr string) string {
	host, hp, gp, ok := splitPorts(addr)
	if !ok || gp == "" {
		return addr
	}
	return joinHostPort(host, hp)
}

// grpcAddress is where addr's gRPC service listens.
func grpcAddress(addr string) string {
	host, hp, gp, ok := splitPorts(addr)
	if !ok {
		return addr
	}
	if gp != "" {
		if _, err := strconv.ParseUint(gp, 10, 16); err == nil {
			return joinHostPort(host, gp)
		}
	}
	p, err := strconv.Atoi(hp)
	if err != nil {
		return addr
	}
	return joinHostPort(host, strconv.Itoa(p+grpcPortOffset))
}

// sameServer reports whether a and b name the same server, comparing HTTP
// addresses as upstream's ServerAddress.Equals does.
func sameServer(a, b string) bool {
	return a == b || httpAddress(a) == httpAddress(b)
}

// joinHostPort brackets IPv6 hosts; host may already carry brackets.
func joinHostPort(host, port string) string {
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}
