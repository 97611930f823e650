#!/usr/bin/env bash
# Installs everything Ringlog needs to build, test and benchmark, from Debian's
# packages only (Debian 12 / Ubuntu 24.04). Both README commands call it; it is
# idempotent and skips apt entirely when every package is already present.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # libraries found by CMake
  liburing-dev libxxhash-dev libmimalloc-dev libgtest-dev libgmock-dev libbenchmark-dev
  libisal-dev zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev libfmt-dev libspdlog-dev
  # sanitizer runtime and fuzzing (clang), performance limits for BENCHMARKS.md
  clang libclang-rt-14-dev fio iperf3 gnuplot-nox python3
  # tests/integration/kafka_python_parity: kafka-python's record parser reads our
  # segments; it decodes snappy, lz4 and zstd only with these codec modules
  python3-kafka python3-snappy python3-lz4 python3-zstandard
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
