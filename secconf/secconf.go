// Package secconf reads upstream's security.toml: the JWT signing keys for
// writes and reads, the admin UI switch and the guard white list. It finds
// the file the way upstream does when no explicit path is given.
package secconf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"
)

// Config is the part of security.toml a volume server uses.
type Config struct {
	JWT struct {
		Signing struct {
			Key                 string `toml:"key"`
			ExpiresAfterSeconds int    `toml:"expires_after_seconds"`
			Read                struct {
				Key                 string `toml:"key"`
				ExpiresAfterSeconds int    `toml:"expires_after_seconds"`
			} `toml:"read"`
		} `toml:"signing"`
	} `toml:"jwt"`
	Access struct {
		UI bool `toml:"ui"`
	} `toml:"access"`
	Guard struct {
		WhiteList string `toml:"white_list"`
	} `toml:"guard"`
	// Path is the file the configuration came from, "" when none was found.
	Path string `toml:"-"`
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
// SearchDirs(configDir). No file at all is an empty Config, as upstream.
func Load(path, configDir string) (*Config, error) {
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
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if _, err := toml.Decode(string(b), c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.Path = path
	return c, nil
}
