package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// shimEnv, when set to upstream weed's path, makes runparity stand in for
// the harness's alternative volume server: it rewrites the `--flag value`
// arguments into a `weed volume` command line and execs weed in its place,
// so the harness's SIGINT reaches weed itself.
const shimEnv = "RUNPARITY_SHIM_WEED"

func execShim(weed string, args []string) {
	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, shimEnv+"=") {
			env = append(env, kv)
		}
	}
	err := syscall.Exec(weed, shimArgs(weed, args), env)
	fmt.Fprintln(os.Stderr, "runparity shim: exec", weed+":", err)
	os.Exit(2)
}

// shimArgs turns the harness's arguments for the alternative server into
// argv for `weed volume`. Go's flag package already accepts `--name value`;
// the one flag weed volume lacks is --securityFile, which becomes the
// global -config_dir of the directory holding security.toml.
func shimArgs(weed string, args []string) []string {
	out := []string{weed}
	rest := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			rest = append(rest, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name != "securityFile" {
			rest = append(rest, a)
			continue
		}
		if !hasVal && i+1 < len(args) {
			i++
			val = args[i]
		}
		out = append(out, "-config_dir="+filepath.Dir(val))
	}
	out = append(out, "volume")
	return append(out, rest...)
}
