"""kcat 1.7.1 (librdkafka 2.0.2) against ringlog-broker: keyed records with
headers in every codec, read back whole, from an absolute offset and from the
end (-o -10), as a user checks a topic from the shell."""
import subprocess

import pytest

from conftest import unique_topic

TOTAL = 10_000
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PER_CODEC = TOTAL // len(CODECS)
FMT = "%k|%s|%h|%o\n"


def kcat(broker, *args, input=None, timeout=60):
    r = subprocess.run(["kcat", "-b", broker.bootstrap, *args], input=input, capture_output=True,
                       timeout=timeout)
    assert r.returncode == 0, f"kcat {' '.join(args)} exited {r.returncode}: {r.stderr.decode()}"
    return r.stdout.decode()


def headers_of(codec):
    # A repeated name and an empty value, in the order kcat must keep.
    return [("codec", codec), ("dup", "first"), ("dup", "second"), ("empty", "")]


def expected_line(i):
    codec = CODECS[i // PER_CODEC]
    hdrs = ",".join(f"{k}={v}" for k, v in headers_of(codec))
    return f"key{i}|value-{i}-{'v' * (i % 40)}|{hdrs}|{i}"


@pytest.fixture(scope="module")
def topic(broker):
    """One partition holding TOTAL keyed records with headers, produced by
    one kcat per codec (kcat's -H headers apply to a whole run)."""
    name = unique_topic("kcat-hdr")
    for n, codec in enumerate(CODECS):
        lines = "".join(f"key{i}:value-{i}-{'v' * (i % 40)}\n"
                        for i in range(n * PER_CODEC, (n + 1) * PER_CODEC)).encode()
        args = ["-P", "-t", name, "-p", "0", "-K:", "-X", "acks=all",
                "-X", f"compression.codec={codec}"]
        for k, v in headers_of(codec):
            args += ["-H", f"{k}={v}"]
        kcat(broker, *args, input=lines)
    return name


def consume(broker, topic, offset):
    out = kcat(broker, "-C", "-t", topic, "-p", "0", "-o", offset, "-e", "-f", FMT)
    return out.splitlines()


def first_difference(got, want):
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return f"line {i}: got {g!r}, expected {w!r}"
    return f"got {len(got)} lines, expected {len(want)}"


def test_every_record_comes_back_with_key_value_headers_and_offset(broker, topic):
    got = consume(broker, topic, "beginning")
    want = [expected_line(i) for i in range(TOTAL)]
    assert got == want, first_difference(got, want)


def test_consume_from_an_absolute_offset(broker, topic):
    got = consume(broker, topic, "5000")
    want = [expected_line(i) for i in range(5000, TOTAL)]
    assert got == want, first_difference(got, want)


def test_consume_the_last_ten(broker, topic):
    got = consume(broker, topic, "-10")
    want = [expected_line(i) for i in range(TOTAL - 10, TOTAL)]
    assert got == want, first_difference(got, want)
