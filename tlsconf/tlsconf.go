// Package tlsconf turns security.toml's TLS settings into the *tls.Config
// values the listeners and clients use, as upstream's volume server reads
// them:
//
//   - [grpc.volume] cert/key with [grpc] ca: the gRPC server speaks mutual
//     TLS (a client certificate signed by the CA is required; with
//     allowed_commonNames or [grpc] allowed_wildcard_domain its common name
//     must be listed or under the domain);
//   - [grpc.volume] client_cert/client_key (else cert/key) with [grpc] ca:
//     the calls this server makes (heartbeat, peers) present that
//     certificate and check the server's chain against the CA, not its host
//     name (upstream shares certificates between hosts); with
//     allowed_server_commonNames or allowed_server_wildcard_domain the
//     server's common name, DNS or URI names must match;
//   - [https.volume] cert/key: the admin HTTP port serves HTTPS; with ca it
//     requires client certificates signed by it;
//   - [https.client] enabled: HTTP calls to other servers use HTTPS, trusting
//     ca (or the system roots), presenting cert/key when set;
//   - [tls] min_version, max_version, cipher_suites: for the gRPC server and
//     for HTTPS with client certificates, as upstream applies them.
//
// Certificates and CA files are re-read every WEED_TLS_CERT_REFRESH_INTERVAL
// (default 5h, as upstream) and on Reload (SIGHUP); a file that fails to
// load keeps the previous contents in use. Every file must load at Build:
// a setting that cannot be honoured stops start-up.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/weedvol/weedvol/secconf"
)

// Set is every TLS configuration of one server. A nil field means plain
// TCP for that side.
type Set struct {
	GRPCServer  *tls.Config
	GRPCClient  *tls.Config
	HTTPSServer *tls.Config
	// HTTPClient is set when [https.client] is enabled: calls to other
	// servers then use https.
	HTTPClient *tls.Config

	files []reloadable
}

type reloadable interface{ load() error }

// RefreshIntervalEnv names the variable that sets how often certificate
// files are re-read.
const RefreshIntervalEnv = "WEED_TLS_CERT_REFRESH_INTERVAL"

// RefreshInterval is the re-read period: the variable's duration, or 5h.
func RefreshInterval() time.Duration {
	if d, err := time.ParseDuration(os.Getenv(RefreshIntervalEnv)); err == nil && d > 0 {
		return d
	}
	return 5 * time.Hour
}

// Build loads every file the configuration names and returns the configs.
func Build(c *secconf.Config) (*Set, error) {
	s := &Set{}
	minV, err := versionByName(c.TLS.MinVersion)
	if err != nil {
		return nil, fmt.Errorf("tls.min_version: %w", err)
	}
	maxV, err := versionByName(c.TLS.MaxVersion)
	if err != nil {
		return nil, fmt.Errorf("tls.max_version: %w", err)
	}
	suites, err := cipherSuites(c.TLS.CipherSuites)
	if err != nil {
		return nil, fmt.Errorf("tls.cipher_suites: %w", err)
	}
	g := &c.GRPC
	if g.Volume.Cert != "" || g.Volume.Key != "" {
		if g.Volume.Cert == "" || g.Volume.Key == "" {
			return nil, errors.New("grpc.volume.cert and grpc.volume.key must both be set")
		}
		if g.CA == "" {
			return nil, errors.New("grpc.volume.cert and key are set but grpc.ca is not: mutual TLS needs the CA")
		}
		pair, err := s.pair("grpc.volume", g.Volume.Cert, g.Volume.Key)
		if err != nil {
			return nil, err
		}
		ca, err := s.pool("grpc.ca", g.CA)
		if err != nil {
			return nil, err
		}
		names := nameSet(g.Volume.AllowedCommonNames)
		domain := g.AllowedWildcardDomain
		s.GRPCServer = &tls.Config{
			GetCertificate: pair.serverCert,
			// the chain is checked against the current CA file below
			ClientAuth: tls.RequireAnyClientCert,
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				leaf, err := verifyChain(raw, ca.get(), x509.ExtKeyUsageClientAuth)
				if err != nil {
					return err
				}
				if len(names) == 0 && domain == "" {
					return nil
				}
				if names[leaf.Subject.CommonName] || matchesWildcardDomain(leaf.Subject.CommonName, domain) {
					return nil
				}
				return fmt.Errorf("invalid subject client common name: %s", leaf.Subject.CommonName)
			},
			MinVersion: minV, MaxVersion: maxV, CipherSuites: suites,
		}
	}
	cert, key := g.Volume.ClientCert, g.Volume.ClientKey
	if (cert == "") != (key == "") {
		return nil, errors.New("grpc.volume.client_cert and grpc.volume.client_key must both be set")
	}
	if cert == "" {
		cert, key = g.Volume.Cert, g.Volume.Key
	}
	if cert != "" {
		if g.CA == "" {
			return nil, errors.New("grpc.volume client certificate is set but grpc.ca is not")
		}
		pair, err := s.pair("grpc.volume client", cert, key)
		if err != nil {
			return nil, err
		}
		ca, err := s.pool("grpc.ca", g.CA)
		if err != nil {
			return nil, err
		}
		names := nameSet(firstOf(g.Volume.AllowedServerCommonNames, g.AllowedServerCommonNames))
		domain := firstOf(g.Volume.AllowedServerWildcardDomain, g.AllowedServerWildcardDomain)
		s.GRPCClient = &tls.Config{
			GetClientCertificate: pair.clientCert,
			// upstream checks the chain, not the host name: certificates
			// are shared between hosts; VerifyPeerCertificate checks it
			InsecureSkipVerify: true,
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				leaf, err := verifyChain(raw, ca.get(), x509.ExtKeyUsageServerAuth)
				if err != nil {
					return err
				}
				return checkServerIdentity(leaf, names, domain)
			},
		}
	}
	h := &c.HTTPS
	if h.Volume.Key != "" || h.Volume.Cert != "" {
		if h.Volume.Cert == "" || h.Volume.Key == "" {
			return nil, errors.New("https.volume.cert and https.volume.key must both be set")
		}
		pair, err := s.pair("https.volume", h.Volume.Cert, h.Volume.Key)
		if err != nil {
			return nil, err
		}
		s.HTTPSServer = &tls.Config{GetCertificate: pair.serverCert}
	}
	if h.Volume.CA != "" {
		if s.HTTPSServer == nil {
			return nil, errors.New("https.volume.ca is set but https.volume.cert and key are not: client certificates need HTTPS")
		}
		ca, err := s.pool("https.volume.ca", h.Volume.CA)
		if err != nil {
			return nil, err
		}
		s.HTTPSServer.ClientAuth = tls.RequireAnyClientCert
		s.HTTPSServer.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			_, err := verifyChain(raw, ca.get(), x509.ExtKeyUsageClientAuth)
			return err
		}
		s.HTTPSServer.MinVersion, s.HTTPSServer.MaxVersion, s.HTTPSServer.CipherSuites = minV, maxV, suites
	}
	if h.Client.Enabled {
		cfg := &tls.Config{InsecureSkipVerify: h.Client.InsecureSkipVerify}
		if h.Client.CA != "" {
			pool, err := loadPool(h.Client.CA)
			if err != nil {
				return nil, fmt.Errorf("https.client.ca: %w", err)
			}
			cfg.RootCAs = pool
		}
		if (h.Client.Cert == "") != (h.Client.Key == "") {
			return nil, errors.New("https.client.cert and https.client.key must both be set")
		}
		if h.Client.Cert != "" {
			pair, err := s.pair("https.client", h.Client.Cert, h.Client.Key)
			if err != nil {
				return nil, err
			}
			cfg.GetClientCertificate = pair.clientCert
		}
		s.HTTPClient = cfg
	}
	return s, nil
}

// Reload re-reads every file; files that fail keep their old contents.
func (s *Set) Reload() error {
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.load())
	}
	return errors.Join(errs...)
}

// Refresh re-reads the files every interval until stop is closed, logging
// failures.
func (s *Set) Refresh(interval time.Duration, stop <-chan struct{}, logf func(string, ...any)) {
	if len(s.files) == 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if err := s.Reload(); err != nil {
				logf("tls: reloading certificates: %v (keeping the ones loaded before)", err)
			}
		}
	}
}

// keyPair is a certificate and key file pair, re-readable.
type keyPair struct {
	what, certFile, keyFile string
	cur                     atomic.Pointer[tls.Certificate]
}

func (s *Set) pair(what, certFile, keyFile string) (*keyPair, error) {
	k := &keyPair{what: what, certFile: certFile, keyFile: keyFile}
	if err := k.load(); err != nil {
		return nil, err
	}
	s.files = append(s.files, k)
	return k, nil
}

func (k *keyPair) load() error {
	c, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		return fmt.Errorf("%s certificate %s / key %s: %w", k.what, k.certFile, k.keyFile, err)
	}
	k.cur.Store(&c)
	return nil
}

func (k *keyPair) serverCert(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return k.cur.Load(), nil
}

func (k *keyPair) clientCert(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return k.cur.Load(), nil
}

// caFile is a CA bundle, re-readable.
type caFile struct {
	what, file string
	cur        atomic.Pointer[x509.CertPool]
}

func (s *Set) pool(what, file string) (*caFile, error) {
	c := &caFile{what: what, file: file}
	if err := c.load(); err != nil {
		return nil, err
	}
	s.files = append(s.files, c)
	return c, nil
}

func (c *caFile) load() error {
	p, err := loadPool(c.file)
	if err != nil {
		return fmt.Errorf("%s: %w", c.what, err)
	}
	c.cur.Store(p)
	return nil
}

func (c *caFile) get() *x509.CertPool { return c.cur.Load() }

func loadPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("no CA certificates found in %s", file)
	}
	return p, nil
}

// verifyChain checks the peer's chain against roots, not its host name.
func verifyChain(raw [][]byte, roots *x509.CertPool, usage x509.ExtKeyUsage) (*x509.Certificate, error) {
	if len(raw) == 0 {
		return nil, errors.New("no certificate presented")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, r := range raw {
		c, err := x509.ParseCertificate(r)
		if err != nil {
			return nil, err
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}})
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// checkServerIdentity is upstream's server allowlist: common name, DNS
// names or URI names; no list and no domain allows any CA-signed server.
func checkServerIdentity(leaf *x509.Certificate, names map[string]bool, domain string) error {
	if len(names) == 0 && domain == "" {
		return nil
	}
	for _, n := range append([]string{leaf.Subject.CommonName}, leaf.DNSNames...) {
		if names[n] || matchesWildcardDomain(n, domain) {
			return nil
		}
	}
	for _, u := range leaf.URIs {
		if names[u.String()] {
			return nil
		}
	}
	return fmt.Errorf("untrusted server identity %q", leaf.Subject.CommonName)
}

func nameSet(list string) map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			m[n] = true
		}
	}
	return m
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// matchesWildcardDomain: name is a real subdomain of domain (".example.com"
// or "example.com"): a non-empty label in front of it, a DNS name with at
// least one non-digit label character.
func matchesWildcardDomain(name, domain string) bool {
	name, domain = strings.TrimSuffix(name, "."), strings.TrimSuffix(domain, ".")
	if domain == "" || len(name) <= len(domain) || !strings.HasSuffix(name, domain) {
		return false
	}
	if domain[0] != '.' && name[len(name)-len(domain)-1] != '.' {
		return false
	}
	return isDomainName(strings.TrimPrefix(name, "*."))
}

func isDomainName(name string) bool {
	if len(name) == 0 || len(name) > 253 {
		return false
	}
	nonNumeric := false
	for _, label := range strings.Split(name, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= '0' && c <= '9':
			case c == '-' || c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z'):
				nonNumeric = true
			default:
				return false
			}
		}
	}
	return nonNumeric
}

func versionByName(name string) (uint16, error) {
	switch name {
	case "":
		return 0, nil
	case "SSLv3":
		return tls.VersionSSL30, nil //nolint:staticcheck // accepted as upstream does
	case "TLS 1.0":
		return tls.VersionTLS10, nil
	case "TLS 1.1":
		return tls.VersionTLS11, nil
	case "TLS 1.2":
		return tls.VersionTLS12, nil
	case "TLS 1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("invalid tls version %s", name)
}

func cipherSuites(list string) ([]uint16, error) {
	list = strings.TrimSpace(list)
	if list == "" {
		return nil, nil
	}
	all := tls.CipherSuites()
	var ids []uint16
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		i := slices.IndexFunc(all, func(s *tls.CipherSuite) bool { return s.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("invalid tls cipher suite name %s", n)
		}
		ids = append(ids, all[i].ID)
	}
	return ids, nil
}
