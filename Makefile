# weedvol build, test and run entry points. See README.md.
SHELL := /bin/bash
GO    ?= go
ROOT  := $(abspath .)
BIN   := $(ROOT)/bin

# The pinned upstream SeaweedFS release; tools/weed/go.mod requires it.
WEED        := $(BIN)/weed
WEED5       := $(BIN)/weed-5b
WEEDVOL     := $(BIN)/weedvol
WEED_PKG    := github.com/seaweedfs/seaweedfs/weed

GO_SOURCES := $(shell find . -name '*.go' -not -path './tools/*' -not -path './parity/*' 2>/dev/null)

.PHONY: all build test test-unit vet fuzz-smoke darwin run bench bench-quick microbench parity parity-ratchet crash difftest release clean

all: build

build: $(WEEDVOL)

# Upstream weed, default build (4-byte .idx offsets).
$(WEED): tools/weed/go.mod tools/weed/go.sum
	cd tools/weed && $(GO) build -o $(WEED) $(WEED_PKG)

# Upstream weed built with 5-byte .idx offsets, for interop tests.
$(WEED5): tools/weed/go.mod tools/weed/go.sum
	cd tools/weed && $(GO) build -tags 5BytesOffset -o $(WEED5) $(WEED_PKG)

$(WEEDVOL): $(GO_SOURCES) go.mod go.sum
	$(GO) build -ldflags "-X $(COMMIT_VAR)=$(COMMIT)" -o $(WEEDVOL) ./cmd/weedvol

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

# macOS builds use the portable I/O engine; keep them compiling.
darwin:
	GOOS=darwin GOARCH=arm64 $(GO) build ./...
	GOOS=darwin GOARCH=arm64 $(GO) vet ./iouring/ ./mmapidx/ ./engine/...

CONCURRENCY_TESTS := Concurrent|GroupCommit|SetWhileReading|FrontManyRequests|CompressedNeedlesKeepTheirNames|CloseWithReaders

# Every test, with the real upstream binaries for interop, then the
# upstream parity ratchet.
test: $(WEED) $(WEED5) build vet darwin
	WEED_BINARY=$(WEED) WEED5_BINARY=$(WEED5) $(GO) test -race -timeout 30m ./...
	@# the concurrency tests again, a few times: an interleaving seen once
	@# should not hide behind a lucky run
	$(GO) test -race -count=3 -run '$(CONCURRENCY_TESTS)' ./mmapidx ./engine ./httpfast ./guard
	$(MAKE) fuzz-smoke
	$(MAKE) parity-ratchet

# Upstream's test/volume_server tests listed in parity/expected-pass.txt,
# against bin/weedvol; fails if any of them fails.
parity-ratchet: $(WEED) build
	cd parity && $(GO) run ./cmd/runparity -ratchet=expected-pass.txt -weedvol=$(WEEDVOL) -weed=$(WEED)

# The whole suite against weedvol, written to parity/STATUS.md.
parity: $(WEED) build
	cd parity && $(GO) run ./cmd/runparity -impl=weedvol -weedvol=$(WEEDVOL) -weed=$(WEED) -status=STATUS.md

# A few seconds of each fuzz target beyond its seed corpus.
FUZZ_TARGETS := ./engine/needle:FuzzDecode ./engine/needle:FuzzParseKeyCookie ./engine/superblock:FuzzDecode \
                ./engine/idx:FuzzDecode ./engine/vif:FuzzDecode ./httpfast:FuzzParseManifest ./httpfast:FuzzAppendUploadResult ./httpfast:FuzzAppendDisposition ./httpfast:FuzzClassifyBlock ./httpfast:FuzzChunkScanner \
                ./engine/ec:FuzzJournal ./engine/ec:FuzzSums ./engine/ec:FuzzLocate ./grpcsvc:FuzzEcxTombstones ./grpcsvc:FuzzEcjDecoder
# A fixed number of inputs, not a duration: on a loaded machine an input
# can outlast a timed run's end, which Go's fuzzer reports as a failure
# ("context deadline exceeded"; it happened to FuzzAppendUploadResult in CI).
FUZZTIME ?= 20000x
# The targets that write a file per input (mmapidx, the .ecx): fewer inputs.
FUZZCOUNT_FILES ?= 3000x
fuzz-smoke:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$pkg $$fn"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; done
	@for t in ./mmapidx: ./engine/ec:FuzzIndex; do pkg=$${t%%:*}; only=$${t##*:}; \
	  for fn in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' | grep "$$only"); do \
	    echo "fuzz $$pkg $$fn"; $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZCOUNT_FILES) $$pkg || exit 1; done; done

# 100 SIGKILL/restart cycles of weedvol under load, with tail cuts
# (reliability/doc.go); the short form runs in `make test`.
crash: $(WEED) build
	WEED_BINARY=$(WEED) WEEDVOL_BINARY=$(WEEDVOL) $(GO) test -count=1 -timeout 60m -run TestCrash ./reliability -crash.cycles=100 -v

# The differential harness (difftest/) long: 4 seeds x 2 offset widths x
# 2500 random reads, plus the gRPC, raw-protocol and write phases of each
# (about 30,000 compared requests); the short form runs in `make test`.
DIFFTEST_SEEDS ?= 1,2,3,4
DIFFTEST_REQUESTS ?= 2500
difftest: $(WEED) $(WEED5) build
	set -o pipefail; WEED_BINARY=$(WEED) WEED5_BINARY=$(WEED5) WEEDVOL_BINARY=$(WEEDVOL) $(GO) test -count=1 -timeout 60m -run TestDifferential ./difftest \
	  -difftest.seeds=$(DIFFTEST_SEEDS) -difftest.requests=$(DIFFTEST_REQUESTS) -v | grep -v '^=== ' | tee difftest.log | grep -E 'difftest:|FAIL|ok  '

# A local master + weedvol on ./data, ready to take uploads.
run: $(WEED) build
	./scripts/run.sh

# Side by side with upstream `weed volume` (bench/): the full run writes its
# tables into PERF.md; the quick one prints them (under 2 minutes).
# Run as root for the cold-cache figures (it drops the page cache).
bench: $(WEED) build
	$(GO) run ./bench -weed $(WEED) -weedvol $(WEEDVOL) -perf PERF.md

bench-quick: $(WEED) build
	$(GO) run ./bench -quick -weed $(WEED) -weedvol $(WEEDVOL)

# go test micro-benchmarks of the hot paths.
microbench:
	$(GO) test -run '^$$' -bench . -benchmem ./engine/... ./iouring/ ./mmapidx/ ./httpfast/

# Static release binaries with version information, one tarball per
# platform (binary, LICENSE, README.md, RELEASE_NOTES.md, the systemd unit)
# and SHA256SUMS, in $(DIST). `weedvol version` prints what was stamped:
# VERSION and COMMIT below (the commit also from the build information
# when the build stamps it), and the Go version.
VERSION         ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
VERSION_VAR     := github.com/weedvol/weedvol/buildinfo.Version
COMMIT_VAR      := github.com/weedvol/weedvol/buildinfo.Commit
COMMIT          ?= $(shell git rev-parse HEAD 2>/dev/null)
RELEASE_TARGETS ?= linux/amd64 linux/arm64 darwin/arm64 darwin/amd64
DIST            ?= $(ROOT)/dist
release:
	@set -e; rm -rf $(DIST); mkdir -p $(DIST); \
	for t in $(RELEASE_TARGETS); do os=$${t%/*}; arch=$${t#*/}; \
	  name=weedvol-$(VERSION)-$$os-$$arch; dir=$(DIST)/$$name; mkdir -p $$dir; \
	  echo "build $$name"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath \
	    -ldflags "-s -w -X $(VERSION_VAR)=$(VERSION) -X $(COMMIT_VAR)=$(COMMIT)" -o $$dir/weedvol ./cmd/weedvol; \
	  cp LICENSE README.md RELEASE_NOTES.md packaging/weedvol.service packaging/weedvol.default $$dir/; \
	  tar -C $(DIST) -czf $(DIST)/$$name.tar.gz $$name; rm -rf $$dir; \
	done; \
	cd $(DIST) && sha256sum *.tar.gz > SHA256SUMS && cat SHA256SUMS

clean:
	rm -rf $(BIN) $(DIST)
