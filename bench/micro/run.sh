#!/usr/bin/env bash
# Runs the runtime micro-benchmarks next to fio on the same disk, in the same
# run, and rewrites the "runtime" section of BENCHMARKS.md with the figures.
#
#   bench/micro/run.sh [DIR]    DIR: where the write+fdatasync files go
#                               (default ./ringlog-data/bench, the broker's disk)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
dir=${1:-$root/ringlog-data/bench}
mkdir -p "$dir"
out=$(mktemp -d)
trap 'rm -rf "$out"; rm -f "$dir"/fio-4k.* ' EXIT

./scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target runtime_bench >/dev/null

echo "fio: 4 KiB sequential writes, fdatasync after each, 10 s, in $dir" >&2
fio --name=fio-4k --directory="$dir" --rw=write --bs=4k --size=1g --fdatasync=1 \
    --ioengine=psync --time_based --runtime=10 --output-format=json >"$out/fio.json"

echo "runtime_bench" >&2
RINGLOG_BENCH_DIR="$dir" build/release/bench/micro/runtime_bench \
    --benchmark_format=json --benchmark_repetitions=3 >"$out/bench.json"

python3 - "$out/fio.json" "$out/bench.json" "$root/BENCHMARKS.md" <<'PY'
import json, os, platform, re, subprocess, sys
fio = json.load(open(sys.argv[1]))
bench = json.load(open(sys.argv[2]))
md_path = sys.argv[3]

fio_iops = fio["jobs"][0]["write"]["iops"]
fio_sync = fio["jobs"][0].get("sync", {}).get("lat_ns", {})
fio_sync_p99 = fio_sync.get("percentile", {}).get("99.000000", 0) / 1000.0

def runs_of(run_name):
    return sorted(b["real_time"] for b in bench["benchmarks"]
                  if b.get("run_name") == run_name and b.get("run_type") == "iteration")

table = []
for label, name in [
    ("task await (symmetric transfer)", "BM_TaskAwait/real_time"),
    ("yield through the shard loop", "BM_YieldThroughLoop/real_time"),
    ("IORING_OP_NOP round trip", "BM_NopRoundTrip/real_time"),
    ("cross-shard call, MSG_RING", "BM_CrossShardCall/1/real_time"),
    ("cross-shard call, eventfd", "BM_CrossShardCall/0/real_time"),
]:
    t = runs_of(name)
    if t:
        table.append(f"| {label} | {t[len(t)//2]:,.0f} ns | {t[0]:,.0f} | {t[-1]:,.0f} |")

w = runs_of("BM_Write4kFdatasync/min_time:3.000/real_time")
ops = [1e9 / x for x in w]
ops_med = sorted(ops)[len(ops) // 2] if ops else 0
ratio = ops_med / fio_iops if fio_iops else 0

kernel = platform.release()
cpu = "unknown"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
cores = os.cpu_count()
mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
disk = subprocess.run(["df", "--output=source,fstype", os.path.dirname(md_path)], capture_output=True, text=True).stdout.split("\n")[1].strip()

section = f"""<!-- runtime:begin (written by bench/micro/run.sh; do not edit by hand) -->
Machine: {cpu}, {cores} cores, {mem_gib:.0f} GiB, kernel {kernel}, data on `{disk}`.
Command: `bench/micro/run.sh` (3 repetitions; median, min, max).

| runtime operation | median | min | max |
|---|---:|---:|---:|
{chr(10).join(table)}

| 4 KiB write + fdatasync, one at a time | ops/s | ratio to fio |
|---|---:|---:|
| fio (psync, `--fdatasync=1`), same disk, same run | {fio_iops:,.0f} | 1.00 |
| ringlog runtime (`io::write` + `io::fdatasync`) | {ops_med:,.0f} (min {min(ops):,.0f}, max {max(ops):,.0f}) | {ratio:.2f} |

fio's fdatasync p99 in this run: {fio_sync_p99:,.0f} µs.
<!-- runtime:end -->"""

md = open(md_path).read() if os.path.exists(md_path) else ""
pattern = re.compile(r"<!-- runtime:begin.*?<!-- runtime:end -->", re.S)
if pattern.search(md):
    md = pattern.sub(lambda _: section, md)
else:
    md += "\n" + section + "\n"
open(md_path, "w").write(md)
print(section)
PY
