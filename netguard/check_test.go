package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// stubResolver answers from a table; other names are not found. calls
// counts lookups by name.
type stubResolver struct {
	answers map[string][]string
	calls   map[string]int
}

func (r *stubResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	if r.calls == nil {
		r.calls = map[string]int{}
	}
	r.calls[host]++
	ips, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []net.IPAddr
	for _, s := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

func testResolver() *stubResolver {
	return &stubResolver{answers: map[string][]string{
		"peer.example.com":     {"10.0.0.7"},
		"public.example.com":   {"52.216.10.10"},
		"loop.example.com":     {"127.0.0.1"},
		"loop6.example.com":    {"::1"},
		"imds.example.com":     {"169.254.169.254"},
		"nat64imds.example":    {"64:ff9b::a9fe:a9fe"},
		"mixed.example.com":    {"10.0.0.8", "127.0.0.1"},
		"linklocal.example":    {"fe80::1"},
		"localhost.evil.com":   {"10.0.0.9"},
		"private6.example.com": {"fd12::7"},
	}}
}

// TestCheckPeer is the refuse list of peer addresses (VolumeCopy's and
// VolumeTailReceiver's sources, FetchAndWriteNeedle's replicas): want is
// "" for allowed, else a piece of the expected error.
func TestCheckPeer(t *testing.T) {
	for _, tc := range []struct {
		target, want string
	}{
		// allowed: cluster peers on private networks, by literal and by name
		{"10.0.0.7:8080", ""},
		{"10.0.0.7:8080.18080", ""},
		{"192.168.1.5:8080", ""},
		{"172.16.0.1:8080", ""},
		{"100.64.0.1:8080", ""},
		{"52.216.10.10:8080", ""},
		{"[fd12::7]:8080", ""},
		{"[2001:db8::7]:8080.18080", ""},
		{"peer.example.com:8080", ""},
		{"peer.example.com:8080.18080", ""},
		{"private6.example.com:8080", ""},
		{"localhost.evil.com:8080", ""}, // only names beneath localhost are loopback
		{"[::ffff:10.0.0.7]:8080", ""},

		// loopback
		{"127.0.0.1:8080", "resolves to loopback address 127.0.0.1"},
		{"127.0.0.1:8080.18080", "resolves to loopback address 127.0.0.1"},
		{"127.9.8.7:8080", "loopback address 127.9.8.7"},
		{"[::1]:8080", "loopback address ::1"},
		{"[::1]:8080.18080", "loopback address ::1"},
		{"[::ffff:127.0.0.1]:8080", "loopback address 127.0.0.1"},
		{"[64:ff9b::7f00:1]:8080", "loopback address 127.0.0.1"},
		{"[2002:7f00:1::]:8080", "loopback address 127.0.0.1"},
		{"[::127.0.0.1]:8080", "loopback address 127.0.0.1"},
		{"localhost:8080", "loopback address 127.0.0.1"},
		{"LocalHost.:8080", "loopback address 127.0.0.1"},
		{"db.localhost:8080.18080", "loopback address 127.0.0.1"},
		{"loop.example.com:8080", "loopback address 127.0.0.1"},
		{"loop6.example.com:8080", "loopback address ::1"},
		{"mixed.example.com:8080", "loopback address 127.0.0.1"},
		{"127.1:8080", "bare host:port"},
		{"0x7f000001:8080", "bare host:port"},
		{"2130706433:8080", "bare host:port"},
		{"0177.0.0.1:8080", "bare host:port"},
		{"0x7f.0.0.1:8080", "bare host:port"},
		{"vol.1:8080", "resolve replica target host"}, // a name, looked up
		{"cafe.1:8080", "resolve replica target host"},

		// unspecified
		{"0.0.0.0:8080", "unspecified address 0.0.0.0"},
		{"0.1.2.3:8080", "unspecified address 0.1.2.3"},
		{"[::]:8080", "unspecified address ::"},

		// link-local and instance metadata, in every IPv6 disguise
		{"169.254.0.1:8080", "link-local address 169.254.0.1"},
		{"169.254.255.255:80", "link-local address"},
		{"[fe80::1]:8080", "link-local address fe80::1"},
		{"[fe80::1%eth0]:8080", "link-local address"},
		{"[febf::1]:8080", "link-local address"},
		{"[ff02::1]:8080", "link-local address"},
		{"[ff01::1]:8080", "interface-local address"},
		{"linklocal.example:8080", "link-local address fe80::1"},
		{"169.254.169.254:80", "targets instance metadata service 169.254.169.254"},
		{"169.254.169.254:80.18080", "instance metadata service"},
		{"[::ffff:169.254.169.254]:80", "instance metadata service 169.254.169.254"},
		{"[::ffff:a9fe:a9fe]:80", "instance metadata service 169.254.169.254"},
		{"[64:ff9b::169.254.169.254]:80", "instance metadata service 169.254.169.254"},
		{"[64:ff9b::a9fe:a9fe]:80.18080", "instance metadata service 169.254.169.254"},
		{"[64:ff9b:1::a9fe:a9fe]:80", "instance metadata service 169.254.169.254"},
		{"[2002:a9fe:a9fe::]:80", "instance metadata service 169.254.169.254"},
		{"[2002:a9fe:a9fe:1234::5]:80", "instance metadata service 169.254.169.254"},
		{"[2001:0:4136:e378:8000:63bf:5601:5601]:80", "instance metadata service 169.254.169.254"}, // Teredo, client inverted
		{"[::ffff:0:a9fe:a9fe]:80", "instance metadata service 169.254.169.254"},
		{"[::a9fe:a9fe]:80", "instance metadata service 169.254.169.254"},
		{"[fd00:ec2::254]:80", "instance metadata service fd00:ec2::254"},
		{"imds.example.com:80", "instance metadata service 169.254.169.254"},
		{"nat64imds.example:80", "instance metadata service 169.254.169.254"},
		{"metadata:80", "targets instance metadata service"},
		{"metadata.google.internal:80", "targets instance metadata service"},
		{"METADATA.google.internal.:80", "targets instance metadata service"},

		// not a bare host:port
		{"", "replica target is empty"},
		{"  ", "replica target is empty"},
		{"10.0.0.7", "bare host:port"},
		{"peer.example.com", "bare host:port"},
		{"http://10.0.0.7:8080", "bare host:port"},
		{"10.0.0.7:8080/x", "bare host:port"},
		{"127.0.0.1:7000/status/x/?a=", "bare host:port"},
		{"10.0.0.7:8080?a=b", "bare host:port"},
		{"10.0.0.7:8080#f", "bare host:port"},
		{"user@10.0.0.7:8080", "bare host:port"},
		{`10.0.0.7:8080\x`, "bare host:port"},
		{"10.0.0.7:8080 ", "bare host:port"},
		{"10.0.0.7:80\x0080", "bare host:port"},
		{"::1:8080", "bare host:port"},
		{":8080", "has no host"},
		{"10.0.0.7:0", "bare host:port"},
		{"10.0.0.7:65536", "bare host:port"},
		{"10.0.0.7:http", "bare host:port"},
		{"10.0.0.7:8080.", "bare host:port"},
		{"10.0.0.7:8080.99999", "bare host:port"},
		{"10.0.0.7:8080.1.2", "bare host:port"},

		// a name that does not resolve
		{"nowhere.example.com:8080", "resolve replica target host"},
	} {
		err := Guard{Resolver: testResolver()}.CheckPeer(context.Background(), tc.target)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckPeer(%q) = %v, want allowed", tc.target, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckPeer(%q) = %v, want an error with %q", tc.target, err, tc.want)
		case tc.want != "" && !strings.HasPrefix(tc.want, "resolve") && !errors.Is(err, ErrRefused):
			t.Errorf("CheckPeer(%q) = %v, which does not match ErrRefused", tc.target, err)
		}
		if err := (Guard{AllowUntrusted: true, Resolver: testResolver()}).CheckPeer(context.Background(), tc.target); err != nil {
			t.Errorf("AllowUntrusted: CheckPeer(%q) = %v", tc.target, err)
		}
	}
}

// TestCheckPeerUpstreamTexts pins whole messages to upstream's.
func TestCheckPeerUpstreamTexts(t *testing.T) {
	for target, want := range map[string]string{
		"127.0.0.1:8080":       `remote endpoint "127.0.0.1:8080" resolves to loopback address 127.0.0.1`,
		"169.254.169.254:80":   `remote endpoint "169.254.169.254:80" targets instance metadata service 169.254.169.254`,
		"[fe80::1]:80":         `remote endpoint "[fe80::1]:80" resolves to link-local address fe80::1`,
		"0.0.0.0:80":           `remote endpoint "0.0.0.0:80" resolves to unspecified address 0.0.0.0`,
		"metadata:80":          `replica target "metadata:80" targets instance metadata service`,
		"":                     `replica target is empty`,
		"http://10.0.0.7:8080": `replica target "http://10.0.0.7:8080" must be a bare host:port`,
		":80":                  `replica target ":80" has no host`,
		"10.0.0.7":             `replica target "10.0.0.7" must be a bare host:port: address 10.0.0.7: missing port in address`,
	} {
		if err := (Guard{}).CheckPeer(context.Background(), target); err == nil || err.Error() != want {
			t.Errorf("CheckPeer(%q) = %v, want %s", target, err, want)
		}
	}
}

func TestCheckRemoteEndpoint(t *testing.T) {
	for _, tc := range []struct {
		endpoint, want string
	}{
		{"https://s3.example.com", "resolve remote endpoint host"},
		{"https://public.example.com", ""},
		{"http://52.216.10.10:9000/bucket", ""},
		{"https://[2001:db8::1]:443", ""},
		{"http://10.0.0.7:8333", "private address 10.0.0.7"},
		{"http://192.168.0.2", "private address"},
		{"http://100.100.100.100", "CGNAT address"},
		{"http://[fd12::1]", "private address"},
		{"http://peer.example.com", "private address 10.0.0.7"},
		{"http://127.0.0.1:8000", "loopback address"},
		{"http://localhost:8000", "loopback address"},
		{"http://169.254.169.254/latest/meta-data", "instance metadata service"},
		{"http://[64:ff9b::a9fe:a9fe]/", "instance metadata service"},
		{"http://[64:ff9b::a00:7]/", "private address 10.0.0.7"},
		{"http://metadata.google.internal", "instance metadata service"},
		{"http://127.1/", "not a canonical IP address"},
		{"ftp://52.216.10.10", "must use http or https"},
		{"52.216.10.10:80", "parse remote endpoint"},
		{"http:///x", "has no host"},
		{"", "remote endpoint is empty"},
		{"http://[::1", "parse remote endpoint"},
	} {
		err := Guard{Resolver: testResolver()}.CheckRemoteEndpoint(context.Background(), tc.endpoint)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckRemoteEndpoint(%q) = %v, want allowed", tc.endpoint, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckRemoteEndpoint(%q) = %v, want an error with %q", tc.endpoint, err, tc.want)
		}
		if err := (Guard{AllowUntrusted: true}).CheckRemoteEndpoint(context.Background(), tc.endpoint); err != nil {
			t.Errorf("AllowUntrusted: CheckRemoteEndpoint(%q) = %v", tc.endpoint, err)
		}
	}
}

// TestCheckIP covers the address ranges alone, under both policies.
func TestCheckIP(t *testing.T) {
	for _, tc := range []struct {
		ip           string
		peer, remote bool // allowed
	}{
		{"8.8.8.8", true, true},
		{"10.1.2.3", true, false},
		{"100.64.0.1", true, false},
		{"100.128.0.1", true, true},
		{"fc00::1", true, false},
		{"2001:4860::8888", true, true},
		{"127.0.0.1", false, false},
		{"127.255.255.254", false, false},
		{"::1", false, false},
		{"::ffff:127.0.0.2", false, false},
		{"0.0.0.0", false, false},
		{"::", false, false},
		{"169.254.1.1", false, false},
		{"169.254.169.254", false, false},
		{"::ffff:169.254.169.254", false, false},
		{"64:ff9b::a9fe:a9fe", false, false},
		{"64:ff9b::808:808", true, true},
		{"64:ff9b::a01:203", true, false},
		{"2002:a9fe:a9fe::", false, false},
		{"2002:0808:0808::", true, true},
		{"fe80::abcd", false, false},
		{"fd00:ec2::254", false, false},
		{"fd00:ec2::253", true, false},
		{"224.0.0.1", false, false},
		{"ff02::2", false, false},
		{"ff01::2", false, false},
		{"ff05::2", true, true},
	} {
		ip := netip.MustParseAddr(tc.ip)
		if got := CheckIP("t", ip, Peer) == nil; got != tc.peer {
			t.Errorf("CheckIP(%s, Peer) allowed = %v, want %v", tc.ip, got, tc.peer)
		}
		if got := CheckIP("t", ip, Remote) == nil; got != tc.remote {
			t.Errorf("CheckIP(%s, Remote) allowed = %v, want %v", tc.ip, got, tc.remote)
		}
	}
}
