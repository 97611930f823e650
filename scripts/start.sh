#!/usr/bin/env bash
# Installs the dependencies, builds Release and starts a single-node Ringlog
# broker in the foreground with the embedded defaults (PLAINTEXT on
# 127.0.0.1:9092, data under ./ringlog-data). Ctrl-C stops it cleanly.
# Arguments are passed on to ringlog-broker:
#   scripts/start.sh [CONFIG_FILE] [--override KEY=VALUE]...
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target ringlog-broker ringlog-smoke ringlog-dump
exec build/release/broker/ringlog-broker "$@"
