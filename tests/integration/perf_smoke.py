#!/usr/bin/python3
"""perf_smoke: a short ringlog-perf run against a real ringlog-broker.

Starts the broker on a free loopback port with a fresh data directory,
produces 5,000 x 100-byte records to a new 3-partition topic with
`ringlog-perf produce --json`, reads them back with
`ringlog-perf consume --from-beginning --verify --json`, and checks that both
report exactly 5,000 records with no errors and that the broker's end offsets
(asked through kafka-python) add up to the same; then an `e2e` run of 2,000
records must get every record back and measure each. Then stops the broker with
SIGTERM and expects exit status 0. Counts only: no timing is asserted.

Usage: perf_smoke.py --broker PATH --perf PATH
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

RECORDS = 5000
PARTITIONS = 3
TOPIC = "perf-smoke"
E2E_RECORDS = 2000


def fail(message):
    print(f"perf_smoke: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def start_broker(binary, data_dir, log):
    args = [binary,
            "--override", "listeners=PLAINTEXT://127.0.0.1:0",
            "--override", f"log.dirs={os.path.join(data_dir, 'data')}",
            "--override", "ringlog.shards=2",
            "--override", "num.partitions=1"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode()
        if not line:
            if proc.poll() is not None:
                fail(f"broker exited with {proc.returncode} before it was ready")
            continue
        if line.startswith("ringlog-broker ready:"):
            return proc, int(line.strip().rsplit(":", 1)[1])
    proc.kill()
    fail("broker not ready after 30 s")


def run_perf(perf, args):
    print("+ ringlog-perf " + " ".join(args), file=sys.stderr)
    done = subprocess.run([perf] + args, stdout=subprocess.PIPE, timeout=120)
    out = done.stdout.decode()
    if done.returncode != 0:
        fail(f"ringlog-perf {args[0]} exited with {done.returncode}: {out}")
    try:
        return json.loads(out)
    except json.JSONDecodeError as e:
        fail(f"ringlog-perf {args[0]} printed no JSON object ({e}): {out!r}")


def end_offsets(port):
    from kafka import KafkaConsumer, TopicPartition
    consumer = KafkaConsumer(bootstrap_servers=f"127.0.0.1:{port}")
    try:
        parts = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
        ends = consumer.end_offsets(parts)
        begins = consumer.beginning_offsets(parts)
        return {tp.partition: ends[tp] - begins[tp] for tp in parts}
    finally:
        consumer.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", required=True)
    parser.add_argument("--perf", required=True)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ringlog-perf-smoke-") as tmp:
        with open(os.path.join(tmp, "broker.log"), "wb") as log:
            proc, port = start_broker(opts.broker, tmp, log)
            try:
                bootstrap = f"127.0.0.1:{port}"
                produced = run_perf(opts.perf, [
                    "produce", "--bootstrap", bootstrap, "--topic", TOPIC,
                    "--partitions", str(PARTITIONS), "--records", str(RECORDS),
                    "--record-size", "100", "--json"])
                consumed = run_perf(opts.perf, [
                    "consume", "--bootstrap", bootstrap, "--topic", TOPIC,
                    "--from-beginning", "--records", str(RECORDS), "--verify", "--json"])
                stored = end_offsets(port)
                e2e = run_perf(opts.perf, [
                    "e2e", "--bootstrap", bootstrap, "--topic", TOPIC + "-e2e",
                    "--partitions", "2", "--records", str(E2E_RECORDS), "--rate", "5000",
                    "--record-size", "100", "--json"])
            finally:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                try:
                    rc = proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    fail("broker did not stop within 30 s of SIGTERM")
        if rc != 0:
            with open(os.path.join(tmp, "broker.log"), errors="replace") as f:
                tail = f.read()[-2000:]
            fail(f"broker exited with {rc} after SIGTERM, expected 0:\n{tail}")

    print(f"produce: {json.dumps(produced)}", file=sys.stderr)
    print(f"consume: {json.dumps(consumed)}", file=sys.stderr)
    print(f"broker end offsets per partition: {stored}", file=sys.stderr)
    print(f"e2e: {json.dumps(e2e)}", file=sys.stderr)
    problems = []
    if produced["records"] != RECORDS:
        problems.append(f"produce reported {produced['records']} records, expected {RECORDS}")
    if produced["errors"] != 0:
        problems.append(f"produce reported {produced['errors']} errors: {produced['first_error']}")
    if produced["partitions"] != PARTITIONS:
        problems.append(f"produce used {produced['partitions']} partitions, expected {PARTITIONS}")
    if consumed["records"] != RECORDS:
        problems.append(f"consume reported {consumed['records']} records, expected {RECORDS}")
    if consumed["errors"] != 0:
        problems.append(f"consume reported {consumed['errors']} errors: {consumed['first_error']}")
    if sum(stored.values()) != RECORDS:
        problems.append(f"broker holds {sum(stored.values())} records ({stored}), expected {RECORDS}")
    if any(n == 0 for n in stored.values()):
        problems.append(f"a partition got no records: {stored} (records go round-robin)")
    if produced["bytes"] != RECORDS * 100:
        problems.append(f"produce reported {produced['bytes']} value bytes, expected {RECORDS * 100}")
    if consumed["bytes"] != produced["wire_bytes"]:
        problems.append(f"consume read {consumed['bytes']} batch bytes, produce sent "
                        f"{produced['wire_bytes']} (uncompressed batches are stored as sent)")
    if e2e["produced"] != E2E_RECORDS or e2e["records"] != E2E_RECORDS or e2e["errors"] != 0:
        problems.append(f"e2e produced {e2e['produced']} and received {e2e['records']} records "
                        f"with {e2e['errors']} errors ({e2e['first_error']}), expected "
                        f"{E2E_RECORDS} each and no errors")
    if e2e["latency_ms"]["count"] != E2E_RECORDS:
        problems.append(f"e2e measured {e2e['latency_ms']['count']} records, expected "
                        f"{E2E_RECORDS} (no warm-up with --records)")
    if problems:
        fail("; ".join(problems))
    print("perf_smoke: ok", file=sys.stderr)


if __name__ == "__main__":
    main()
