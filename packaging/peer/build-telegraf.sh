#!/usr/bin/env bash
# Builds Telegraf, the peer `make bench-peer` measures the agent against,
# from a pinned release through the Go module proxy, with only the two
# plugins the bench uses. It is built outside this module (go install
# pkg@version), so Telegraf never enters our go.mod. A second run with the
# binary already there does nothing.
#
# Usage: build-telegraf.sh VERSION OUT_DIR   (prints the binary's path)
set -euo pipefail
version=${1:?version, e.g. v1.39.3}
out=${2:?output directory}
mkdir -p "$out"
out=$(cd "$out" && pwd)
bin="$out/telegraf-$version"
if [ ! -x "$bin" ]; then
	# "custom" switches off every plugin not named by its own tag.
	tags=custom,inputs.opcua_listener,outputs.sql
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	echo "building telegraf $version (-tags $tags), once" >&2
	# GOFLAGS: the caller's -mod or the like must not reach a go install
	# outside any module.
	(cd "$tmp" && GOFLAGS=-buildvcs=false GOBIN="$tmp" CGO_ENABLED=0 \
		go install -trimpath -tags "$tags" \
		-ldflags "-s -w -X github.com/influxdata/telegraf/internal.Version=${version#v}" \
		"github.com/influxdata/telegraf/cmd/telegraf@$version")
	mv "$tmp/telegraf" "$bin"
fi
echo "$bin"
