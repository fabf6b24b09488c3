// Package secconf reads upstream's security.toml as upstream's volume server
// does: the file is found in upstream's search path (or named by
// -securityFile), keys are case-insensitive, and every key can be set, or
// overridden, by an environment variable named WEED_ plus the key in upper
// case with '.' as '_' (WEED_JWT_SIGNING_KEY for jwt.signing.key). A set
// variable wins over the file, so the file may be absent.
//
// Config holds every key a volume server acts on; Keys lists them. A key of
// the file outside that list belongs to another component (master, filer,
// S3, ...) and is ignored, as upstream's volume server ignores it.
package secconf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Config is the part of security.toml a volume server uses.
type Config struct {
	JWT struct {
		Signing struct {
			Key                 string
			ExpiresAfterSeconds int
			Read                struct {
				Key                 string
				ExpiresAfterSeconds int
			}
		}
	}
	Access struct{ UI bool }
	Guard  struct{ WhiteList string }
	// GRPC is [grpc] and [grpc.volume]: mutual TLS of the gRPC server and
	// of the calls this server makes (master, peers).
	GRPC struct {
		CA                          string
		AllowedWildcardDomain       string
		AllowedServerCommonNames    string
		AllowedServerWildcardDomain string
		Volume                      struct {
			Cert, Key, ClientCert, ClientKey string
			AllowedCommonNames               string
			AllowedServerCommonNames         string
			AllowedServerWildcardDomain      string
		}
	}
	// HTTPS is [https.volume] (the admin port's server side) and
	// [https.client] (HTTP calls to other servers).
	HTTPS struct {
		Volume struct{ Cert, Key, CA string }
		Client struct {
			Enabled            bool
			Cert, Key, CA      string
			InsecureSkipVerify bool
		}
	}
	// TLS is [tls]: versions and cipher suites for every TLS above.
	TLS struct{ MinVersion, MaxVersion, CipherSuites string }

	// Path is the file the configuration came from, "" when none was found.
	Path string
	// Env lists the keys an environment variable set.
	Env []string
}

// field binds a key to where it lands in Config.
type field struct {
	key string
	set func(c *Config, v string) error
}

func str(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

func integer(p func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("not an integer: %q", v)
		}
		*p(c) = n
		return nil
	}
}

func boolean(p func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("not a boolean: %q", v)
		}
		*p(c) = b
		return nil
	}
}

// fields is every key a volume server reads, lower case as upstream's
// configuration library keys them.
var fields = []field{
	{"jwt.signing.key", str(func(c *Config) *string { return &c.JWT.Signing.Key })},
	{"jwt.signing.expires_after_seconds", integer(func(c *Config) *int { return &c.JWT.Signing.ExpiresAfterSeconds })},
	{"jwt.signing.read.key", str(func(c *Config) *string { return &c.JWT.Signing.Read.Key })},
	{"jwt.signing.read.expires_after_seconds", integer(func(c *Config) *int { return &c.JWT.Signing.Read.ExpiresAfterSeconds })},
	{"access.ui", boolean(func(c *Config) *bool { return &c.Access.UI })},
	{"guard.white_list", str(func(c *Config) *string { return &c.Guard.WhiteList })},
	{"grpc.ca", str(func(c *Config) *string { return &c.GRPC.CA })},
	{"grpc.allowed_wildcard_domain", str(func(c *Config) *string { return &c.GRPC.AllowedWildcardDomain })},
	{"grpc.allowed_server_commonnames", str(func(c *Config) *string { return &c.GRPC.AllowedServerCommonNames })},
	{"grpc.allowed_server_wildcard_domain", str(func(c *Config) *string { return &c.GRPC.AllowedServerWildcardDomain })},
	{"grpc.volume.cert", str(func(c *Config) *string { return &c.GRPC.Volume.Cert })},
	{"grpc.volume.key", str(func(c *Config) *string { return &c.GRPC.Volume.Key })},
	{"grpc.volume.client_cert", str(func(c *Config) *string { return &c.GRPC.Volume.ClientCert })},
	{"grpc.volume.client_key", str(func(c *Config) *string { return &c.GRPC.Volume.ClientKey })},
	{"grpc.volume.allowed_commonnames", str(func(c *Config) *string { return &c.GRPC.Volume.AllowedCommonNames })},
	{"grpc.volume.allowed_server_commonnames", str(func(c *Config) *string { return &c.GRPC.Volume.AllowedServerCommonNames })},
	{"grpc.volume.allowed_server_wildcard_domain", str(func(c *Config) *string { return &c.GRPC.Volume.AllowedServerWildcardDomain })},
	{"https.volume.cert", str(func(c *Config) *string { return &c.HTTPS.Volume.Cert })},
	{"https.volume.key", str(func(c *Config) *string { return &c.HTTPS.Volume.Key })},
	{"https.volume.ca", str(func(c *Config) *string { return &c.HTTPS.Volume.CA })},
	{"https.client.enabled", boolean(func(c *Config) *bool { return &c.HTTPS.Client.Enabled })},
	{"https.client.cert", str(func(c *Config) *string { return &c.HTTPS.Client.Cert })},
	{"https.client.key", str(func(c *Config) *string { return &c.HTTPS.Client.Key })},
	{"https.client.ca", str(func(c *Config) *string { return &c.HTTPS.Client.CA })},
	{"https.client.insecure_skip_verify", boolean(func(c *Config) *bool { return &c.HTTPS.Client.InsecureSkipVerify })},
	{"tls.min_version", str(func(c *Config) *string { return &c.TLS.MinVersion })},
	{"tls.max_version", str(func(c *Config) *string { return &c.TLS.MaxVersion })},
	{"tls.cipher_suites", str(func(c *Config) *string { return &c.TLS.CipherSuites })},
}

// Keys lists the keys Config holds.
func Keys() []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.key
	}
	return out
}

// EnvName is the environment variable that sets key.
func EnvName(key string) string {
	return "WEED_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// SearchDirs are upstream's places for configuration files, in order,
// after an explicit -config_dir.
func SearchDirs(configDir string) []string {
	var dirs []string
	if configDir != "" {
		dirs = append(dirs, configDir)
	}
	dirs = append(dirs, ".")
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".seaweedfs"))
	}
	return append(dirs, "/usr/local/etc/seaweedfs", "/etc/seaweedfs")
}

// Load reads path, or when path is empty the first security.toml in
// SearchDirs(configDir), then applies the WEED_* environment. No file at
// all is the environment alone, as upstream. The defaults are upstream's:
// write tokens expire after 10 s, read tokens after 60 s.
func Load(path, configDir string) (*Config, error) {
	return load(path, configDir, os.LookupEnv)
}

func load(path, configDir string, lookup func(string) (string, bool)) (*Config, error) {
	if path == "" {
		for _, d := range SearchDirs(configDir) {
			p := filepath.Join(d, "security.toml")
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	}
	c := &Config{}
	c.JWT.Signing.ExpiresAfterSeconds = 10
	c.JWT.Signing.Read.ExpiresAfterSeconds = 60
	values := map[string]string{}
	if path != "" {
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, err
		default:
			var doc map[string]any
			if _, err := toml.Decode(string(b), &doc); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			flatten("", doc, values)
			c.Path = path
		}
	}
	for _, f := range fields {
		v, fromFile := values[f.key]
		// an empty variable counts as unset, as in upstream's library
		if ev, ok := lookup(EnvName(f.key)); ok && ev != "" {
			v, fromFile = ev, true
			c.Env = append(c.Env, f.key)
		}
		if !fromFile {
			continue
		}
		if err := f.set(c, v); err != nil {
			return nil, fmt.Errorf("security configuration %s: %w", f.key, err)
		}
	}
	return c, nil
}

// flatten turns nested tables into dotted lower-case keys with their
// values as text.
func flatten(prefix string, m map[string]any, out map[string]string) {
	for k, v := range m {
		key := strings.ToLower(k)
		if prefix != "" {
			key = prefix + "." + key
		}
		switch t := v.(type) {
		case map[string]any:
			flatten(key, t, out)
		case string:
			out[key] = t
		default:
			out[key] = fmt.Sprint(t)
		}
	}
}
