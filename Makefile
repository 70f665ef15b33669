# Lifeline — plant safety telemetry. `make help` lists the targets.

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)
BUILD_DATE ?= $(shell git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
BUILDINFO := github.com/lifeline-telemetry/lifeline/proto/buildinfo
# The build date is the commit's, so the same commit builds the same binary.
LDFLAGS   := -s -w -X $(BUILDINFO).Version=$(VERSION) -X $(BUILDINFO).Commit=$(COMMIT) -X $(BUILDINFO).Date=$(BUILD_DATE)
BIN       := bin
BINARIES  := lifeline-agent lifeline-aggregator lifeline-plantsim
TOOLS     := $(CURDIR)/bin/tools

# Pinned code generators, fetched through the Go module proxy.
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.1

# node-opcua, an independent OPC UA server for the interoperability tests,
# installed into a git-ignored folder (the tests install it too when missing).
NODE_OPCUA_VERSION := 2.182.2
NODE_OPCUA_DIR     := var/node-opcua

# chdb, a current ClickHouse (26.x) in process, for the tests that run the
# current-server schema and every query on it (~550 MB, installed once).
CHDB_VERSION := 3.4.0
CHDB_DIR     := var/chdb

.PHONY: help build test test-cluster vet fmt-check demo proto bench bench-peer telegraf soak clean node-opcua chdb package msi

help:
	@echo "make build   build $(BINARIES) into $(BIN)/"
	@echo "make test    run every test (starts its own clickhouse-server)"
	@echo "make test-cluster  the store and the whole system on ClickHouse clusters with ZooKeeper (minutes; CLUSTER_LONG=1 for longer runs)"
	@echo "make demo    ClickHouse + plant simulator + aggregator + agent, data flowing (DEMO_SECONDS=N to stop after N s)"
	@echo "make bench   load runs and micro-benchmarks into docs/benchmarks.md (minutes; not part of make test)"
	@echo "make bench-peer  the agent beside Telegraf $(TELEGRAF_VERSION), memory and disk buffer, same plant and ClickHouse"
	@echo "make soak    several plants through random faults, then checks every site's record (SOAK_DURATION=10m SOAK_SEED=N)"
	@echo "make proto   regenerate protobuf code with pinned generators"
	@echo "make package .deb and .rpm of agent and aggregator for linux amd64/arm64 into $(DIST)/"
	@echo "make msi     the Windows agent's installer, dist/lifeline-agent-VERSION-amd64.msi (needs wixl, msitools)"

# Static binaries (CGO_ENABLED=0), the same ones the packages ship.
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/lifeline-agent ./agent/cmd/lifeline-agent
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/lifeline-aggregator ./aggregator/cmd/lifeline-aggregator
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/lifeline-plantsim ./agent/cmd/lifeline-plantsim

# The agent also runs on Windows (docs/windows.md): vet it as built there.
vet:
	$(GO) vet ./...
	GOOS=windows GOARCH=amd64 $(GO) vet ./agent/... ./proto/...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

test: fmt-check vet build node-opcua chdb
	$(GO) test -race -count=1 -timeout 25m ./...

# The store in cluster mode (docs/scaling.md): each test starts Debian's
# ZooKeeper and two clickhouse-servers (replicas of a shard, or two shards).
CLUSTER_LONG ?=
test-cluster:
	$(GO) vet -tags cluster ./aggregator/store/
	$(GO) vet -tags cluster ./packaging/e2e/
	LIFELINE_CLUSTER_LONG=$(CLUSTER_LONG) $(GO) test -tags cluster -count=1 -timeout 20m -run '^TestCluster' ./aggregator/store/
	$(GO) test -tags cluster -count=1 -timeout 12m -run '^TestClusterWholeSystem$$' ./packaging/e2e/

demo: build
	@bash packaging/demo/ensure-clickhouse.sh
	@$(GO) build -o $(BIN)/lifeline-demo ./packaging/demo
	@$(BIN)/lifeline-demo

# Load runs against a ClickHouse of their own (or LIFELINE_CLICKHOUSE_ADDR)
# and the Go micro-benchmarks; rewrites docs/benchmarks.md and .json.
# BENCH_FLAGS=-short checks the run in a minute; -only ingest,agent picks sections.
bench: build chdb
	$(GO) build -o $(BIN)/lifeline-bench ./packaging/cmd/lifeline-bench
	$(BIN)/lifeline-bench -bin $(BIN) -markdown docs/benchmarks.md -json docs/benchmarks.json $(BENCH_FLAGS)

# Telegraf, the peer the agent is measured against: a pinned release built
# once through the Go module proxy with only inputs.opcua_listener and
# outputs.sql, outside our go.mod, into var/peer/. bench-peer runs the agent,
# Telegraf with its memory buffer and with its disk buffer against the same
# plantsim load and ClickHouse into $(PEER_REPORT).md and .json; for the peer
# section in docs/benchmarks.md, `make telegraf` then
# `make bench BENCH_FLAGS=-telegraf=$(TELEGRAF)`.
TELEGRAF_VERSION := v1.39.3
TELEGRAF         := var/peer/telegraf-$(TELEGRAF_VERSION)
PEER_REPORT      ?= var/bench-peer
telegraf:
	@bash packaging/peer/build-telegraf.sh $(TELEGRAF_VERSION) var/peer >/dev/null

bench-peer: build telegraf
	$(GO) build -o $(BIN)/lifeline-bench ./packaging/cmd/lifeline-bench
	$(BIN)/lifeline-bench -bin $(BIN) -only peer -telegraf $(TELEGRAF) -markdown $(PEER_REPORT).md -json $(PEER_REPORT).json $(BENCH_FLAGS)

# Random faults (kill -9, ClickHouse stop, cut and black-holed links, wiped
# buffers, OPC UA restarts) against several plants; make test runs 40 s of it.
SOAK_DURATION ?= 10m
SOAK_SEED     ?= 0
SOAK_SITES    ?= 3
soak: build
	$(GO) test -count=1 -v -timeout 0 -run '^TestSoak$$' ./packaging/e2e/ \
		-soak.duration=$(SOAK_DURATION) -soak.seed=$(SOAK_SEED) -soak.sites=$(SOAK_SITES)

proto:
	@command -v protoc >/dev/null || { echo "protoc missing: apt-get install -y protobuf-compiler"; exit 1; }
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	PATH=$(TOOLS):$$PATH protoc -I proto \
		--go_out=proto --go_opt=paths=source_relative \
		--go-grpc_out=proto --go-grpc_opt=paths=source_relative \
		proto/lifeline/v1/lifeline.proto

# Packages, built by nfpm (pinned, through the Go module proxy) from
# packaging/nfpm/: the static binaries, the systemd units, the default configs
# as conffiles and maintainer scripts. PKG_VERSION is the tag without its v
# on a tagged commit, else 0.0.0~git<commit time>.<commit>, which sorts below
# any release and in commit order.
NFPM_VERSION := v2.45.2
PKG_ARCHS    ?= amd64 arm64
PKG_FORMATS  ?= deb rpm
PKG_NAMES    := lifeline-agent lifeline-aggregator
PKG_VERSION  ?= $(shell v=$$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null) && echo $${v\#v} || \
	echo 0.0.0~git$$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S 2>/dev/null).$$(git rev-parse --short=12 HEAD 2>/dev/null))
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
DIST         ?= dist

package:
	GOBIN=$(TOOLS) $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)
	@mkdir -p $(DIST)
	@set -e; for pkg in $(PKG_NAMES); do \
		mkdir -p $(BIN)/pkg/$$pkg; \
		for s in postinstall preremove postremove; do \
			sed -e "s|@PKG@|$$pkg|g" -e "s|@CONFIG@|/etc/lifeline/$${pkg#lifeline-}.yaml|g" \
				packaging/nfpm/scripts/$$s.sh > $(BIN)/pkg/$$pkg/$$s; \
		done; \
	done
	@set -e; for arch in $(PKG_ARCHS); do \
		echo "build linux/$$arch"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
			-o $(BIN)/linux_$$arch/ ./agent/cmd/lifeline-agent ./aggregator/cmd/lifeline-aggregator; \
		for pkg in $(PKG_NAMES); do for fmt in $(PKG_FORMATS); do \
			ARCH=$$arch PKG_VERSION='$(PKG_VERSION)' BIN_DIR=$(BIN)/linux_$$arch SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) \
				$(TOOLS)/nfpm package --config packaging/nfpm/$$pkg.yaml --packager $$fmt --target $(DIST)/; \
		done; done; \
	done

node-opcua:
	@command -v npm >/dev/null || { echo "npm missing: apt-get install -y nodejs npm"; exit 1; }
	@mkdir -p $(NODE_OPCUA_DIR)
	@test -f $(NODE_OPCUA_DIR)/node_modules/node-opcua/package.json || \
		(cd $(NODE_OPCUA_DIR) && npm install --no-audit --no-fund --loglevel=error node-opcua@$(NODE_OPCUA_VERSION))

chdb:
	@command -v npm >/dev/null || { echo "npm missing: apt-get install -y nodejs npm"; exit 1; }
	@mkdir -p $(CHDB_DIR)
	@test -f $(CHDB_DIR)/node_modules/chdb/package.json || \
		(cd $(CHDB_DIR) && npm install --no-audit --no-fund --loglevel=error chdb@$(CHDB_VERSION))

# The Windows agent's MSI, built here with wixl; SIGN_CERT/SIGN_KEY or
# SIGN_PKCS12 sign it (docs/windows.md).
msi:
	LDFLAGS='$(LDFLAGS)' GO=$(GO) bash packaging/windows/build-msi.sh $(VERSION) dist/lifeline-agent-$(VERSION)-amd64.msi

clean:
	rm -rf $(BIN) dist
