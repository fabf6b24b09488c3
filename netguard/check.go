package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Policy is the set of destinations a check refuses.
type Policy uint8

const (
	// Peer is for other volume servers, which legitimately sit on private
	// networks: refused are loopback (127.0.0.0/8, ::1), unspecified
	// (0.0.0.0/8, ::), link-local unicast and multicast (169.254.0.0/16,
	// fe80::/10, 224.0.0.0/24, ff02::/16), interface-local multicast
	// (ff01::/16) and the instance-metadata addresses (169.254.169.254,
	// fd00:ec2::254); RFC 1918, CGNAT and fc00::/7 are allowed.
	Peer Policy = iota
	// Remote is for storage endpoints outside the cluster (the S3 endpoint
	// of FetchAndWriteNeedle): what Peer refuses, plus private networks
	// (RFC 1918, fc00::/7) and CGNAT (100.64.0.0/10).
	Remote
)

// ErrRefused is matched (errors.Is) by every refusal of a check or a
// guarded dial; a failed name lookup is not a refusal.
var ErrRefused = errors.New("remote address refused")

type refusal string

func (r refusal) Error() string        { return string(r) }
func (r refusal) Is(target error) bool { return target == ErrRefused }

func refusedf(format string, args ...any) error { return refusal(fmt.Sprintf(format, args...)) }

// Resolver looks host names up; *net.Resolver is one.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// resolveTimeout bounds the lookup of a check, as upstream's.
const resolveTimeout = 2 * time.Second

// Guard decides which addresses this server may dial. The zero Guard
// refuses what upstream refuses (and a little more, noted where it is
// decided) and resolves names with net.DefaultResolver. A Guard is safe for
// concurrent use; it holds no state beyond its fields.
type Guard struct {
	// AllowUntrusted lifts every refusal, as upstream's
	// -volume.allowUntrustedRemoteEndpoints: the checks pass without
	// looking and Dialer returns nil.
	AllowUntrusted bool
	// Resolver resolves host names; net.DefaultResolver when nil.
	Resolver Resolver
}

// CheckPeer is upstream's validateReplicaTarget: target must be a bare
// "host:port" or "host:port.grpcPort" (no scheme, user, path, query,
// fragment, blanks or control bytes; ports in 1-65535) whose host, and
// every address the host resolves to, Peer allows. The error texts are
// upstream's. Beyond upstream: numeric ports, localhost names refused
// without a lookup (RFC 6761), inet_aton forms such as "127.1" or
// "0x7f000001" refused instead of being left to the resolver, and the
// instance-metadata names matched with a trailing dot too.
func (g Guard) CheckPeer(ctx context.Context, target string) error {
	if g.AllowUntrusted {
		return nil
	}
	if strings.TrimSpace(target) == "" {
		return refusedf("replica target is empty")
	}
	if strings.Contains(target, "://") || strings.ContainsAny(target, "/?#@\\") || hasBlankOrControl(target) {
		return refusedf("replica target %q must be a bare host:port", target)
	}
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return refusedf("replica target %q must be a bare host:port: %v", target, err)
	}
	if host == "" {
		return refusedf("replica target %q has no host", target)
	}
	hp, gp, hasGRPC := strings.Cut(port, ".")
	if !validPort(hp) || hasGRPC && !validPort(gp) {
		return refusedf("replica target %q must be a bare host:port", target)
	}
	if isMetadataName(host) {
		return refusedf("replica target %q targets instance metadata service", target)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return checkIP(target, ip, Peer)
	}
	if looksNumeric(host) {
		return refusedf("replica target %q must be a bare host:port", target)
	}
	addrs, err := g.lookup(ctx, host)
	if err != nil {
		return fmt.Errorf("resolve replica target host %q: %w", host, err)
	}
	for _, a := range addrs {
		if err := checkIP(target, a, Peer); err != nil {
			return err
		}
	}
	return nil
}

// CheckRemoteEndpoint is upstream's validateRemoteEndpoint, for the URL of
// a storage endpoint outside the cluster: http or https, a host, and
// every address of the host allowed by Remote.
func (g Guard) CheckRemoteEndpoint(ctx context.Context, endpoint string) error {
	if g.AllowUntrusted {
		return nil
	}
	if strings.TrimSpace(endpoint) == "" {
		return refusedf("remote endpoint is empty")
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return refusedf("parse remote endpoint %q: %v", endpoint, err)
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return refusedf("remote endpoint %q must use http or https, got %q", endpoint, u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return refusedf("remote endpoint %q has no host", endpoint)
	}
	if isMetadataName(host) {
		return refusedf("remote endpoint %q targets instance metadata service", endpoint)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return checkIP(endpoint, ip, Remote)
	}
	if looksNumeric(host) {
		return refusedf("remote endpoint %q has a host that is not a canonical IP address", endpoint)
	}
	addrs, err := g.lookup(ctx, host)
	if err != nil {
		return fmt.Errorf("resolve remote endpoint host %q: %w", host, err)
	}
	for _, a := range addrs {
		if err := checkIP(endpoint, a, Remote); err != nil {
			return err
		}
	}
	return nil
}

// CheckIP reports whether p refuses ip; target names the address in the
// error.
func CheckIP(target string, ip netip.Addr, p Policy) error { return checkIP(target, ip, p) }

var (
	imdsIPv4 = netip.MustParseAddr("169.254.169.254")
	// imdsIPv6 is AWS's IPv6 metadata address. It is a unique-local address,
	// which upstream allows for peers; weedvol refuses it: no volume server
	// lives there.
	imdsIPv6 = netip.MustParseAddr("fd00:ec2::254")
	cgnat    = netip.MustParsePrefix("100.64.0.0/10")
)

func checkIP(target string, ip netip.Addr, p Policy) error {
	ip = ip.WithZone("").Unmap() // ::ffff:a.b.c.d is a.b.c.d
	if ip == imdsIPv4 || ip == imdsIPv6 {
		return refusedf("remote endpoint %q targets instance metadata service %s", target, ip)
	}
	switch {
	case ip.IsLoopback():
		return refusedf("remote endpoint %q resolves to loopback address %s", target, ip)
	case ip.IsUnspecified() || ip.Is4() && ip.As4()[0] == 0:
		// 0.0.0.0/8 beyond upstream: Linux connects 0.0.0.0 to the host itself.
		return refusedf("remote endpoint %q resolves to unspecified address %s", target, ip)
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return refusedf("remote endpoint %q resolves to link-local address %s", target, ip)
	case ip.IsInterfaceLocalMulticast():
		return refusedf("remote endpoint %q resolves to interface-local address %s", target, ip)
	}
	if p == Remote {
		switch {
		case ip.IsPrivate():
			return refusedf("remote endpoint %q resolves to private address %s", target, ip)
		case cgnat.Contains(ip):
			return refusedf("remote endpoint %q resolves to CGNAT address %s", target, ip)
		}
	}
	if v4, ok := embeddedIPv4(ip); ok {
		return checkIP(target, v4, p)
	}
	return nil
}

// embeddedIPv4 is the IPv4 destination an IPv6 transition address carries,
// which a relay or translator on the path delivers to: NAT64 64:ff9b::/96
// (RFC 6052) and its local-use 64:ff9b:1::/96 form (RFC 8215), 6to4
// 2002::/16 (RFC 3056), Teredo 2001:0::/32 (RFC 4380, the client address,
// stored inverted), IPv4-translated ::ffff:0:0:0/96 (RFC 2765) and
// IPv4-compatible ::/96 (RFC 4291). Upstream checks the NAT64 well-known,
// 6to4, Teredo and compatible forms; the other two are weedvol's.
// IPv4-mapped addresses are unmapped before this is asked.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	if !ip.Is6() {
		return netip.Addr{}, false
	}
	b := ip.As16()
	last := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	switch {
	case b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zero(b[4:12]):
		return last, true
	case b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0 && b[5] == 1 && zero(b[6:12]):
		return last, true
	case b[0] == 0x20 && b[1] == 0x02:
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	case b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0:
		return netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}), true
	case zero(b[:8]) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0:
		return last, true
	case zero(b[:12]):
		return last, true
	}
	return netip.Addr{}, false
}

func zero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// metadataNames are host names that lead to a cloud metadata service
// wherever they resolve, as upstream's blockedIMDSHosts.
var metadataNames = map[string]bool{"metadata.google.internal": true, "metadata": true}

func isMetadataName(host string) bool {
	return metadataNames[strings.TrimSuffix(strings.ToLower(host), ".")]
}

// isLocalhostName reports names RFC 6761 reserves for the loopback
// interface: localhost and every name beneath it.
func isLocalhostName(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

// looksNumeric reports a host that inet_aton would read as an IPv4
// address although it is no canonical one ("127.1", "0x7f000001",
// "0177.0.0.1", "2130706433"): one to four dot-separated numbers in
// decimal, octal or hex. Such a host is no DNS name (a top-level label is
// never numeric), and some resolvers turn it into an address.
func looksNumeric(host string) bool {
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return false
	}
	for _, p := range parts {
		digits, hex := p, false
		if len(p) >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') {
			digits, hex = p[2:], true
		}
		if digits == "" && !hex {
			return false
		}
		for i := 0; i < len(digits); i++ {
			c := digits[i]
			if !(c >= '0' && c <= '9' || hex && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')) {
				return false
			}
		}
	}
	return true
}

func hasBlankOrControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// lookup resolves host within resolveTimeout. localhost names resolve to
// 127.0.0.1 without asking anyone.
func (g Guard) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if isLocalhostName(host) {
		return []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}, nil
	}
	r := g.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	found, err := r.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(found))
	for _, a := range found {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		out = append(out, ip.WithZone(a.Zone))
	}
	return out, nil
}
