#!/usr/bin/python3
"""Waits until a Kafka broker serves: it accepts a connection on 127.0.0.1:PORT
and answers Metadata (v4, all topics, no auto-creation) with at least
--partitions error-free partitions in topics whose names start with
--topic-prefix. Polls every 20 ms; prints the seconds since --since (a
wall-clock time, `date +%s.%N`, taken just before the broker was started).

Exit status: 0 ready, 1 timed out or the broker process (--pid) exited.
Standard library only (bench/run.sh runs it with /usr/bin/python3).
"""
import argparse
import os
import socket
import struct
import sys
import time

POLL_S = 0.02


def metadata_request(correlation_id):
    # Request header v1: api_key 3 (Metadata), api_version 4, correlation id,
    # client id; body v4: topics null (= all), allow_auto_topic_creation false.
    client = b"ringlog-bench"
    body = struct.pack(">hhih", 3, 4, correlation_id, len(client)) + client
    body += struct.pack(">i?", -1, False)
    return struct.pack(">i", len(body)) + body


class Reader:
    def __init__(self, buf):
        self.buf, self.pos = buf, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.buf[self.pos:self.pos + n].decode()
        self.pos += n
        return s

    def int32_array(self):
        n = self.take(">i")
        return [self.take(">i") for _ in range(max(n, 0))]


def count_partitions(resp, prefix):
    """Error-free partitions of error-free topics named prefix*, in a
    Metadata v4 response body (after the correlation id)."""
    r = Reader(resp)
    r.take(">i")  # throttle_time_ms
    for _ in range(r.take(">i")):  # brokers
        r.take(">i"), r.string(), r.take(">i"), r.string()
    r.string()  # cluster_id
    r.take(">i")  # controller_id
    ok = 0
    for _ in range(r.take(">i")):  # topics
        topic_error, name, _internal = r.take(">h"), r.string(), r.take(">?")
        good = 0
        for _ in range(r.take(">i")):
            part_error = r.take(">h")
            r.take(">i"), r.take(">i")  # partition_index, leader_id
            r.int32_array(), r.int32_array()  # replicas, isr
            good += part_error == 0
        if topic_error == 0 and name is not None and name.startswith(prefix):
            ok += good
    return ok


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def probe(port, prefix):
    """Partitions served, or None when the broker does not answer yet."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(metadata_request(1))
            size = struct.unpack(">i", recv_exact(s, 4))[0]
            resp = recv_exact(s, size)
            if struct.unpack_from(">i", resp)[0] != 1:
                return None
            return count_partitions(resp[4:], prefix)
    except (OSError, ConnectionError, struct.error, UnicodeDecodeError):
        return None


def alive(pid):
    if pid is None:
        return True
    try:
        # A zombie (exited, not yet reaped by bench/run.sh) is not alive.
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--since", type=float, default=None, help="wall-clock start (default: now)")
    ap.add_argument("--pid", type=int, default=None, help="the broker; give up when it exits")
    ap.add_argument("--topic-prefix", default="")
    ap.add_argument("--partitions", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=30)
    a = ap.parse_args()
    since = time.time() if a.since is None else a.since
    deadline = time.monotonic() + a.timeout
    last = None
    while True:
        got = probe(a.port, a.topic_prefix)
        if got is not None and got >= a.partitions:
            print(f"{time.time() - since:.3f}")
            return 0
        last = got if got is not None else last
        if not alive(a.pid):
            print(f"wait_ready: broker (pid {a.pid}) exited", file=sys.stderr)
            return 1
        if time.monotonic() >= deadline:
            print(f"wait_ready: not ready after {a.timeout:.0f} s "
                  f"(partitions served: {last}, wanted {a.partitions})", file=sys.stderr)
            return 1
        time.sleep(POLL_S)


if __name__ == "__main__":
    sys.exit(main())
