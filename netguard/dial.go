package netguard

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

// DialFunc dials addr ("host:port") on network, as net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Dialer returns a dial function that refuses, at connect time, every
// address p refuses; target names the checked address in errors. A host
// name is resolved with g.Resolver, each answer is checked, and the first
// allowed one that accepts a connection is dialed as a literal, so the
// resolver is asked once per dial and never again behind the check. The
// socket's Control hook checks the address connected once more, whatever
// path led there (a literal, a resolver answer).
//
// With AllowUntrusted it returns nil: the caller dials as it would without
// a guard (for gRPC: no WithContextDialer; for net/http: a nil
// Transport.DialContext). A guarded HTTP transport must have no Proxy: the
// guard would check the proxy, which then resolves the target itself.
func (g Guard) Dialer(p Policy, target string) DialFunc {
	if g.AllowUntrusted {
		return nil
	}
	d := &net.Dialer{Control: func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return refusedf("remote endpoint %q: cannot check dialed address %q", target, address)
		}
		return checkIP(target, ap.Addr(), p)
	}}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if isMetadataName(host) {
			return nil, refusedf("remote endpoint %q targets instance metadata service", target)
		}
		if _, err := netip.ParseAddr(host); err == nil {
			return d.DialContext(ctx, network, addr)
		}
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("dial %s: bad port %q", addr, port)
		}
		addrs, err := g.lookup(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("resolve remote endpoint host %q: %w", host, err)
		}
		var first error
		for _, a := range addrs {
			if err := checkIP(target, a, p); err != nil {
				if first == nil {
					first = err
				}
				continue
			}
			c, err := d.DialContext(ctx, network, netip.AddrPortFrom(a, uint16(n)).String())
			if err == nil {
				return c, nil
			}
			if first == nil {
				first = err
			}
		}
		if first == nil {
			return nil, fmt.Errorf("resolve remote endpoint host %q: no addresses", host)
		}
		return nil, first
	}
}
