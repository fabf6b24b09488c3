// Package guard is the IP white list both front ends apply, as upstream's
// security.Guard: -whiteList merged with security.toml's guard.white_list,
// entries being IP addresses or CIDR ranges. An empty list allows
// everyone. The list can be replaced while requests run (a SIGHUP reload);
// readers take no lock.
package guard

import (
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
)

// WhiteList is a replaceable white list. The zero value allows everyone.
type WhiteList struct {
	cur atomic.Pointer[list]
}

// list is one immutable snapshot.
type list struct {
	addrs    map[netip.Addr]struct{}
	hosts    map[string]struct{} // entries that are not IPs, compared as text
	prefixes []netip.Prefix
}

// New returns a white list of entries (see Set).
func New(entries []string) (*WhiteList, []error) {
	w := &WhiteList{}
	return w, w.Set(entries)
}

// Set replaces the list. Entries are trimmed; empty ones are skipped; an
// entry with a '/' is a CIDR range and one that does not parse is left
// out and reported, as upstream logs and skips it.
func (w *WhiteList) Set(entries []string) []error {
	l := &list{addrs: map[netip.Addr]struct{}{}, hosts: map[string]struct{}{}}
	var errs []error
	for _, e := range entries {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
		case strings.Contains(e, "/"):
			p, err := netip.ParsePrefix(e)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			l.prefixes = append(l.prefixes, p.Masked())
		default:
			if a, err := netip.ParseAddr(e); err == nil {
				l.addrs[a.Unmap()] = struct{}{}
			} else {
				l.hosts[e] = struct{}{}
			}
		}
	}
	if len(l.addrs) == 0 && len(l.hosts) == 0 && len(l.prefixes) == 0 {
		l = nil
	}
	w.cur.Store(l)
	return errs
}

// Empty reports whether the list allows everyone.
func (w *WhiteList) Empty() bool { return w == nil || w.cur.Load() == nil }

// Allows reports whether host (an IP address, or the text of a peer that
// is not one) may pass.
func (w *WhiteList) Allows(host string) bool {
	if w == nil {
		return true
	}
	l := w.cur.Load()
	if l == nil {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		_, ok := l.hosts[host]
		return ok
	}
	return l.allowsAddr(a)
}

// AllowsIP is Allows for an address already parsed (no allocation).
func (w *WhiteList) AllowsIP(ip net.IP) bool {
	if w == nil {
		return true
	}
	l := w.cur.Load()
	if l == nil {
		return true
	}
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	return l.allowsAddr(a)
}

func (l *list) allowsAddr(a netip.Addr) bool {
	a = a.Unmap()
	if _, ok := l.addrs[a]; ok {
		return true
	}
	for _, p := range l.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Split splits a comma-separated list (-whiteList, guard.white_list).
func Split(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}
