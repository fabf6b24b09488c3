package secconf

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "security.toml")
	os.WriteFile(p, []byte("[jwt.signing]\nkey = \"w\"\nexpires_after_seconds = 60\n\n[jwt.signing.read]\nkey = \"r\"\n\n[access]\nui = true\n[guard]\nwhite_list = \"1.2.3.4\"\n"), 0o644)
	c, err := Load("", dir)
	if err != nil || c.Path != p || c.JWT.Signing.Key != "w" || c.JWT.Signing.ExpiresAfterSeconds != 60 ||
		c.JWT.Signing.Read.Key != "r" || !c.Access.UI || c.Guard.WhiteList != "1.2.3.4" {
		t.Fatalf("%+v %v", c, err)
	}
	if c, err := Load(filepath.Join(dir, "missing.toml"), ""); err != nil || c.Path != "" {
		t.Fatalf("missing file: %+v %v", c, err)
	}
	os.WriteFile(p, []byte("[jwt.signing\n"), 0o644)
	if _, err := Load(p, ""); err == nil {
		t.Fatal("malformed toml accepted")
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "security.toml")
	os.WriteFile(p, []byte("[jwt.signing]\nkey = \"file\"\n[grpc.volume]\nallowed_commonNames = \"a,b\"\n[https.client]\nenabled = true\n[grpc.master]\ncert = \"ignored\"\n"), 0o644)
	env := map[string]string{
		"WEED_JWT_SIGNING_KEY":        "env",
		"WEED_JWT_SIGNING_READ_KEY":   "read-env",
		"WEED_GUARD_WHITE_LIST":       "",  // empty: unset
		"WEED_ACCESS_UI":              "1", // upstream's casts accept 1/t/true
		"WEED_TLS_MIN_VERSION":        "TLS 1.2",
		"WEED_HTTPS_CLIENT_ENABLED":   "false",
		"WEED_GRPC_VOLUME_CLIENT_KEY": "k.pem",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c, err := load(p, "", lookup)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case c.JWT.Signing.Key != "env", c.JWT.Signing.Read.Key != "read-env", c.Guard.WhiteList != "",
		!c.Access.UI, c.TLS.MinVersion != "TLS 1.2", c.HTTPS.Client.Enabled, c.GRPC.Volume.ClientKey != "k.pem":
		t.Fatalf("env not applied: %+v", c)
	case c.GRPC.Volume.AllowedCommonNames != "a,b":
		t.Fatalf("mixed-case key: %q", c.GRPC.Volume.AllowedCommonNames)
	case c.JWT.Signing.ExpiresAfterSeconds != 10 || c.JWT.Signing.Read.ExpiresAfterSeconds != 60:
		t.Fatalf("defaults: %+v", c.JWT)
	}
	// no file at all: the environment alone
	c, err = load("", t.TempDir(), lookup)
	if err != nil || c.Path != "" || c.JWT.Signing.Key != "env" {
		t.Fatalf("env without a file: %+v %v", c, err)
	}
	env["WEED_JWT_SIGNING_EXPIRES_AFTER_SECONDS"] = "soon"
	if _, err := load("", t.TempDir(), lookup); err == nil {
		t.Fatal("a bad integer was accepted")
	}
}
