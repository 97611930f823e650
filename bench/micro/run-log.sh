#!/usr/bin/env bash
# Runs the storage engine benchmarks next to fio on the same disk, in the same
# run, and rewrites the "log" section of BENCHMARKS.md.
#
#   bench/micro/run-log.sh [DIR]   DIR: where the files go
#                                  (default ./ringlog-data/bench, the broker's disk)
#
# fio's figure is Kafka-style sequential writing: buffered 1 MiB writes with an
# fdatasync every 8 MiB. Each durable-append workload runs right after its own
# fio run, so every ratio compares two measurements seconds apart.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
dir=${1:-$root/ringlog-data/bench}
mkdir -p "$dir"
out=$(mktemp -d)
trap 'rm -rf "$out"; rm -f "$dir"/fio-seq.*' EXIT

./scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target log_bench >/dev/null

workloads=(
  "partitions:1/batch_kib:16/in_flight:64/"
  "partitions:1/batch_kib:16/in_flight:512/"
  "partitions:1/batch_kib:1024/in_flight:8/"
  "partitions:1/batch_kib:1024/in_flight:32/"
  "partitions:1000/batch_kib:16/in_flight:256/"
  "partitions:1000/batch_kib:1024/in_flight:16/"
)
i=0
for w in "${workloads[@]}"; do
  i=$((i + 1))
  echo "append $w: fio first, then ringlog" >&2
  fio --name=fio-seq --directory="$dir" --rw=write --bs=1m --size=512m --fdatasync=8 \
      --ioengine=psync --output-format=json >"$out/fio$i.json"
  rm -f "$dir"/fio-seq.*
  RINGLOG_BENCH_DIR="$dir" build/release/bench/micro/log_bench \
      --benchmark_filter="BM_DurableAppend/$w" --benchmark_format=json >"$out/append$i.json"
done
echo "reads, index lookups, CRC-32C, recovery" >&2
RINGLOG_BENCH_DIR="$dir" build/release/bench/micro/log_bench \
    --benchmark_filter='BM_ReadSlices|BM_IndexLookup|BM_Crc32c|BM_Recovery' \
    --benchmark_format=json >"$out/other.json"

python3 - "$out" "$root/BENCHMARKS.md" "${#workloads[@]}" <<'PY'
import json, os, platform, re, subprocess, sys
out_dir, md_path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
mib = 1024 * 1024
rows = []
for i in range(1, n + 1):
    fio = json.load(open(os.path.join(out_dir, f"fio{i}.json")))["jobs"][0]["write"]["bw"] / 1024
    b = json.load(open(os.path.join(out_dir, f"append{i}.json")))["benchmarks"][0]
    args = dict(kv.split(":") for kv in b["name"].split("/")[1:4])
    ours = b["bytes_per_second"] / mib
    rows.append((args, fio, ours))
other = {b["name"]: b for b in json.load(open(os.path.join(out_dir, "other.json")))["benchmarks"]}

def find(prefix):
    for k, v in other.items():
        if k.startswith(prefix):
            return v
    return None

target = {"1": 0.85, "1000": 0.60}
lines = []
for args, fio, ours in rows:
    t = target.get(args["partitions"])
    ratio = ours / fio
    verdict = f"{'met' if ratio >= t else 'short'} (target {t:.2f})" if t else ""
    lines.append(f"| {args['partitions']} | {args['batch_kib']} KiB | {args['in_flight']} | "
                 f"{fio:,.0f} | {ours:,.0f} | {ratio:.2f} | {verdict} |")

def ns(name):
    b = find(name)
    return f"{b['real_time']:,.0f} ns" if b else "n/a"

read = find("BM_ReadSlices")
crc = find("BM_Crc32c")
rec = find("BM_Recovery")
read_s = f"{read['bytes_per_second'] / mib:,.0f} MiB/s" if read else "n/a"
crc_s = f"{crc['bytes_per_second'] / 2**30:,.1f} GiB/s" if crc else "n/a"
rec_s = f"{2**30 / rec['bytes_per_second']:.2f} s per GiB" if rec else "n/a"

kernel = platform.release()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
disk = subprocess.run(["df", "--output=source,fstype", os.path.dirname(md_path)],
                      capture_output=True, text=True).stdout.split("\n")[1].strip()

section = f"""<!-- log:begin (written by bench/micro/run-log.sh; do not edit by hand) -->
Machine: {cpu}, {os.cpu_count()} cores, {mem_gib:.0f} GiB, kernel {kernel}, data on `{disk}`.
Command: `bench/micro/run-log.sh`. One shard; 512 MiB per append workload, 1 KiB
records, every append durable (fdatasync'd through the group commit) before it counts.

| partitions | batch | appends in flight | fio MiB/s | ringlog MiB/s | ratio | |
|---:|---:|---:|---:|---:|---:|---|
{chr(10).join(lines)}

fio: buffered 1 MiB writes, fdatasync every 8 MiB, 512 MiB, run just before each row.

| other | figure |
|---|---|
| fetch-style read (lookup + 1 MiB pread, random offsets, page cache) | {read_s} |
| offset index lookup near the tail, full 1 GiB segment (262,144 entries) | {ns("BM_IndexLookup/random:0/entries:262144")} |
| offset index lookup, random, full 1 GiB segment | {ns("BM_IndexLookup/random:1/entries:262144")} |
| offset index lookup near the tail, full 10 MiB index (1,310,720 entries) | {ns("BM_IndexLookup/random:0/entries:1310720")} |
| offset index lookup, random, full 10 MiB index | {ns("BM_IndexLookup/random:1/entries:1310720")} |
| CRC-32C (ISA-L), 1 MiB buffers | {crc_s} |
| recovery: re-read and CRC-check unflushed log (page cache warm) | {rec_s} |
<!-- log:end -->"""

md = open(md_path).read() if os.path.exists(md_path) else ""
pattern = re.compile(r"<!-- log:begin.*?<!-- log:end -->", re.S)
md = pattern.sub(lambda _: section, md) if pattern.search(md) else md + "\n" + section + "\n"
open(md_path, "w").write(md)
print(section)
PY
