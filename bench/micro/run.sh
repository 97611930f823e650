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

# The disk is shared and noisy: fio and the runtime take turns, three pairs,
# and each pair gives one ratio.
for i in 1 2 3; do
  echo "pair $i: fio 4 KiB write + fdatasync (5 s), then the runtime (3 x 3 s), in $dir" >&2
  fio --name=fio-4k --directory="$dir" --rw=write --bs=4k --size=1g --fdatasync=1 \
      --ioengine=psync --time_based --runtime=5 --output-format=json >"$out/fio$i.json"
  rm -f "$dir"/fio-4k.*
  RINGLOG_BENCH_DIR="$dir" build/release/bench/micro/runtime_bench --benchmark_filter=Write \
      --benchmark_min_time=3 --benchmark_format=json >"$out/write$i.json"
done
echo "runtime_bench: the other benchmarks, 3 repetitions" >&2
build/release/bench/micro/runtime_bench --benchmark_filter=-Write --benchmark_format=json \
    --benchmark_repetitions=3 >"$out/bench.json"

python3 - "$out" "$root/BENCHMARKS.md" <<'PY'
import json, os, platform, re, subprocess, sys
out_dir = sys.argv[1]
bench = json.load(open(os.path.join(out_dir, "bench.json")))
md_path = sys.argv[2]

pairs = []
variants = [("linked:0/pinned:0", "write, then fdatasync"),
            ("linked:1/pinned:0", "write+fdatasync linked"),
            ("linked:0/pinned:1", "write, then fdatasync, pinned shard")]
for i in (1, 2, 3):
    fio = json.load(open(os.path.join(out_dir, f"fio{i}.json")))["jobs"][0]
    runs = json.load(open(os.path.join(out_dir, f"write{i}.json")))["benchmarks"]
    ours = {}
    for key, _ in variants:
        b = next(b for b in runs if f"/{key}/" in b["name"])
        ours[key] = 1e9 / b["real_time"]
    fio_iops = fio["write"]["iops"]
    p99 = fio.get("sync", {}).get("lat_ns", {}).get("percentile", {}).get("99.000000", 0) / 1000.0
    pairs.append((fio_iops, ours, ours[variants[0][0]] / fio_iops, p99))
pairs.sort(key=lambda p: p[2])
med = pairs[1]

def runs_of(run_name):
    return sorted(b["real_time"] for b in bench["benchmarks"]
                  if b.get("run_name") == run_name and b.get("run_type") == "iteration")

table = []
for label, name in [
    ("task await (symmetric transfer)", "BM_TaskAwait/real_time"),
    ("yield through the shard loop", "BM_YieldThroughLoop/real_time"),
    ("IORING_OP_NOP round trip", "BM_NopRoundTrip/real_time"),
    ("cross-shard call, MSG_RING, pinned shards", "BM_CrossShardCall/msg_ring:1/pinned:1/real_time"),
    ("cross-shard call, eventfd, pinned shards", "BM_CrossShardCall/msg_ring:0/pinned:1/real_time"),
    ("cross-shard call, MSG_RING, unpinned", "BM_CrossShardCall/msg_ring:1/pinned:0/real_time"),
    ("floor: two threads waking each other (eventfd)", "BM_ThreadPingPong/real_time"),
]:
    t = runs_of(name)
    if t:
        table.append(f"| {label} | {t[len(t)//2]:,.0f} ns | {t[0]:,.0f} | {t[-1]:,.0f} |")

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

4 KiB write + fdatasync, one at a time, on a file laid out to 1 GiB first:
fio (`--ioengine=psync --fdatasync=1`) and the runtime (`io::write` +
`io::fdatasync`, also as one linked chain, also with a pinned shard) take
turns, three times; each run gives ratios.

| run | fio ops/s | {" | ".join(label + " (ratio)" for _, label in variants)} | fio fdatasync p99 |
|---|---:|{"---:|" * len(variants)}---:|
{chr(10).join(f"| {'median' if p is med else ''} | {p[0]:,.0f} | " + " | ".join(f"{p[1][k]:,.0f} ({p[1][k] / p[0]:.2f})" for k, _ in variants) + f" | {p[3]:,.0f} µs |" for p in pairs)}

Median ratio to fio, default configuration (unpinned, write then fdatasync):
**{med[2]:.2f}** (target: at least 0.90).
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
