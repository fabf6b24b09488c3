package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/weedvol/weedvol/internal/testcerts"
	"github.com/weedvol/weedvol/secconf"
)

type pki struct {
	ca, other       *testcerts.CA
	srvCert, srvKey string
	cliCert, cliKey string
	badCert, badKey string // signed by the other CA
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	p := &pki{}
	var err error
	if p.ca, err = testcerts.NewCA(dir, "ca"); err != nil {
		t.Fatal(err)
	}
	if p.other, err = testcerts.NewCA(dir, "other"); err != nil {
		t.Fatal(err)
	}
	must := func(c, k string, err error) (string, string) {
		if err != nil {
			t.Fatal(err)
		}
		return c, k
	}
	p.srvCert, p.srvKey = must(p.ca.Issue("volume", "volume01"))
	p.cliCert, p.cliKey = must(p.ca.Issue("master", "master01"))
	p.badCert, p.badKey = must(p.other.Issue("intruder", "intruder"))
	return p
}

// handshake runs a TLS handshake between server and client configs over a
// loopback connection and returns the server's and the client's errors.
func handshake(t *testing.T, server, client *tls.Config) (error, error) {
	t.Helper()
	// loopback TCP, not net.Pipe: a pipe has no buffer, and a side that
	// gives up mid-flight would block the other until the deadline
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	b, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	a.SetDeadline(time.Now().Add(5 * time.Second))
	b.SetDeadline(time.Now().Add(5 * time.Second))
	srvErr := make(chan error, 1)
	go func() {
		c := tls.Server(a, server)
		err := c.Handshake()
		if err == nil {
			// finish the exchange so that the client sees a verdict on its
			// certificate (TLS 1.3 reports it after the handshake)
			_, err = c.Write([]byte{1})
		}
		srvErr <- err
		a.Close()
	}()
	c := tls.Client(b, client)
	cliErr := c.Handshake()
	if cliErr == nil {
		_, cliErr = c.Read(make([]byte, 1))
	}
	b.Close()
	return <-srvErr, cliErr
}

func grpcConfig(p *pki) *secconf.Config {
	c := &secconf.Config{}
	c.GRPC.CA = p.ca.CertFile
	c.GRPC.Volume.Cert, c.GRPC.Volume.Key = p.srvCert, p.srvKey
	return c
}

func TestGRPCMutualTLS(t *testing.T) {
	p := newPKI(t)
	set, err := Build(grpcConfig(p))
	if err != nil {
		t.Fatal(err)
	}
	if set.GRPCServer == nil || set.GRPCClient == nil || set.HTTPSServer != nil || set.HTTPClient != nil {
		t.Fatalf("configs built: %+v", set)
	}
	// this server's own client certificate passes its own server
	if s, c := handshake(t, set.GRPCServer, set.GRPCClient); s != nil || c != nil {
		t.Fatalf("own client: server %v, client %v", s, c)
	}
	clientWith := func(cert, key string) *tls.Config {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		return &tls.Config{Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true}
	}
	if s, _ := handshake(t, set.GRPCServer, &tls.Config{InsecureSkipVerify: true}); s == nil {
		t.Fatal("a client without a certificate was let in")
	}
	if s, _ := handshake(t, set.GRPCServer, clientWith(p.badCert, p.badKey)); s == nil {
		t.Fatal("a certificate of another CA was let in")
	}
	if s, c := handshake(t, set.GRPCServer, clientWith(p.cliCert, p.cliKey)); s != nil || c != nil {
		t.Fatalf("a CA-signed client: server %v, client %v", s, c)
	}
	// allowed_commonNames narrows the clients
	cfg := grpcConfig(p)
	cfg.GRPC.Volume.AllowedCommonNames = "volume01, other"
	set, err = Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := handshake(t, set.GRPCServer, clientWith(p.cliCert, p.cliKey)); s == nil || !strings.Contains(s.Error(), "master01") {
		t.Fatalf("a client outside allowed_commonNames: %v", s)
	}
	// the client side checks the server against the CA (not its host name)
	rogue := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		c, err := tls.LoadX509KeyPair(p.badCert, p.badKey)
		return &c, err
	}, ClientAuth: tls.RequestClientCert}
	if _, c := handshake(t, rogue, set.GRPCClient); c == nil {
		t.Fatal("the client trusted a server of another CA")
	}
	cfg.GRPC.Volume.AllowedServerCommonNames = "someone-else"
	set, _ = Build(cfg)
	own := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		c, err := tls.LoadX509KeyPair(p.srvCert, p.srvKey)
		return &c, err
	}, ClientAuth: tls.RequestClientCert}
	if _, c := handshake(t, own, set.GRPCClient); c == nil || !strings.Contains(c.Error(), "untrusted server identity") {
		t.Fatalf("allowed_server_commonNames not applied: %v", c)
	}
}

func TestHTTPS(t *testing.T) {
	p := newPKI(t)
	c := &secconf.Config{}
	c.HTTPS.Volume.Cert, c.HTTPS.Volume.Key = p.srvCert, p.srvKey
	set, err := Build(c)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	b, _ := os.ReadFile(p.ca.CertFile)
	roots.AppendCertsFromPEM(b)
	plainClient := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
	if s, cl := handshake(t, set.HTTPSServer, plainClient); s != nil || cl != nil {
		t.Fatalf("HTTPS without client certificates: %v %v", s, cl)
	}
	c.HTTPS.Volume.CA = p.ca.CertFile
	c.TLS.MinVersion = "TLS 1.3"
	if set, err = Build(c); err != nil {
		t.Fatal(err)
	}
	if s, _ := handshake(t, set.HTTPSServer, plainClient); s == nil {
		t.Fatal("https.volume.ca set, yet a client without a certificate got in")
	}
	if set.HTTPSServer.MinVersion != tls.VersionTLS13 {
		t.Fatal("[tls] not applied to HTTPS with client certificates")
	}
	c.HTTPS.Client.Enabled, c.HTTPS.Client.CA = true, p.ca.CertFile
	c.HTTPS.Client.Cert, c.HTTPS.Client.Key = p.cliCert, p.cliKey
	if set, err = Build(c); err != nil {
		t.Fatal(err)
	}
	client := set.HTTPClient.Clone()
	client.ServerName = "127.0.0.1"
	if s, cl := handshake(t, set.HTTPSServer, client); s != nil || cl != nil {
		t.Fatalf("https.client against https.volume with a CA: %v %v", s, cl)
	}
}

// TestReload: new certificate files are served after Reload; a broken file
// keeps the old certificate in use.
func TestReload(t *testing.T) {
	p := newPKI(t)
	set, err := Build(grpcConfig(p))
	if err != nil {
		t.Fatal(err)
	}
	first, _ := set.GRPCServer.GetCertificate(nil)
	if _, _, err := p.ca.Issue("volume", "volume02"); err != nil { // rewrites volume.crt/.key
		t.Fatal(err)
	}
	if err := set.Reload(); err != nil {
		t.Fatal(err)
	}
	second, _ := set.GRPCServer.GetCertificate(nil)
	leaf, _ := x509.ParseCertificate(second.Certificate[0])
	if second == first || leaf.Subject.CommonName != "volume02" {
		t.Fatalf("reload did not pick up the new certificate (%s)", leaf.Subject.CommonName)
	}
	os.WriteFile(p.srvCert, []byte("garbage"), 0o600)
	if err := set.Reload(); err == nil {
		t.Fatal("a broken certificate file reloaded without an error")
	}
	if now, _ := set.GRPCServer.GetCertificate(nil); now != second {
		t.Fatal("a broken file replaced the certificate in use")
	}
}

// TestSettingsThatCannotBeHonoured: a configuration Build cannot carry out
// is an error naming the setting, never a quiet fallback to plain TCP.
func TestSettingsThatCannotBeHonoured(t *testing.T) {
	p := newPKI(t)
	tests := []struct {
		name string
		set  func(c *secconf.Config)
		want string
	}{
		{"gRPC cert without CA", func(c *secconf.Config) { c.GRPC.CA = "" }, "grpc.ca"},
		{"gRPC cert without key", func(c *secconf.Config) { c.GRPC.Volume.Key = "" }, "grpc.volume.key"},
		{"missing certificate file", func(c *secconf.Config) { c.GRPC.Volume.Cert = "/nonexistent.crt" }, "/nonexistent.crt"},
		{"CA file without certificates", func(c *secconf.Config) { c.GRPC.CA = p.srvKey }, "no CA certificates"},
		{"half a client pair", func(c *secconf.Config) { c.GRPC.Volume.ClientCert = p.cliCert }, "client_key"},
		{"unknown TLS version", func(c *secconf.Config) { c.TLS.MinVersion = "TLS 9" }, "tls.min_version"},
		{"unknown cipher suite", func(c *secconf.Config) { c.TLS.CipherSuites = "TLS_NOPE" }, "tls.cipher_suites"},
		{"HTTPS client CA without HTTPS", func(c *secconf.Config) { c.HTTPS.Volume.CA = p.ca.CertFile }, "https.volume.ca"},
		{"HTTPS half a pair", func(c *secconf.Config) { c.HTTPS.Volume.Key = p.srvKey }, "https.volume.cert"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := grpcConfig(p)
			tc.set(c)
			_, err := Build(c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Build: %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func TestWildcardDomain(t *testing.T) {
	for _, tc := range []struct {
		name, domain string
		want         bool
	}{
		{"volume.example.com", ".example.com", true}, {"volume.example.com", "example.com", true},
		{"example.com", ".example.com", false}, {".example.com", ".example.com", false},
		{"evilexample.com", "example.com", false}, {"10.0.0.1", ".0.0.1", false}, {"a.example.com", "", false},
	} {
		if got := matchesWildcardDomain(tc.name, tc.domain); got != tc.want {
			t.Errorf("matchesWildcardDomain(%q, %q) = %v", tc.name, tc.domain, got)
		}
	}
}
