#!/usr/bin/env bash
# Installs Debian's clickhouse-server and clickhouse-client when missing
# (as root), or prints the command to run. Skipped when the demo is pointed
# at an existing server with LIFELINE_CLICKHOUSE_ADDR.
set -euo pipefail
[ -n "${LIFELINE_CLICKHOUSE_ADDR:-}" ] && command -v clickhouse-client >/dev/null && exit 0
if command -v clickhouse-server >/dev/null && command -v clickhouse-client >/dev/null; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  echo "demo: installing clickhouse-server and clickhouse-client (apt-get) …"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends clickhouse-server clickhouse-client >/dev/null
else
  echo "demo: ClickHouse is missing. Install it with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y clickhouse-server clickhouse-client" >&2
  exit 1
fi
