#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test with ctest.
#   scripts/test.sh              Release build, the whole suite
#   scripts/test.sh --sanitize   ASan+UBSan build, the unit tests
set -euo pipefail
cd "$(dirname "$0")/.."

preset=release
if [ "${1:-}" = "--sanitize" ]; then
  preset=asan-ubsan
fi

./scripts/install-deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
ctest --preset "$preset" -j "$(nproc)"
