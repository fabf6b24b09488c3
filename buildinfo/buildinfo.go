// Package buildinfo says which weedvol this is: its release version (set
// at link time), the commit it was built from and the Go toolchain, read
// from the binary's embedded build information. It is a leaf package so
// that every front end may show the same strings.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// Version is weedvol's release version. Release builds set it with
//
//	go build -ldflags "-X github.com/weedvol/weedvol/buildinfo.Version=1.2.3" ./cmd/weedvol
//
// and it stays "dev" otherwise.
var Version = "dev"

// Commit is the commit to report when the binary carries no VCS
// information (built with -buildvcs=false or outside a checkout); set it
// with -X like Version. vcs.revision wins when present.
var Commit = ""

// Info is what one binary knows of its build.
type Info struct {
	Version   string // Version, "dev" unless set at link time
	Commit    string // vcs.revision, "unknown" when not built from a checkout
	Modified  bool   // vcs.modified: the work tree had uncommitted changes
	GoVersion string // the toolchain that built the binary
}

var (
	once sync.Once
	info Info
)

// Get reads the build information once; later calls return the same Info.
func Get() Info {
	once.Do(func() {
		info = Info{Version: Version, Commit: Commit, GoVersion: runtime.Version()}
		if info.Commit == "" {
			info.Commit = "unknown"
		}
		bi, ok := debug.ReadBuildInfo()
		if !ok {
			return
		}
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	})
	return info
}

// ShortCommit is the commit's first 12 hex digits, "+dirty" appended when
// the work tree was modified.
func (i Info) ShortCommit() string {
	c := i.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if i.Modified {
		c += "+dirty"
	}
	return c
}

// String is the one-line form the version command, the Server header's
// comment and /status show: "weedvol 1.2.3 (commit 0123456789ab, go1.24.1)".
func (i Info) String() string {
	return "weedvol " + i.Version + " (commit " + i.ShortCommit() + ", " + i.GoVersion + ")"
}
