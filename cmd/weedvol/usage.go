package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/weedvol/weedvol/buildinfo"
	"github.com/weedvol/weedvol/nodestate"
)

// printUsage writes what `weed volume -h` writes, in its layout: the
// example line, every upstream volume flag in upstream's (alphabetical)
// order with its type, help and default, and the description; then
// weedvol's own flags and the global ones, each in a section of its own.
func printUsage(w io.Writer) {
	fs := volumeFlags(&options{})
	fmt.Fprintln(w, "Example: weedvol volume -port=8080 -dir=/tmp -max=5 -ip=server_name -master=localhost:9333")
	fmt.Fprintln(w, "Default Usage:")
	fs.VisitAll(func(f *flag.Flag) {
		if !weedvolFlags[f.Name] && !isGlobal(f.Name) {
			printFlag(w, f)
		}
	})
	fmt.Fprintln(w, "Description:")
	fmt.Fprintln(w, "  start a volume server to provide storage spaces")
	fmt.Fprintln(w, "weedvol additions (not in upstream):")
	fs.VisitAll(func(f *flag.Flag) {
		if weedvolFlags[f.Name] {
			printFlag(w, f)
		}
	})
	fmt.Fprintln(w, "Global flags (upstream takes them before the subcommand; weedvol anywhere):")
	fs.VisitAll(func(f *flag.Flag) {
		if isGlobal(f.Name) {
			printFlag(w, f)
		}
	})
}

// printFlag formats one flag as the standard flag package's PrintDefaults
// does, which is also upstream's format.
func printFlag(w io.Writer, f *flag.Flag) {
	var b strings.Builder
	fmt.Fprintf(&b, "  -%s", f.Name)
	name, usage := flag.UnquoteUsage(f)
	if name != "" {
		b.WriteString(" " + name)
	}
	if b.Len() <= 4 {
		b.WriteString("\t")
	} else {
		b.WriteString("\n    \t")
	}
	b.WriteString(strings.ReplaceAll(usage, "\n", "\n    \t"))
	if !isZeroDefault(f) {
		if _, str := f.Value.(interface{ String() string }); str && name == "string" {
			fmt.Fprintf(&b, " (default %q)", f.DefValue)
		} else {
			fmt.Fprintf(&b, " (default %v)", f.DefValue)
		}
	}
	fmt.Fprintln(w, b.String())
}

func isZeroDefault(f *flag.Flag) bool {
	switch f.DefValue {
	case "", "0", "false", "0s":
		return true
	}
	return false
}

// printVersion writes upstream's `weed version` line byte for byte (the
// version weedvol is compatible with; the release build's commit field is
// empty, hence two spaces), then weedvol's own version, commit and Go
// version.
func printVersion(w io.Writer) {
	fmt.Fprintf(w, "version %s  %s %s\n", nodestate.Version, runtime.GOOS, runtime.GOARCH)
	fmt.Fprintln(w, buildinfo.Get().String())
}
