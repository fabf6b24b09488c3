// Package netguard parses the server addresses a volume server is given and
// decides which of them it may dial.
//
// Addresses use upstream's ServerAddress text: "host:port" names a server's
// HTTP port and implies gRPC on port+10000; "host:port.grpcPort" names both.
// IPv6 hosts are bracketed ("[::1]:8080.18080").
//
// A peer address taken from a request (the source of VolumeCopy,
// VolumeTailReceiver and the EC copies, the replicas of
// FetchAndWriteNeedle) could aim this server's connections at itself or at
// a cloud metadata service. A Guard refuses such addresses before anything
// is dialed (Guard.CheckPeer, Guard.CheckRemoteEndpoint) and again at
// connect time, on the address actually connected (Guard.Dialer), so a name
// that resolves to a public address for the check and to a refused one for
// the dial (DNS rebinding) is refused too. The package imports nothing of
// the project; grpcsvc and httpfast both build on it.
package netguard

import (
	"net"
	"strconv"
	"strings"
)

// GRPCPortOffset is upstream's distance from a server's HTTP port to its
// gRPC port when the address names none.
const GRPCPortOffset = 10000

// SplitPorts returns host, the HTTP port text and the gRPC port text (""
// when absent) of addr, without checking them. ok is false when addr has no
// port. host keeps an IPv6 literal's brackets.
func SplitPorts(addr string) (host, httpPort, grpcPort string, ok bool) {
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

// HTTPAddress is addr without its gRPC port suffix.
func HTTPAddress(addr string) string {
	host, hp, gp, ok := SplitPorts(addr)
	if !ok || gp == "" {
		return addr
	}
	return JoinHostPort(host, hp)
}

// GRPCAddress is where addr's gRPC service listens: the named gRPC port, or
// the HTTP port plus GRPCPortOffset. An addr it cannot read is returned as
// it is (the dial then fails).
func GRPCAddress(addr string) string {
	host, hp, gp, ok := SplitPorts(addr)
	if !ok {
		return addr
	}
	if gp != "" {
		if _, err := strconv.ParseUint(gp, 10, 16); err == nil {
			return JoinHostPort(host, gp)
		}
	}
	p, err := strconv.Atoi(hp)
	if err != nil {
		return addr
	}
	return JoinHostPort(host, strconv.Itoa(p+GRPCPortOffset))
}

// SameServer reports whether a and b name the same server, comparing HTTP
// addresses as upstream's ServerAddress.Equals does.
func SameServer(a, b string) bool {
	return a == b || HTTPAddress(a) == HTTPAddress(b)
}

// JoinHostPort brackets IPv6 hosts; host may already carry brackets.
func JoinHostPort(host, port string) string {
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}

// validPort reports whether p is a port number, 1 to 65535, in decimal.
func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n <= 65535
}
