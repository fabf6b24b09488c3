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
