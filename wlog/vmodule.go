package wlog

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// modulePat is one -vmodule entry: a file name (without .go, glob
// patterns allowed) and its verbosity.
type modulePat struct {
	pattern string
	level   int
}

// parseVModule reads -vmodule as glog: "pattern=N,..."; entries at 0 are
// dropped, an empty list is nil.
func parseVModule(v string) ([]modulePat, error) {
	var out []modulePat
	for _, p := range strings.Split(v, ",") {
		if p == "" {
			continue
		}
		pat, lvl, ok := strings.Cut(p, "=")
		if !ok || pat == "" || lvl == "" || strings.Contains(lvl, "=") {
			return nil, fmt.Errorf("-vmodule %q: expect a comma-separated list of pattern=N", v)
		}
		if _, err := filepath.Match(pat, ""); err != nil {
			return nil, fmt.Errorf("-vmodule pattern %q: %w", pat, err)
		}
		n, err := strconv.Atoi(lvl)
		if err != nil {
			return nil, fmt.Errorf("-vmodule %q: level %q is not a number", v, lvl)
		}
		if n < 0 {
			return nil, errors.New("-vmodule: negative level")
		}
		if n > 0 {
			out = append(out, modulePat{pat, n})
		}
	}
	return out, nil
}

// vmoduleLevel is the -vmodule level of the file holding pc, looked up
// once per call site.
func (h *Handler) vmoduleLevel(pc uintptr) int {
	h.vmu.Lock()
	defer h.vmu.Unlock()
	if v, ok := h.vmap[pc]; ok {
		return v
	}
	fr, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	file := strings.TrimSuffix(filepath.Base(fr.File), ".go")
	v := 0
	for _, m := range h.vmodule {
		if ok, _ := filepath.Match(m.pattern, file); ok {
			v = m.level
			break
		}
	}
	h.vmap[pc] = v
	return v
}
