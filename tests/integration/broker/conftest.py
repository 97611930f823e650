"""Fixtures for the real-client tests: a ringlog-broker process on a free
loopback port with a fresh data directory, started and stopped per test
module (or per test where a test restarts or kills it).

The broker binary comes from --broker (ctest passes it) or RINGLOG_BROKER.
"""
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest


def pytest_addoption(parser):
    parser.addoption("--broker", default=os.environ.get("RINGLOG_BROKER"),
                     help="path of the ringlog-broker binary")
    parser.addoption("--admin", default=os.environ.get("RINGLOG_ADMIN"),
                     help="path of the ringlog-admin binary (default: next to the broker's "
                          "build tree, tools/admin/ringlog-admin)")


class Broker:
    """One ringlog-broker process. start() waits for its ready line."""

    def __init__(self, binary, data_dir, extra=(), preexec_fn=None):
        self.binary = binary
        self.data_dir = data_dir
        self.extra = list(extra)
        self.preexec_fn = preexec_fn  # e.g. lower RLIMIT_NOFILE for the broker only
        self.port = None
        self.proc = None
        self.log_path = os.path.join(data_dir, "broker.log")

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def start(self, timeout=30):
        listen_port = self.port or 0
        args = [self.binary,
                "--override", f"listeners=PLAINTEXT://127.0.0.1:{listen_port}",
                "--override", f"log.dirs={os.path.join(self.data_dir, 'data')}",
                "--override", "ringlog.shards=2",
                "--override", "num.partitions=1",
                "--override", "auto.create.topics.enable=true"]
        for kv in self.extra:
            args += ["--override", kv]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log,
                                     preexec_fn=self.preexec_fn)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"broker exited with {self.proc.returncode}: {self.tail()}")
                continue
            if line.startswith("ringlog-broker ready:"):
                self.port = int(line.strip().rsplit(":", 1)[1])
                return self
        raise RuntimeError(f"broker not ready after {timeout}s: {self.tail()}")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError(f"broker did not stop within {timeout}s after {sig}: {self.tail()}")
        self.proc.stdout.close()
        self.log.close()
        self.proc = None
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return "(no log)"


@pytest.fixture(scope="module")
def broker_binary(request):
    binary = request.config.getoption("--broker")
    if not binary or not os.path.exists(binary):
        pytest.fail("ringlog-broker binary not found: pass --broker PATH or set RINGLOG_BROKER")
    return binary


@pytest.fixture(scope="module")
def broker(broker_binary):
    with tempfile.TemporaryDirectory(prefix="ringlog-it-") as d:
        b = Broker(broker_binary, d).start()
        yield b
        rc = b.stop()
        assert rc == 0, f"broker exit status {rc} after SIGTERM: {b.tail()}"


@pytest.fixture
def fresh_broker(broker_binary):
    """A broker of its own, for tests that restart or kill it."""
    with tempfile.TemporaryDirectory(prefix="ringlog-it-") as d:
        b = Broker(broker_binary, d)
        yield b
        if b.alive():
            b.stop()


def unique_topic(prefix="t"):
    return f"{prefix}-{os.getpid()}-{time.monotonic_ns() % 10**9}"


def raw_request(port, frame, timeout=5):
    """Sends raw bytes and returns the first response frame (size prefix
    included), or what came before the broker closed the connection or the
    timeout passed (b"" when it closed without answering)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(frame)
        data = b""
        while True:
            if len(data) >= 4:
                size = struct.unpack(">i", data[:4])[0]
                if len(data) >= 4 + size:
                    return data[:4 + size]
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return data
            if not chunk:
                return data
            data += chunk
    finally:
        s.close()


def crc32c(data):
    """CRC-32C (Castagnoli), as record batches and snapshot files carry it."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF
