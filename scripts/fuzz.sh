#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan+UBSan and coverage
# in every library (the `fuzz` preset, build/fuzz), then runs each one for a
# bounded time from its seed corpus (ctest label `fuzz`).
#   scripts/fuzz.sh                       20 s per target
#   RINGLOG_FUZZ_SECONDS=300 scripts/fuzz.sh   longer runs
#   JOBS=1 scripts/fuzz.sh                parallel build jobs (default: nproc)
# A failing target leaves the crashing input in
# build/fuzz/tests/fuzz/<target>.artifacts/; replay it with
# build/fuzz/tests/fuzz/<target> FILE.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake --preset fuzz -DRINGLOG_FUZZ_SECONDS="${RINGLOG_FUZZ_SECONDS:-20}" >/dev/null
cmake --build --preset fuzz --target record_batch_fuzz index_fuzz request_fuzz \
  metadata_record_fuzz group_record_fuzz producer_snapshot_fuzz checkpoint_fuzz config_fuzz -j "${JOBS:-$(nproc)}"
ctest --preset fuzz -L fuzz
