#!/usr/bin/env bash
# Benchmarks ringlog-broker over loopback with ringlog-perf, next to the
# physical limits measured in the same run on the same machine (fio on the
# broker's data disk, iperf3 over loopback), prints one table (workload,
# figure, limit, ratio, target) and rewrites the "broker" section of
# BENCHMARKS.md, with two plots and the raw figures in bench/results/.
#
#   bench/run.sh [--quick] [--dir DIR] [--no-md] [--no-build] [--jobs N] [--idle-partitions N] [--keep]
#
# Each phase starts a broker of its own on a fresh data directory: limits
# (no broker), throughput and latency, 10,000 idle partitions and a restart,
# recovery after SIGKILL. Every process it starts is stopped on exit,
# Ctrl-C and failure included, and the data directory is removed. A workload
# that fails is a row "failed: <reason>" in the table, not the end of the run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

usage() {
  cat <<'EOF'
Usage: bench/run.sh [--quick] [--dir DIR] [--no-md] [--no-build] [--jobs N] [--idle-partitions N] [--keep]

Benchmarks ringlog-broker on 127.0.0.1 with ringlog-perf against fio and
iperf3 measured in the same run; about 5 minutes on 2 cores (--quick: 2-3).

  --quick      smaller sizes and shorter runs, a smoke test of the harness
  --dir DIR    data directory for the broker and fio, removed at the start
               and at exit (default ./ringlog-data/bench-broker)
  --no-md      do not rewrite BENCHMARKS.md nor bench/results/ (the plots and
               broker.json go to the raw results: see --keep)
  --no-build   use the binaries already in build/release
  --jobs N     build parallelism (default: the build tool's)
  --idle-partitions N
               idle partitions (default 10000, in topics of 1,000)
  --keep       keep the raw results (fio, iperf3, ringlog-perf JSON, broker
               logs) in the /tmp directory printed at the end
  --help       this text

Workloads (1 KiB records, 64 KiB batches, acks=all, one connection):
produce to 1 partition (--in-flight 1, 4, 16, 64), 8, 64, 256 and 1,000
partitions; consume 1 partition from the page cache; e2e latency at half the
8-partition produce rate; 10,000 idle partitions (RSS, start-up after
SIGTERM); restart after SIGKILL with 4 GiB written (--quick: 256 MiB).
EOF
}

quick=0
dir=$root/ringlog-data/bench-broker
write_md=1
build=1
keep=0
idle_total=10000
jobs=()
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --dir) dir=$2; shift ;;
    --dir=*) dir=${1#--dir=} ;;
    --no-md) write_md=0 ;;
    --no-build) build=0 ;;
    --jobs) jobs=(-j "$2"); shift ;;
    --keep) keep=1 ;;
    --idle-partitions) idle_total=$2; shift ;;
    --help|-h) usage; exit 0 ;;
    *) echo "bench/run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case $dir in /*) ;; *) dir=$root/$dir ;; esac
command_line="bench/run.sh"  # for BENCHMARKS.md: the flags that change the figures
[ "$quick" -eq 1 ] && command_line="$command_line --quick"
[ "$idle_total" -ne 10000 ] && command_line="$command_line --idle-partitions $idle_total"

# Sizes. Full: ~1-2.5 GiB per produce point; quick: a few hundred MiB.
if [ "$quick" -eq 1 ]; then
  fio_seq_size=256m; fio_sync_s=3; iperf_s=2
  produce_s=3; sweep_in_flight=(1 4 16 64)
  e2e_s=8; e2e_warmup_s=2
  recovery_mib=256
else
  fio_seq_size=1g; fio_sync_s=5; iperf_s=5
  produce_s=8; sweep_in_flight=(1 4 16 64)
  e2e_s=30; e2e_warmup_s=5
  recovery_mib=4096
fi
# Requests in flight on the one connection: 1 partition tries each of
# sweep_in_flight (its target row is the best); the other partition counts and
# e2e use in_flight (64 x 1 MiB requests beat 16 in most runs on this host;
# the full run of 26 Nov had 16 ahead: noise).
in_flight=64
partition_points=(8 64 256 1000)
e2e_partitions=8
recovery_partitions=8

py=/usr/bin/python3
out=$(mktemp -d /tmp/ringlog-bench.XXXXXX)
bin=$out/bin
broker_pid=
iperf_pid=
fg_pid=  # the fio, iperf3 or ringlog-perf being waited for
port=

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$fg_pid" ]; then
    kill -KILL -- "-$fg_pid" 2>/dev/null || true  # timeout's process group
    kill -KILL "$fg_pid" 2>/dev/null || true
    wait "$fg_pid" 2>/dev/null || true
  fi
  if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
    kill -KILL "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  if [ -n "$iperf_pid" ] && kill -0 "$iperf_pid" 2>/dev/null; then
    kill -TERM "$iperf_pid" 2>/dev/null || true
    wait "$iperf_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
  if [ "$keep" -eq 1 ]; then
    echo "bench/run.sh: raw results kept in $out" >&3
  else
    rm -rf "$out"
  fi
  exit "$rc"
}
# fd 3: the script's stderr, also inside `run ... 2>FILE` where a trap may fire.
exec 3>&2
trap cleanup EXIT
trap 'echo "bench/run.sh: interrupted" >&3; exit 130' INT
trap 'echo "bench/run.sh: terminated" >&3; exit 143' TERM

say() { echo "bench/run.sh: $*" >&2; }

# run CMD...: runs CMD in the background and waits for it, so Ctrl-C runs the
# INT trap at once (bash skips the trap when a foreground child catches
# SIGINT itself, as fio and ringlog-perf do); cleanup kills it.
run() {
  "$@" &
  fg_pid=$!
  local rc=0
  wait "$fg_pid" || rc=$?
  fg_pid=
  return "$rc"
}

if [ "$build" -eq 1 ]; then
  ./scripts/install-deps.sh
  cmake --preset release >/dev/null
  cmake --build --preset release "${jobs[@]}" --target ringlog-broker ringlog-perf >/dev/null
fi
# Private copies: a rebuild during the run does not change what is measured.
mkdir -p "$bin"
cp build/release/broker/ringlog-broker build/release/bench/perf/ringlog-perf "$bin/"
perf=$bin/ringlog-perf

rm -rf "$dir"
mkdir -p "$dir/fio" "$dir/broker"

free_port() {
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The last warning or error lines of the current broker's log, on one line.
broker_errors() {
  grep -E '^[0-9TZ:.-]+ +(warn|warning|error|err|critical) ' "$broker_log" 2>/dev/null \
    | sed -E 's/^[0-9TZ:.-]+ +//' | tail -n 1 | cut -c1-300 | tr '\n' ' ' || true
}

# start_broker TAG: starts ringlog-broker on $port with log.dirs=$dir/broker;
# sets broker_pid, broker_log and start_ns (wall clock, for wait_ready.py).
start_broker() {
  broker_log=$out/broker-$1.log
  start_s=$(date +%s.%N)
  "$bin/ringlog-broker" --override "log.dirs=$dir/broker" \
      --override "listeners=PLAINTEXT://127.0.0.1:$port" >"$broker_log" 2>&1 &
  broker_pid=$!
}

# wait_ready TOPIC_PREFIX PARTITIONS TIMEOUT_S: seconds from start_broker until
# the broker answers Metadata with PARTITIONS error-free partitions of topics
# starting with TOPIC_PREFIX (polled every 20 ms); exit status 1 on timeout or
# broker exit.
wait_ready() {
  "$py" bench/broker/wait_ready.py --port "$port" --since "$start_s" --pid "$broker_pid" \
      --topic-prefix "$1" --partitions "$2" --timeout "$3"
}

stop_broker() {  # SIGTERM, then SIGKILL after 30 s
  [ -n "$broker_pid" ] || return 0
  kill -TERM "$broker_pid" 2>/dev/null || true
  for _ in $(seq 300); do
    kill -0 "$broker_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$broker_pid" 2>/dev/null || true
  wait "$broker_pid" 2>/dev/null || true
  broker_pid=
}

# fresh_broker TAG: a new broker on an empty data directory and a new port.
fresh_broker() {
  stop_broker
  rm -rf "$dir/broker"
  mkdir -p "$dir/broker"
  port=$(free_port)
  start_broker "$1"
  if ! wait_ready "" 0 30 >/dev/null; then
    say "broker did not start: $(tail -n 5 "$broker_log" | tr '\n' ' ')"
    return 1
  fi
}

# fail NAME REASON: the workload's row says "failed: REASON".
fail() {
  say "$1 failed: $2"
  printf '%s\n' "$2" >"$out/$1.failed"
}

# perf NAME SECONDS_MAX ringlog-perf-ARGS...: runs ringlog-perf --json into
# $out/NAME.json; a failure (exit status, errors, timeout) goes to NAME.failed.
perf() {
  local name=$1 max_s=$2
  shift 2
  say "$name: ringlog-perf $*"
  local rc=0
  run timeout -s INT -k 10 "$max_s" "$perf" "$@" --json >"$out/$name.json" 2>"$out/$name.err" || rc=$?
  local first_error
  first_error=$("$py" -c 'import json, sys
try:
    d = json.load(open(sys.argv[1]))
    print(d.get("first_error") or ("%d errors" % d["errors"] if d.get("errors") else ""))
except Exception:
    print("no summary")' "$out/$name.json")
  if [ "$rc" -ne 0 ] || [ -n "$first_error" ]; then
    local reason="ringlog-perf exit $rc"
    [ "$rc" -eq 124 ] && reason="timed out after $max_s s"
    [ -n "$first_error" ] && reason="$reason: $first_error"
    [ "$first_error" = "no summary" ] && reason="$reason ($(tail -n 1 "$out/$name.err"))"
    kill -0 "$broker_pid" 2>/dev/null || reason="$reason; broker exited"
    local errs
    errs=$(broker_errors)
    [ -n "$errs" ] && reason="$reason; broker log: $errs"
    fail "$name" "$reason"
    return 1
  fi
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$broker_pid/status"; }
open_files() { find "/proc/$broker_pid/fd" -mindepth 1 -maxdepth 1 | wc -l; }

minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }

json_get() {  # json_get FILE EXPR: python expression on d, the file's JSON
  "$py" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

fio_seq() {  # fio_seq NAME: Kafka-style writing on the data disk
  say "$1: fio sequential write, 1 MiB blocks, fdatasync every 8 MiB, $fio_seq_size"
  run fio --name=fio-seq --directory="$dir/fio" --rw=write --bs=1m --size="$fio_seq_size" \
      --fdatasync=8 --ioengine=psync --output-format=json >"$out/$1.json" 2>"$out/$1.err" \
      || fail "$1" "fio: $(tail -n 1 "$out/$1.err")"
  rm -f "$dir"/fio/fio-seq.*
}

# ---------------------------------------------------------------- limits
say "limits: fio on $dir, iperf3 over loopback"
fio_seq fio-seq
say "fio-sync: 4 KiB write + fdatasync, ${fio_sync_s} s"
run fio --name=fio-sync --directory="$dir/fio" --rw=write --bs=4k --size=1g --fdatasync=1 \
    --ioengine=psync --time_based --runtime="$fio_sync_s" --output-format=json \
    >"$out/fio-sync.json" 2>"$out/fio-sync.err" || fail fio-sync "fio: $(tail -n 1 "$out/fio-sync.err")"
rm -f "$dir"/fio/fio-sync.*

iperf_port=$(free_port)
iperf3 -s -B 127.0.0.1 -p "$iperf_port" >"$out/iperf3-server.log" 2>&1 &
iperf_pid=$!
sleep 0.3
for mode in plain zerocopy; do
  flags=()
  [ "$mode" = zerocopy ] && flags=(-Z)
  say "iperf3-$mode: ${iperf_s} s over loopback ${flags[*]}"
  run iperf3 -c 127.0.0.1 -p "$iperf_port" -t "$iperf_s" "${flags[@]}" -J >"$out/iperf3-$mode.json" \
      2>"$out/iperf3-$mode.err" || fail "iperf3-$mode" "iperf3: $(tail -n 1 "$out/iperf3-$mode.err")"
done
kill -TERM "$iperf_pid" 2>/dev/null || true
wait "$iperf_pid" 2>/dev/null || true
iperf_pid=

# ---------------------------------------------------------------- throughput and latency
say "throughput: fresh broker"
produce_args=(--record-size 1024 --batch-bytes 65536 --acks all --connections 1)
p1_records=0
if fresh_broker main; then
  # One partition, a few pipelining depths; fio first, on the same disk.
  fio_seq fio-seq-1
  for k in "${sweep_in_flight[@]}"; do
    if perf "produce-1-if$k" $((produce_s * 3 + 30)) produce --bootstrap "127.0.0.1:$port" \
        --topic p1 --partitions 1 --duration "$produce_s" --in-flight "$k" "${produce_args[@]}"; then
      p1_records=$((p1_records + $(json_get "$out/produce-1-if$k.json" 'd["records"]')))
    fi
  done
  # Consume what was just produced, from the page cache.
  if [ "$p1_records" -gt 0 ]; then
    perf consume-1 60 consume --bootstrap "127.0.0.1:$port" --topic p1 --from-beginning \
        --records "$p1_records" --timeout-ms 10000 || true
  else
    fail consume-1 "nothing was produced to consume"
  fi
  for p in "${partition_points[@]}"; do
    fio_seq "fio-seq-$p"
    perf "produce-$p" $((produce_s * 3 + 60)) produce --bootstrap "127.0.0.1:$port" \
        --topic "p$p" --partitions "$p" --duration "$produce_s" --in-flight "$in_flight" \
        "${produce_args[@]}" || true
  done
  # e2e at half the durable produce rate of 8 partitions (1 partition's if
  # that failed).
  rate_from=produce-$e2e_partitions
  [ -f "$out/$rate_from.failed" ] && rate_from=produce-1-if$in_flight
  if [ -f "$out/$rate_from.json" ] && [ ! -f "$out/$rate_from.failed" ]; then
    rate=$(json_get "$out/$rate_from.json" 'int(d["records_per_s"] / 2)')
    echo "$rate_from" >"$out/e2e.rate-from"
    perf e2e $((e2e_s * 2 + 60)) e2e --bootstrap "127.0.0.1:$port" --topic e2e \
        --partitions "$e2e_partitions" --rate "$rate" --duration "$e2e_s" \
        --warmup "$e2e_warmup_s" --in-flight "$in_flight" "${produce_args[@]}" || true
    # The disk's own sync tail at the same byte rate: 64 KiB writes, each
    # fdatasync'd (the broker is idle meanwhile).
    say "fio-e2e: 64 KiB write + fdatasync at $((rate * 1024 / 1048576)) MiB/s, ${fio_sync_s} s"
    run fio --name=fio-e2e --directory="$dir/fio" --rw=write --bs=64k --size=4g --fdatasync=1 \
        --rate="$((rate * 1024))" --ioengine=psync --time_based --runtime="$fio_sync_s" \
        --output-format=json >"$out/fio-e2e.json" 2>"$out/fio-e2e.err" \
        || fail fio-e2e "fio: $(tail -n 1 "$out/fio-e2e.err")"
    rm -f "$dir"/fio/fio-e2e.*
  else
    fail e2e "no produce rate to start from"
  fi
else
  for n in produce-1 consume-1 produce-8 produce-64 produce-256 produce-1000 e2e; do
    fail "$n" "broker did not start: $(broker_errors)"
  done
fi
cp "$broker_log" "$out/broker-main.log.keep" 2>/dev/null || true

# ---------------------------------------------------------------- 10,000 idle partitions
idle_topics=$(((idle_total + 999) / 1000))
say "idle: $idle_total partitions ($idle_topics topics of up to 1,000), fresh broker"
idle_ok=0
if fresh_broker idle; then
  rss_empty_kib=$(rss_kib)
  idle_ok=1
  t0=$(date +%s.%N)
  created=0
  for t in $(seq "$idle_topics"); do
    n=$((idle_total - created < 1000 ? idle_total - created : 1000))
    # One record per partition: every partition has written (and opened) its files.
    if ! perf "idle-create-$t" 120 produce --bootstrap "127.0.0.1:$port" --topic "idle-$t" \
        --partitions "$n" --records "$n" --in-flight 5 "${produce_args[@]}"; then
      idle_ok=0
      break
    fi
    created=$((created + n))
  done
  t1=$(date +%s.%N)
  if [ "$idle_ok" -eq 1 ]; then
    sleep 1
    rss_idle_kib=$(rss_kib)
    fds=$(open_files)
    say "idle: RSS $((rss_idle_kib / 1024)) MiB, $fds open files; restarting (SIGTERM)"
    s0=$(date +%s.%N)
    stop_broker
    s1=$(date +%s.%N)
    start_broker idle-restart
    if startup_s=$(wait_ready idle- "$idle_total" 60); then
      printf '{"partitions":%d,"create_s":%s,"rss_empty_kib":%d,"rss_kib":%d,"open_files":%d,"stop_s":%s,"startup_s":%s}\n' \
          "$idle_total" "$(minus "$t1" "$t0")" "$rss_empty_kib" "$rss_idle_kib" "$fds" \
          "$(minus "$s1" "$s0")" "$startup_s" >"$out/idle.json"
    else
      fail idle-startup "not serving $idle_total partitions within 60 s after a restart; broker log: $(broker_errors)"
      printf '{"partitions":%d,"create_s":%s,"rss_empty_kib":%d,"rss_kib":%d,"open_files":%d}\n' \
          "$idle_total" "$(minus "$t1" "$t0")" "$rss_empty_kib" "$rss_idle_kib" "$fds" >"$out/idle.json"
    fi
  else
    # The broker's own words if it logged an error, else ringlog-perf's.
    reason=$(broker_errors | sed 's/^ *//')
    [ -n "$reason" ] || reason=$(cat "$out/idle-create-$t.failed")
    files=
    kill -0 "$broker_pid" 2>/dev/null \
        && files="; broker has $(open_files) open files (ulimit -n $(ulimit -n)), RSS $(($(rss_kib) / 1024)) MiB"
    printf 'creating topic idle-%s (partitions %d-%d of %d): %s%s\n' "$t" "$created" \
        $((created + n - 1)) "$idle_total" "$reason" "$files" >"$out/idle.failed"
    say "idle failed: $(cat "$out/idle.failed")"
  fi
else
  fail idle "broker did not start: $(broker_errors)"
fi

# ---------------------------------------------------------------- recovery after SIGKILL
say "recovery: ${recovery_mib} MiB to $recovery_partitions partitions with acks=all, then SIGKILL"
if fresh_broker recovery; then
  if perf recovery-produce 600 produce --bootstrap "127.0.0.1:$port" --topic recovery \
      --partitions "$recovery_partitions" --records $((recovery_mib * 1024)) \
      --in-flight "$in_flight" "${produce_args[@]}"; then
    kill -KILL "$broker_pid"
    wait "$broker_pid" 2>/dev/null || true
    broker_pid=
    start_broker recovery-restart
    if startup_s=$(wait_ready recovery "$recovery_partitions" 60); then
      printf '{"written_mib":%d,"partitions":%d,"startup_s":%s,"log":%s}\n' "$recovery_mib" \
          "$recovery_partitions" "$startup_s" \
          "$("$py" -c 'import json, sys; print(json.dumps(" ".join(l.split("] ", 1)[-1].strip() for l in open(sys.argv[1]) if "partition logs:" in l)))' "$broker_log")" \
          >"$out/recovery.json"
    else
      fail recovery "not serving within 60 s after SIGKILL; broker log: $(broker_errors)"
    fi
  else
    fail recovery "producing: $(cat "$out/recovery-produce.failed")"
  fi
else
  fail recovery "broker did not start: $(broker_errors)"
fi
stop_broker

# ---------------------------------------------------------------- report
# Without BENCHMARKS.md the plots and broker.json stay with the raw results
# (--keep keeps them), so bench/results/ always matches BENCHMARKS.md.
md_args=()
results=$out/results
if [ "$write_md" -eq 1 ]; then
  md_args=(--md "$root/BENCHMARKS.md")
  results=$root/bench/results
fi
"$py" bench/broker/report.py --raw "$out" --results "$results" --data-dir "$dir" \
    --idle-partitions "$idle_total" \
    --command "$command_line" --fio-seq-size "$fio_seq_size" --produce-s "$produce_s" \
    --e2e-s "$e2e_s" --e2e-warmup-s "$e2e_warmup_s" --in-flight "$in_flight" "${md_args[@]}"
