//go:build parity_deps

// Package parity holds the runner of upstream's volume server integration
// suite. This file only pins the suite's module in go.mod; the build tag
// keeps it out of every build.
package parity

import _ "github.com/seaweedfs/seaweedfs/test/volume_server/framework"
