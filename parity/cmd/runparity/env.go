package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// parityModule is the module the suite packages resolve in.
const parityModule = "weedvol.dev/parity"

// moduleDir finds the parity module: the current directory or ./parity.
// `go test` must run there so the pinned upstream version is used.
func moduleDir() (string, error) {
	for _, d := range []string{".", "parity"} {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && modulePath(b) == parityModule {
			return filepath.Abs(d)
		}
	}
	return "", errors.New("run from the parity module (or its parent directory)")
}

// modulePath returns the path on go.mod's module line.
func modulePath(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// Variables of upstream's harness (test/volume_server/framework).
const (
	envImpl = "VOLUME_SERVER_IMPL" // "rust" starts RUST_VOLUME_BINARY instead of `weed volume`
	envRust = "RUST_VOLUME_BINARY" // the alternative server; also used by mixed Go/alt clusters
	envWeed = "WEED_BINARY"        // upstream weed: master, shell, Go volume servers
)

// suiteEnv is the environment the harness reads to pick and find the
// volume server binaries. Both implementations get RUST_VOLUME_BINARY:
// the harness would otherwise try to build upstream's Rust server with
// cargo. For -impl=upstream it points at this program acting as a shim
// that runs `weed volume`, so the rust package and the mixed-cluster tests
// run upstream on both sides.
func suiteEnv(impl, weedvol, weed string) ([]string, error) {
	weedAbs, err := executable(weed, "upstream weed", "make bin/weed")
	if err != nil {
		return nil, err
	}
	env := make([]string, 0, len(os.Environ())+4)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case envImpl, envRust, envWeed, shimEnv, "PATH":
			continue
		}
		env = append(env, kv)
	}
	// S3 and shell tests look `weed` up on PATH.
	env = append(env, envWeed+"="+weedAbs,
		"PATH="+filepath.Dir(weedAbs)+string(os.PathListSeparator)+os.Getenv("PATH"))
	switch impl {
	case "weedvol":
		abs, err := executable(weedvol, "weedvol", "make build")
		if err != nil {
			return nil, err
		}
		env = append(env, envImpl+"=rust", envRust+"="+abs)
	case "upstream":
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("locate runparity for the upstream shim: %w", err)
		}
		env = append(env, envRust+"="+self, shimEnv+"="+weedAbs)
	default:
		return nil, fmt.Errorf("-impl must be weedvol or upstream, not %q", impl)
	}
	return env, nil
}

// executable returns path made absolute, or an error naming how to build it.
func executable(path, what, build string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("%s: %w (run `%s`)", what, err, build)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%s: %s is not executable", what, abs)
	}
	return abs, nil
}
