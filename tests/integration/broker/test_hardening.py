"""Edge cases a client can hit that once broke the broker, each driven by a
real client or the raw protocol: batches without timestamps, Fetch's
response-wide max_bytes, keyless records in a compacted topic named one by
one (KIP-467), the open-files limit, and a port still held by another
broker."""
import os
import resource
import signal
import socket
import struct
import tempfile
import time

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.record.default_records import DefaultRecordBatchBuilder

from conftest import Broker, crc32c, raw_request, unique_topic


def request(api_key, version, correlation_id, body, client_id=b"hardening"):
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id
    return struct.pack(">i", len(header) + len(body)) + header + body


def string(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


class reader:
    """A cursor over a response frame (size prefix and correlation id skipped)."""

    def __init__(self, frame):
        self.data = frame
        self.pos = 8

    def take(self, fmt):
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return values if len(values) > 1 else values[0]

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.data[self.pos:self.pos + n].decode()
        self.pos += n
        return s

    def bytes(self):
        n = self.take(">i")
        if n < 0:
            return None
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b


def batch(values, keys=None, timestamp=None):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                  batch_size=16 << 20)
    for i, v in enumerate(values):
        key = keys[i] if keys is not None else None
        ts = timestamp if timestamp is not None else int(time.time() * 1000)
        b.append(i, timestamp=ts, key=key, value=v, headers=[])
    return bytes(b.build())


def produce(port, topic, records, version=3, correlation_id=1):
    """One partition (0), acks=-1; returns (error, base offset, record_errors,
    error_message) as the response gives them for `version`."""
    body = struct.pack(">hhi", -1, -1, 10000) + struct.pack(">i", 1) + string(topic)
    body += struct.pack(">iii", 1, 0, len(records)) + records
    r = reader(raw_request(port, request(0, version, correlation_id, body), timeout=15))
    assert r.take(">i") == 1 and r.string() == topic and r.take(">i") == 1
    _, error, base_offset = r.take(">ihq")
    r.take(">q")  # log_append_time_ms
    if version >= 5:
        r.take(">q")  # log_start_offset
    record_errors, message = [], None
    if version >= 8:
        for _ in range(r.take(">i")):
            record_errors.append((r.take(">i"), r.string()))
        message = r.string()
    return error, base_offset, record_errors, message


def fetch_v4(port, topic, partitions, max_bytes, partition_max_bytes, correlation_id=9):
    """Fetch v4 from offset 0 of each partition; returns the response's size
    and, per partition, (record bytes, size of the first batch)."""
    body = struct.pack(">iiiib", -1, 500, 1, max_bytes, 0) + struct.pack(">i", 1) + string(topic)
    body += struct.pack(">i", len(partitions))
    for p in partitions:
        body += struct.pack(">iqi", p, 0, partition_max_bytes)
    frame = raw_request(port, request(1, 4, correlation_id, body), timeout=30)
    r = reader(frame)
    r.take(">i")  # throttle
    out = {}
    for _ in range(r.take(">i")):
        r.string()
        for _ in range(r.take(">i")):
            partition, error, _hw, _lso = r.take(">ihqq")
            assert error == 0, f"partition {partition}: error {error}"
            aborted = r.take(">i")
            for _ in range(max(aborted, 0)):
                r.take(">qq")
            records = r.bytes() or b""
            first = struct.unpack_from(">i", records, 8)[0] + 12 if len(records) >= 12 else 0
            out[partition] = (len(records), first)
    return len(frame), out


def create_topic(broker, topic, partitions, config=None):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    new = NewTopic(topic, num_partitions=partitions, replication_factor=1, config=config or {})
    admin.create_topics([new])[topic].result(timeout=30)


def read_all(bootstrap, topic, partitions, expected, timeout_s=60, **config):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                         "enable.auto.commit": False, **config})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    got = []
    deadline = time.monotonic() + timeout_s
    while len(got) < expected:
        assert time.monotonic() < deadline, f"consumer stalled with {len(got)} of {expected} records"
        for msg in consumer.consume(num_messages=1000, timeout=1):
            assert msg.error() is None, msg.error()
            got.append(msg)
    consumer.close()
    return got


def test_batches_without_timestamps_are_stored_served_and_survive_a_crash(fresh_broker):
    # sarama and older clients send timestamp -1 (NO_TIMESTAMP) when the
    # application sets none. As the first batches of a segment they once
    # made the broker abort on its time index after about 4 KiB.
    b = fresh_broker.start()
    topic = unique_topic("untimed")
    create_topic(b, topic, 1)
    sent = []
    for i in range(60):
        values = [f"untimed-{i}-{j}-".encode() + b"x" * 300 for j in range(4)]
        error, base, _, _ = produce(b.port, topic, batch(values, timestamp=-1), correlation_id=i)
        assert (error, base) == (0, 4 * i), f"batch {i}: error {error}, base offset {base}"
        sent += values
    got = read_all(b.bootstrap, topic, 1, len(sent))
    assert [m.value() for m in got] == sent
    assert all(m.timestamp()[1] == -1 for m in got), "the records keep their missing timestamps"

    b.kill()
    b.start()
    got = read_all(b.bootstrap, topic, 1, len(sent))
    assert [m.value() for m in got] == sent, "every acknowledged record is back after SIGKILL"
    # Timed records after the untimed ones are found by time.
    error, base, _, _ = produce(b.port, topic, batch([b"timed"]), correlation_id=99)
    assert (error, base) == (0, len(sent))
    consumer = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "unused"})
    found = consumer.offsets_for_times([TopicPartition(topic, 0, int(time.time() * 1000) - 60_000)],
                                       timeout=30)
    consumer.close()
    assert found[0].offset == len(sent)


def test_fetch_response_stays_within_fetch_max_bytes(broker):
    topic = unique_topic("maxbytes")
    create_topic(broker, topic, 3)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all",
                         "batch.size": 300_000, "linger.ms": 5})
    value = b"m" * 100_000
    per_partition = 30  # 3 MB each
    for p in range(3):
        for i in range(per_partition):
            producer.produce(topic, value=value, partition=p)
    assert producer.flush(60) == 0

    # Each partition could give 20 MB, the response may hold 1 MB.
    size, parts = fetch_v4(broker.port, topic, [0, 1, 2], max_bytes=1_000_000,
                           partition_max_bytes=20_000_000)
    assert sum(n for n, _ in parts.values()) <= 1_000_000, parts
    assert size <= 1_000_000 + 1024, f"a {size}-byte response to a max_bytes of 1,000,000"
    # A first batch larger than max_bytes still comes whole, and nothing else.
    size, parts = fetch_v4(broker.port, topic, [0, 1, 2], max_bytes=1000,
                           partition_max_bytes=20_000_000)
    n, first = parts[0]
    assert first > 1000 and n == first, parts
    assert parts[1][0] == 0 and parts[2][0] == 0, parts

    # librdkafka drops a response larger than receive.message.max.bytes and
    # retries forever: with fetch.max.bytes honoured it reads everything.
    got = read_all(broker.bootstrap, topic, 3, 3 * per_partition,
                   **{"fetch.max.bytes": 1_000_000, "max.partition.fetch.bytes": 20_000_000,
                      "receive.message.max.bytes": 1_000_512})
    assert len(got) == 3 * per_partition


def test_keyless_records_in_a_compacted_topic_are_named_in_record_errors(broker):
    topic = unique_topic("compactkeys")
    create_topic(broker, topic, 1, {"cleanup.policy": "compact"})
    keys = [None if i in (2, 5, 7) else f"k{i}".encode() for i in range(10)]
    records = batch([f"v{i}".encode() for i in range(10)], keys=keys)
    error, _, record_errors, message = produce(broker.port, topic, records, version=8)
    assert error == 87, f"INVALID_RECORD expected, got {error}"
    assert [i for i, _ in record_errors] == [2, 5, 7]
    assert all("without key" in m for _, m in record_errors), record_errors
    assert message and "3 record" in message, message
    # Before v8 the response has no record_errors: the same error alone.
    error, _, _, _ = produce(broker.port, topic, records, version=7)
    assert error == 87
    # Nothing of the refused batch was stored; a keyed batch goes in at 0.
    error, base, _, _ = produce(broker.port, topic, batch([b"ok"], keys=[b"k"]), version=8)
    assert (error, base) == (0, 0)


def test_a_batch_whose_records_do_not_decode_is_refused_and_not_stored(broker):
    # A right CRC over garbage records: stored, it would stop every consumer.
    topic = unique_topic("garbage")
    create_topic(broker, topic, 1)
    good = bytearray(batch([b"v" * 40]))
    garbage = bytearray(good[:61]) + bytes(range(7, 7 + len(good) - 61))
    garbage[17:21] = struct.pack(">I", crc32c(bytes(garbage[21:])))
    error, _, _, message = produce(broker.port, topic, bytes(garbage), version=8)
    assert error == 87, f"INVALID_RECORD expected, got {error} ({message})"
    assert message, "the error names the record that does not decode"
    error, base, _, _ = produce(broker.port, topic, bytes(good), version=8)
    assert (error, base) == (0, 0), "nothing of the refused batch was stored"


def api_versions(sock, correlation_id):
    sock.sendall(request(18, 0, correlation_id, b""))


def answered(sock, timeout):
    """Reads one whole response frame, or returns False at the timeout."""
    sock.settimeout(timeout)
    data = b""
    try:
        while len(data) < 4 or len(data) < 4 + struct.unpack(">i", data[:4])[0]:
            chunk = sock.recv(65536)
            if not chunk:
                return False
            data += chunk
    except socket.timeout:
        return False
    return True


def wait_for_log(broker, text, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with open(broker.log_path, "rb") as f:
            if text.encode() in f.read():
                return True
        time.sleep(0.05)
    return False


def test_at_the_open_files_limit_accept_says_so_keeps_serving_and_recovers(broker_binary):
    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    with tempfile.TemporaryDirectory(prefix="ringlog-it-") as d:
        b = Broker(broker_binary, d, preexec_fn=low_limit).start()
        try:
            # More connections than descriptors: the kernel completes every
            # handshake, the broker accepts until it runs out.
            socks = [socket.create_connection(("127.0.0.1", b.port)) for _ in range(80)]
            for i, s in enumerate(socks):
                api_versions(s, i)
            assert wait_for_log(b, "out of file descriptors"), b.tail()
            assert wait_for_log(b, "the open-files limit is 64"), b.tail()
            done = [s for s in socks if answered(s, 0.5)]
            waiting = [s for s in socks if s not in done]
            assert done and waiting, (len(done), len(waiting))
            # Existing clients are still served.
            api_versions(done[0], 1000)
            assert answered(done[0], 30)
            # Closing connections frees descriptors: every waiting connection
            # is accepted and answered.
            for s in done[1:]:
                s.close()
            for s in waiting:
                assert answered(s, 30), "a connection that waited at the limit was never served"
            assert wait_for_log(b, "accepting again"), b.tail()
            for s in waiting + done[:1]:
                s.close()
        finally:
            assert b.stop() == 0, b.tail()


def test_a_port_held_by_a_live_broker_is_not_shared(broker, broker_binary):
    # SO_REUSEPORT would let a second broker bind beside the first and take
    # half of its new connections; it must refuse the port instead.
    with tempfile.TemporaryDirectory(prefix="ringlog-it-") as d:
        second = Broker(broker_binary, d)
        second.port = broker.port
        with pytest.raises(RuntimeError, match="in use by another process"):
            second.start(timeout=60)
    s = socket.create_connection(("127.0.0.1", broker.port))
    api_versions(s, 1)
    assert answered(s, 10)
    s.close()


def test_a_broker_restarted_at_once_after_sigkill_resets_no_connection(fresh_broker):
    # The killed broker's listening sockets outlive it briefly; connections
    # hashed to them used to be reset.
    b = fresh_broker.start()
    for attempt in range(5):
        b.kill()
        b.start()
        for i in range(40):
            s = socket.create_connection(("127.0.0.1", b.port))
            api_versions(s, i)
            assert answered(s, 10), f"restart {attempt}: connection {i} got no answer"
            s.close()
