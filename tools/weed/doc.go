// Package weed pins the upstream SeaweedFS release that weedvol is measured
// against. The module exists only so `make bin/weed` can build upstream's
// `weed` command with upstream's replace directives applied; no code of it is
// used by weedvol.
package weed
