#!/usr/bin/env bash
# Installs the dependencies, builds Release and starts Ringlog with the embedded
# defaults (127.0.0.1:9092, data under ./ringlog-data). Arguments are passed on:
#   scripts/start.sh [CONFIG_FILE] [--override KEY=VALUE]...
#
# Until the broker lands (issue 4), this runs ringlog-smoke: the same config,
# the same shards and log dirs, a health check of io_uring and fdatasync on
# this host, and a report. It exits when done.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
exec build/release/tools/ringlog-smoke "$@"
