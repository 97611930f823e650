#!/usr/bin/env bash
# Runs librdkafka's own integration tests (the tests/ directory of its source
# tree, built into its C/C++ test runner `test-runner`) against a single-node
# ringlog-broker: one fresh broker per test number, one test-runner process per
# test number. Not part of scripts/test.sh or ctest; run it by hand:
#
#   scripts/librdkafka-conformance.sh                     # every applicable test
#   scripts/librdkafka-conformance.sh --tests 0001,0012 --report /tmp/rdk.md
#
# librdkafka's source comes from the npm registry: the package
# @confluentinc/kafka-javascript bundles the complete librdkafka release tree
# (src/, src-cpp/, tests/) under deps/librdkafka. It is fetched once into
# ${XDG_CACHE_HOME:-$HOME/.cache}/ringlog/librdkafka-<version>/ and built there.
set -euo pipefail

RDK_VERSION=2.15.1
NPM_PACKAGE=@confluentinc/kafka-javascript
NPM_VERSION=1.10.1 # its package.json: "librdkafka": "2.15.1"
NPM_SHA256=ada7d703bb1d3237e2292bfabf438d663b6160c9f1ac2a2406b5dc4257c81b66
# The broker version the test runner assumes (TEST_KAFKA_VERSION, --kafka-version):
# gates version-dependent tests and makes them create topics with the Admin API.
KAFKA_VERSION_FOR_TESTS=4.0.0

repo_dir=$(cd "$(dirname "$0")/.." && pwd)
broker="$repo_dir/build/release/broker/ringlog-broker"
cache_dir="${RINGLOG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ringlog}/librdkafka-$RDK_VERSION"
tests_opt=""
timeout_s=900
report=""
broker_overrides=()
logs_dir="/tmp/rdk-logs"
jobs=$(nproc)
quick=0
with_local=0
build_only=0
list_only=0

# Tests that need what one plaintext node without transactions, ACLs or
# SASL/SSL lacks. --tests NNNN runs one of them anyway.
declare -A skip_reason=(
  [0055]="transactions (transactional producer latency sub-tests)"
  [0061]="transactions (lag over aborted transactions)"
  [0097]="SSL"
  [0098]="transactions (and a Java producer)"
  [0101]="several brokers (fetch from follower)"
  [0103]="transactions"
  [0105]="transactions (mock cluster)"
  [0107]="several brokers (creates its topic with replication factor 3)"
  [0109]="ACLs (kafka-acls.sh deny rules in half its cases)"
  [0111]="several brokers (creates its topic with replication factor 3)"
  [0115]="ACLs (kafka-acls.sh)"
  [0119]="ACLs (kafka-acls.sh)"
  [0126]="SASL/OAUTHBEARER OIDC"
  [0129]="transactions (aborted messages)"
  [0135]="SASL credentials"
  [0137]="transactions (barrier batch consume)"
  [0142]="SASL re-authentication (and transactions)"
  [0158]="share groups (KIP-932) and transactions (mock cluster)"
  [0177]="share groups (KIP-932) and transactions"
)
# Tests whose every case needs topic auto-creation off (trivup's
# "noautocreate" scenario): their broker runs with
# auto.create.topics.enable=false and the runner with TEST_SCENARIO=noautocreate.
declare -A noautocreate=([0107]=1 [0111]=1)
# Broker settings a test assumes beyond the defaults below. 0113 counts
# rebalance callbacks as if both consumers joined in one rebalance, which
# Kafka's default group.initial.rebalance.delay.ms (3 s) gives it.
declare -A test_overrides=([0113]="group.initial.rebalance.delay.ms=3000")

usage() {
  cat <<EOF
usage: $0 [--tests LIST] [--timeout SECONDS] [--broker PATH] [--report FILE]
          [--broker-override KEY=VALUE]... [--kafka-version V]
          [--local] [--quick] [--jobs N] [--logs DIR] [--build-only] [--list]

Fetches librdkafka $RDK_VERSION (npm: $NPM_PACKAGE@$NPM_VERSION, cached in
$cache_dir), builds it and its test runner, then runs librdkafka's integration
tests against ringlog-broker: for each test number a fresh broker on a free
loopback port with a fresh log.dirs, one test-runner process, then SIGTERM.

  --tests LIST       comma-separated test numbers (e.g. 0001,0012); default:
                     every test that talks to a broker, minus those needing
                     several brokers, SASL/SSL, ACLs or transactions
  --timeout SECONDS  outer limit for one test-runner process (default $timeout_s)
  --broker PATH      broker binary (default build/release/broker/ringlog-broker)
  --broker-override KEY=VALUE
                     one more --override for every broker, after the defaults
                     (repeatable)
  --kafka-version V  the broker version the runner is told (default
                     $KAFKA_VERSION_FOR_TESTS); it skips tests and cases by it
  --report FILE      also write the markdown result table to FILE
  --local            also run librdkafka's local/mock-cluster tests (they do
                     not contact ringlog-broker); by default the runner gets -L
  --quick            the runner's quick mode (-Q): fewer messages, and it
                     leaves out every sub-test not marked quick
  --jobs N           parallel make jobs for the build (default: nproc)
  --logs DIR         where the logs of failed tests are kept (default $logs_dir)
  --build-only       fetch and build, run nothing
  --list             print the selected test numbers and the skipped ones
  --help             this text

Exit status: 0 when every selected test passed or skipped, 1 when one failed
or timed out, 2 on bad arguments or a failed fetch/build.
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --tests) tests_opt="${2:?}"; shift 2 ;;
    --timeout) timeout_s="${2:?}"; shift 2 ;;
    --broker) broker="${2:?}"; shift 2 ;;
    --broker-override) broker_overrides+=(--override "${2:?}"); shift 2 ;;
    --kafka-version) KAFKA_VERSION_FOR_TESTS="${2:?}"; shift 2 ;;
    --report) report="${2:?}"; shift 2 ;;
    --jobs) jobs="${2:?}"; shift 2 ;;
    --logs) logs_dir="${2:?}"; shift 2 ;;
    --local) with_local=1; shift ;;
    --quick) quick=1; shift ;;
    --build-only) build_only=1; shift ;;
    --list) list_only=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "librdkafka-conformance: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$timeout_s" =~ ^[0-9]+$ ]] || { echo "librdkafka-conformance: --timeout takes seconds" >&2; exit 2; }

log() { echo "librdkafka-conformance: $*" >&2; }

# --- dependencies (Debian packages, installed only when missing) -----------
APT_LOG_PREFIX=librdkafka-conformance
# shellcheck source=lib/apt.sh
source "$repo_dir/scripts/lib/apt.sh"
# Toolchain and the libraries librdkafka's configure detects (rapidjson for
# the tests that parse statistics JSON: 0053, 0110); npm to fetch the source;
# python3-confluent-kafka for the kafka-topics.sh stand-in below.
install_missing build-essential pkg-config python3 zlib1g-dev libzstd-dev liblz4-dev \
  libssl-dev rapidjson-dev python3-confluent-kafka coreutils
command -v npm >/dev/null || install_missing npm

# --- fetch (once) -----------------------------------------------------------
src="$cache_dir/src"
tgz="$cache_dir/confluentinc-kafka-javascript-$NPM_VERSION.tgz"
mkdir -p "$cache_dir"
if [ ! -f "$src/.ringlog-extracted" ]; then
  if [ ! -f "$tgz" ] || ! echo "$NPM_SHA256  $tgz" | sha256sum -c --status; then
    log "fetching $NPM_PACKAGE@$NPM_VERSION (librdkafka $RDK_VERSION) from npm"
    (cd "$cache_dir" && npm pack --silent "$NPM_PACKAGE@$NPM_VERSION" >/dev/null)
  fi
  if ! echo "$NPM_SHA256  $tgz" | sha256sum -c --status; then
    log "checksum mismatch for $tgz"; exit 2
  fi
  rm -rf "$src" && mkdir -p "$src"
  tar xzf "$tgz" -C "$src" --strip-components=3 package/deps/librdkafka
  grep -q "define RD_KAFKA_VERSION 0x020f01ff" "$src/src/rdkafka.h" \
    || { log "$tgz does not hold librdkafka $RDK_VERSION"; exit 2; }
  touch "$src/.ringlog-extracted"
fi

# --- build (once per configuration) ------------------------------------------
configure_args=(--no-download --disable-gssapi --disable-curl)
build_id="librdkafka $RDK_VERSION, configure ${configure_args[*]}, with rapidjson"
if [ ! -x "$src/tests/test-runner" ] || [ "$(cat "$src/.ringlog-built" 2>/dev/null)" != "$build_id" ]; then
  log "building librdkafka $RDK_VERSION and its test runner in $src (make -j$jobs)"
  (
    cd "$src"
    # Not configure.log: mklove loads every configure.* file as a module.
    ./configure "${configure_args[@]}" >ringlog-configure.out 2>&1 \
      || { cat ringlog-configure.out >&2; exit 1; }
    nice -n 19 make -j"$jobs" libs >ringlog-build.out 2>&1 || { tail -50 ringlog-build.out >&2; exit 1; }
    nice -n 19 make -j"$jobs" -C tests build >>ringlog-build.out 2>&1 || { tail -50 ringlog-build.out >&2; exit 1; }
  ) || { log "build failed (logs in $src/ringlog-configure.out, $src/ringlog-build.out)"; exit 2; }
  echo "$build_id" >"$src/.ringlog-built"
fi

# A stand-in for Kafka's bin/ scripts, which some tests call through
# KAFKA_PATH (kafka-topics.sh --create/--alter/--delete): the same operations
# through the Admin API of confluent-kafka-python (Debian's package).
kafka_bin="$cache_dir/kafka-bin/bin"
mkdir -p "$kafka_bin"
cat >"$kafka_bin/kafka-topics.py" <<'EOF'
import argparse, sys
from confluent_kafka.admin import AdminClient, NewTopic, NewPartitions
p = argparse.ArgumentParser()
p.add_argument("--bootstrap-server", required=True)
for a in ("--create", "--alter", "--delete", "--describe", "--list"):
    p.add_argument(a, action="store_true")
p.add_argument("--topic")
p.add_argument("--partitions", type=int)
p.add_argument("--replication-factor", type=int, default=1)
p.add_argument("--config", action="append", default=[])
a = p.parse_args()
admin = AdminClient({"bootstrap.servers": a.bootstrap_server})
if a.create:
    cfg = dict(c.split("=", 1) for c in a.config)
    futs = admin.create_topics([NewTopic(a.topic, a.partitions or 1, a.replication_factor, config=cfg)])
elif a.alter and a.partitions:
    futs = admin.create_partitions([NewPartitions(a.topic, a.partitions)])
elif a.delete:
    futs = admin.delete_topics([a.topic])
else:
    sys.exit("kafka-topics stand-in: only --create, --alter --partitions and --delete")
for t, f in futs.items():
    f.result(30)
    print("kafka-topics stand-in: done for", t)
EOF
cat >"$kafka_bin/kafka-topics.sh" <<'EOF'
#!/bin/sh
exec /usr/bin/python3 "$(dirname "$0")/kafka-topics.py" "$@"
EOF
chmod +x "$kafka_bin/kafka-topics.sh"

[ "$build_only" -eq 1 ] && { log "built: $src/tests/test-runner"; exit 0; }

# --- test selection ---------------------------------------------------------
# Test numbers, flags and minimum broker versions from the runner's own table
# in tests/test.c: "NNNN broker|local|manual MIN_VERSION" (broker: at least one
# case talks to a broker; *_mock cases use librdkafka's mock cluster, like the
# TEST_F_LOCAL ones).
mapfile -t catalog < <(python3 - "$src/tests/test.c" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
body = text[text.index("struct test tests[] = {"):]
body = body[:body.index("{NULL}}")]
entries = {}
for m in re.finditer(r"_TEST\(", body):
    depth, i = 1, m.end()
    while depth:
        depth += {"(": 1, ")": -1}.get(body[i], 0)
        i += 1
    name, _, rest = body[m.end():i - 1].partition(",")
    name = name.strip()
    flags = rest.split(",")[0]
    ver = re.search(r"TEST_BRKVER\((\d+),\s*(\d+),\s*(\d+),\s*(\d+)\)", rest)
    ver = tuple(int(x) for x in ver.groups()) if ver else (0, 0, 0, 0)
    if "TEST_F_MANUAL" in flags:
        kind = "manual"
    elif "TEST_F_LOCAL" in flags or name.endswith("_mock"):
        kind = "local"
    else:
        kind = "broker"
    entries.setdefault(name[:4], []).append((kind, ver))
rank = {"broker": 0, "local": 1, "manual": 2}
for num in sorted(entries):
    kind = min((k for k, _ in entries[num]), key=rank.get)
    ver = min(v for k, v in entries[num] if k == kind)
    print(num, kind, ".".join(map(str, ver[:3])))
EOF
)
declare -A kind_of=() minver_of=()
for line in "${catalog[@]}"; do
  read -r t k v <<<"$line"
  kind_of[$t]=$k minver_of[$t]=$v
done
# The runner skips a test whose minimum broker version is above the one it is
# told; say so instead of running it.
version_gt() { [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -n 1)" = "$1" ]; }
for t in "${!kind_of[@]}"; do
  if [ -z "${skip_reason[$t]:-}" ] && version_gt "${minver_of[$t]}" "$KAFKA_VERSION_FOR_TESTS"; then
    skip_reason[$t]="needs Kafka >= ${minver_of[$t]} (share groups, KIP-932)"
  fi
done

selected=()
skipped=()
if [ -n "$tests_opt" ]; then
  IFS=',' read -r -a req <<<"$tests_opt"
  for t in "${req[@]}"; do
    t=$(printf '%04d' "$((10#$t))")
    [ -n "${kind_of[$t]:-}" ] || { log "no test $t in librdkafka $RDK_VERSION"; exit 2; }
    selected+=("$t")
  done
else
  for line in "${catalog[@]}"; do
    read -r t k _ <<<"$line"
    if [ "$k" = manual ]; then continue; fi
    if [ "$k" = local ] && [ "$with_local" -eq 0 ]; then continue; fi
    if [ -n "${skip_reason[$t]:-}" ]; then skipped+=("$t"); continue; fi
    selected+=("$t")
  done
fi

if [ "$list_only" -eq 1 ]; then
  echo "selected (${#selected[@]}): ${selected[*]}"
  for t in "${skipped[@]}"; do echo "skipped $t: ${skip_reason[$t]}"; done
  exit 0
fi

[ -x "$broker" ] || { log "no broker binary at $broker (build it, or pass --broker)"; exit 2; }
broker=$(cd "$(dirname "$broker")" && pwd)/$(basename "$broker")

# --- running ----------------------------------------------------------------
work=$(mktemp -d /tmp/rdk-conformance.XXXXXX)
broker_pid=""
cleanup() {
  stop_broker "$work"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts a broker in the background (broker_pid) and sets port once it says
# it is ready. Not in a $(...): the broker must be this shell's child.
start_broker() { # $1 dir, $2 auto.create.topics.enable, $3... more KEY=VALUE
  local dir=$1 auto_create=$2 i kv extra=()
  shift 2
  for kv in "$@"; do extra+=(--override "$kv"); done
  port=""
  "$broker" --override listeners=PLAINTEXT://127.0.0.1:0 --override log.dirs="$dir/data" \
    --override num.partitions=4 --override auto.create.topics.enable="$auto_create" \
    --override group.initial.rebalance.delay.ms=0 "${extra[@]}" "${broker_overrides[@]}" >"$dir/broker.log" 2>&1 &
  broker_pid=$!
  for ((i = 0; i < 300; i++)); do
    port=$(sed -n 's/.*ringlog-broker ready: PLAINTEXT:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/broker.log" 2>/dev/null | head -n 1)
    [ -n "$port" ] && return 0
    kill -0 "$broker_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

stop_broker() { # SIGTERM, then SIGKILL after 20 s
  local i
  broker_rc=0 broker_killed=0
  [ -n "$broker_pid" ] || return 0
  kill -TERM "$broker_pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    kill -0 "$broker_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$broker_pid" 2>/dev/null; then
    echo "librdkafka-conformance: broker did not stop in 20 s after SIGTERM, SIGKILL" >>"$1/broker.log"
    kill -KILL "$broker_pid" 2>/dev/null || true
    broker_killed=1
  fi
  wait "$broker_pid" 2>/dev/null || broker_rc=$?
  broker_pid=""
}

# Sums up test $3 from the runner's JSON report $1 (states per case) and its
# output $2 (the failure and skip messages):
# "passed failed skipped|notes". Without a report (the runner was killed or
# crashed) the states come from the output alone.
summarize_report() {
  python3 - "$1" "$2" "$3" <<'EOF'
import json, re, sys
report, logf, num = sys.argv[1:4]
out = re.sub(r"\x1b\[[0-9;]*m", "", open(logf, errors="replace").read())
lines = out.splitlines()
states = {}
try:
    raw = re.sub(r"[\x00-\x1f]", " ", open(report, errors="replace").read())
    for name, t in json.loads(raw)["tests"].items():
        if name.startswith(num + "_"):
            states[name] = t.get("state")
except Exception:
    for l in lines:
        m = re.search(r"=+ Running test (\S+) =+", l)
        if m and m.group(1).startswith(num + "_"):
            states.setdefault(m.group(1), "RUNNING")
        m = re.search(r"=+ Test (\S+) PASSED =+", l)
        if m and m.group(1).startswith(num + "_"):
            states[m.group(1)] = "PASSED"
        m = re.match(r"\[(\S+)\s*/.*SKIPPING TEST", l)
        if m and m.group(1).startswith(num + "_"):
            states[m.group(1)] = "SKIPPED"
# First message of each failure: the line after '### Test "NAME" failed at'.
fails, main_fails = [], []
for i, l in enumerate(lines):
    m = re.match(r'### Test "([^"]+)" failed at ([^ ]+) at .*###', l)
    if m and i + 1 < len(lines):
        msg = lines[i + 1].strip()
        # 'Test assertion failed: "EXPR": MESSAGE' -> MESSAGE
        if msg.startswith('Test assertion failed: "') and '": ' in msg[24:]:
            msg = msg[24:].split('": ', 1)[1]
        msg = "%s: %s" % (m.group(1), msg[:300])
        (main_fails if m.group(1).startswith("<MAIN>") else fails).append(msg)
skips = []
for l in lines:
    m = re.match(r"\[(\S+)\s*/.*SKIPPING TEST: (.*)", l)
    if m and m.group(1).startswith(num + "_") and "negative test flags" not in m.group(2):
        skips.append("%s: %s" % (m.group(1), m.group(2).strip()))
p = sum(1 for s in states.values() if s == "PASSED")
f = sum(1 for s in states.values() if s in ("FAILED", "RUNNING"))
s = sum(1 for s in states.values() if s == "SKIPPED")
notes = fails or main_fails or [n for n, st in states.items() if st in ("FAILED", "RUNNING")]
if not p and not f:
    notes = skips or ["skipped by the runner (known issue, test flags or scenario)"]
print("%d %d %d|%s" % (p, f, s, "; ".join(notes)))
EOF
}

results=()
any_failed=0
runner_args=(-p1)
[ "$quick" -eq 1 ] && runner_args+=(-Q)
log "librdkafka $RDK_VERSION, ${#selected[@]} test(s), runner ${runner_args[*]}$([ "$with_local" -eq 0 ] && echo " -L"), timeout ${timeout_s}s each, broker $broker"
for t in "${selected[@]}"; do
  dir="$work/$t"; mkdir -p "$dir"
  scenario=default auto_create=true
  if [ -n "${noautocreate[$t]:-}" ]; then scenario=noautocreate auto_create=false; fi
  args=("${runner_args[@]}")
  # -L: leave out a test's local/mock cases unless --local (or it has no other).
  [ "$with_local" -eq 0 ] && [ "${kind_of[$t]}" = broker ] && args+=(-L)
  start=$(date +%s.%N)
  note=""
  read -r -a overrides <<<"${test_overrides[$t]:-}"
  if ! start_broker "$dir" "$auto_create" "${overrides[@]}"; then
    stop_broker "$dir"
    status=ERROR note="broker did not start"; counts="0 0 0"
  else
    printf 'metadata.broker.list=127.0.0.1:%s\n' "$port" >"$dir/test.conf"
    set +e
    { (
      cd "$src/tests"
      TESTS="$t" BROKERS="127.0.0.1:$port" KAFKA_PATH="$cache_dir/kafka-bin" \
        TEST_KAFKA_VERSION="$KAFKA_VERSION_FOR_TESTS" TEST_SCENARIO="$scenario" \
        RDKAFKA_TEST_CONF="$dir/test.conf" TEST_REPORT="$dir/report.json" \
        LD_LIBRARY_PATH="../src:../src-cpp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        timeout -k 10 "$timeout_s" ./test-runner "${args[@]}"
    ) >"$dir/test.log" 2>&1; } 2>/dev/null # no "Aborted" from bash on a crash
    rc=$?
    set -e
    broker_alive=1
    kill -0 "$broker_pid" 2>/dev/null || broker_alive=0
    stop_broker "$dir"
    summary=$(summarize_report "$dir/report.json" "$dir/test.log" "$t")
    counts=${summary%%|*}; note=${summary#*|}
    read -r n_pass n_fail n_skip <<<"$counts"
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then # timeout's status, or after -k
      status=TIMEOUT note="killed after ${timeout_s}s${note:+; $note}"
    elif [ "$rc" -ne 0 ]; then
      status=FAIL
      [ -n "$note" ] || note="exit status $rc"
    elif [ "$n_pass" -eq 0 ]; then
      status=SKIP
    else
      status=PASS
    fi
    if [ "$broker_alive" -eq 0 ]; then
      status=FAIL note="ringlog-broker exited during the test (status $broker_rc)${note:+; $note}"
    elif [ "$broker_killed" -eq 1 ]; then
      status=FAIL note="ringlog-broker did not stop within 20 s of SIGTERM (SIGKILL)${note:+; $note}"
    elif [ "$broker_rc" -ne 0 ]; then
      status=FAIL note="ringlog-broker exit status $broker_rc after SIGTERM${note:+; $note}"
    fi
  fi
  end=$(date +%s.%N)
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
  if [ "$status" = FAIL ] || [ "$status" = TIMEOUT ] || [ "$status" = ERROR ]; then
    any_failed=1
    mkdir -p "$logs_dir/$t"
    cp "$dir/broker.log" "$dir/test.log" "$dir/test.conf" "$logs_dir/$t/" 2>/dev/null || true
    cp "$dir/report.json" "$logs_dir/$t/" 2>/dev/null || true
    note="${note:+$note; }logs: $logs_dir/$t"
  fi
  # Markdown cells: no pipes or newlines.
  note=${note//|/\/}
  results+=("| $t | $status | ${counts// //} | $secs | $note |")
  log "$t $status ($secs s)${note:+ $note}"
  rm -rf "$dir/data"
  # Files the runner leaves in its directory.
  rm -f "$src/tests"/stats_*.json "$src/tests"/*.offset
done

table=$(
  echo "| test | result | cases passed/failed/skipped | seconds | notes |"
  echo "|---|---|---|---:|---|"
  printf '%s\n' "${results[@]}"
  for t in "${skipped[@]}"; do echo "| $t | not run | | | ${skip_reason[$t]} |"; done
)
echo "$table"
[ -n "$report" ] && echo "$table" >"$report"
exit "$any_failed"
