#!/usr/bin/env bash
# Installs everything Ringlog needs to build, test and benchmark: Debian's
# packages (Debian 12 / Ubuntu 24.04), and the Node.js test clients pinned in
# tests/integration/node/package-lock.json from npm. Both README commands call
# it; it is idempotent and skips apt and npm when everything is present.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # libraries found by CMake
  liburing-dev libxxhash-dev libmimalloc-dev libgtest-dev libgmock-dev libbenchmark-dev
  libisal-dev zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev libfmt-dev libspdlog-dev
  # sanitizer runtime and fuzzing (clang), performance limits for BENCHMARKS.md
  clang fio iperf3 gnuplot-nox python3
  # tests/integration/kafka_python_parity: kafka-python's record parser reads our
  # segments; it decodes snappy, lz4 and zstd only with these codec modules
  python3-kafka python3-snappy python3-lz4 python3-zstandard
  # tests/integration: real Kafka clients against ringlog-broker (librdkafka's
  # kcat and confluent-kafka-python, kafka-python above; pytest runs them)
  kcat python3-confluent-kafka python3-pytest
)

APT_LOG_PREFIX=install-deps
# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

install_missing "${packages[@]}"
# The sanitizer and libFuzzer runtime of the clang just installed (clang 14 on
# Debian 12, clang 18 on Ubuntu 24.04).
clang_major=$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n 1)
install_missing "libclang-rt-${clang_major}-dev"

# kafkajs for tests/integration/node: Node.js from Debian when the host has
# none, then the exact versions pinned in package-lock.json from npm.
command -v node >/dev/null || install_missing nodejs
command -v npm >/dev/null || install_missing npm
node_dir="$(dirname "$0")/../tests/integration/node"
# npm ci again whenever package-lock.json changed since the last install.
lock_sum=$(sha256sum "$node_dir/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$node_dir/node_modules/.ringlog-lock-sum" 2>/dev/null)" != "$lock_sum" ]; then
  echo "install-deps: installing the Node.js test clients (npm ci in tests/integration/node)" >&2
  npm ci --prefix "$node_dir" --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > "$node_dir/node_modules/.ringlog-lock-sum"
fi
