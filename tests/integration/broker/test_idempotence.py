"""Idempotent producers against ringlog-broker: librdkafka's idempotent
producer (confluent-kafka-python) gets a producer id through InitProducerId and
every message lands exactly once, in order; InitProducerId itself answered at
v0 and v3 (epoch bump, transactional ids refused), and producer ids stay
unique across a restart."""
import glob
import os
import socket
import struct

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import unique_topic

INIT_PRODUCER_ID = 22
NONE = 0
INVALID_REQUEST = 42
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53


def create_topic(broker, topic, partitions):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions,
                                            replication_factor=1)])
    futures[topic].result(timeout=30)


def consume_all(broker, topic, partitions, expected):
    """Every record of the topic: {(partition, offset): value}."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    got = {}
    eof = set()
    while len(eof) < partitions:
        msg = consumer.poll(10)
        assert msg is not None, f"consumer stalled with {len(got)} of {expected} records"
        if msg.error():
            assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
            eof.add(msg.partition())
            continue
        key = (msg.partition(), msg.offset())
        assert key not in got, f"offset {key} delivered twice to the consumer"
        got[key] = msg.value()
    consumer.close()
    return got


def batch_headers(broker, topic, partition):
    """(base offset, record count, producer id, producer epoch, base sequence)
    of every batch in the partition's segments, read from the files (layout:
    docs/formats/record_batch.md)."""
    out = []
    pattern = os.path.join(broker.data_dir, "data", f"{topic}-{partition}", "*.log")
    for path in sorted(glob.glob(pattern)):
        with open(path, "rb") as f:
            data = f.read()
        pos = 0
        while pos + 61 <= len(data):
            base_offset, length = struct.unpack_from(">qi", data, pos)
            if length <= 0:
                break  # preallocated room past the last batch
            producer_id, epoch, base_sequence, count = struct.unpack_from(">qhii", data, pos + 43)
            out.append((base_offset, count, producer_id, epoch, base_sequence))
            pos += 12 + length
    return out


def produce_idempotently(broker, topic, n, key_count=17, **extra):
    config = {"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "acks": "all",
              "linger.ms": 5}
    config.update(extra)
    producer = Producer(config)
    delivered = {}
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
        else:
            delivered[(msg.partition(), msg.offset())] = msg.value()

    for i in range(n):
        producer.produce(topic, key=f"k{i % key_count}".encode(), value=f"m{i}".encode(),
                         on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(60) == 0, "messages left undelivered"
    assert errors == [], f"delivery errors: {errors[:5]}"
    return delivered


def test_idempotent_producer_delivers_every_message_exactly_once_in_order(broker):
    n, partitions = 5000, 3
    topic = unique_topic("idem")
    create_topic(broker, topic, partitions)
    delivered = produce_idempotently(broker, topic, n)
    assert len(delivered) == n, f"{len(delivered)} delivery reports for {n} messages"

    got = consume_all(broker, topic, partitions, n)
    assert got == delivered, "the consumer reads what the delivery reports said"
    values = sorted(int(v[1:]) for v in got.values())
    assert values == list(range(n)), "every message exactly once: no duplicates, none missing"

    producer_ids = set()
    for p in range(partitions):
        offsets = sorted(o for (q, o) in got if q == p)
        assert offsets == list(range(len(offsets))), f"partition {p} has offset gaps"
        # A key maps to one partition and was produced in index order.
        indexes = [int(got[(p, o)][1:]) for o in offsets]
        assert indexes == sorted(indexes), f"partition {p} is out of production order"

        # Stored batches carry the producer id, epoch 0 and sequence numbers
        # that continue from batch to batch (the idempotent path was used).
        headers = batch_headers(broker, topic, p)
        assert sum(h[1] for h in headers) == len(offsets)
        expected_sequence = 0
        for base_offset, count, producer_id, epoch, base_sequence in headers:
            assert producer_id >= 0 and epoch == 0, (producer_id, epoch)
            assert base_sequence == expected_sequence, (
                f"partition {p} batch at offset {base_offset}: sequence {base_sequence}, "
                f"expected {expected_sequence}")
            expected_sequence += count
            producer_ids.add(producer_id)
    assert len(producer_ids) == 1, f"one producer, one id: {producer_ids}"


# ---- InitProducerId on the wire

def _call(port, api_version, body, flexible, correlation_id=7):
    """Sends one InitProducerId request and returns the response body."""
    header = struct.pack(">hhih", INIT_PRODUCER_ID, api_version, correlation_id, len(b"it"))
    header += b"it"
    if flexible:
        header += b"\x00"  # request header v2: no tagged fields
    frame = header + body
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(struct.pack(">i", len(frame)) + frame)
        size = struct.unpack(">i", _read_exactly(s, 4))[0]
        response = _read_exactly(s, size)
    assert struct.unpack_from(">i", response)[0] == correlation_id
    return response[5:] if flexible else response[4:]  # response header v1 has a tag byte


def _read_exactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        assert chunk, f"connection closed after {len(data)} of {n} bytes"
        data += chunk
    return data


def init_v0(port, transactional_id=None):
    if transactional_id is None:
        body = struct.pack(">h", -1)
    else:
        body = struct.pack(">h", len(transactional_id)) + transactional_id.encode()
    body += struct.pack(">i", 60000)
    throttle, error, producer_id, epoch = struct.unpack(">ihqh", _call(port, 0, body, False))
    return error, producer_id, epoch


def init_v3(port, producer_id, epoch, transactional_id=None):
    if transactional_id is None:
        body = b"\x00"  # compact nullable string: null
    else:
        body = bytes([len(transactional_id) + 1]) + transactional_id.encode()
    body += struct.pack(">iqh", 60000, producer_id, epoch) + b"\x00"
    response = _call(port, 3, body, True)
    throttle, error, pid, ep = struct.unpack_from(">ihqh", response)
    assert response[16:] == b"\x00", "no tagged fields"
    return error, pid, ep


def test_init_producer_id_v0_hands_out_a_fresh_id_each_time(broker):
    answers = [init_v0(broker.port) for _ in range(20)]
    assert all(error == NONE and epoch == 0 for error, _, epoch in answers), answers
    ids = [pid for _, pid, _ in answers]
    assert len(set(ids)) == len(ids) and min(ids) >= 0, ids


def test_init_producer_id_v3_bumps_the_epoch_of_an_id_we_handed_out(broker):
    error, pid, epoch = init_v3(broker.port, -1, -1)
    assert (error, epoch) == (NONE, 0) and pid >= 0
    assert init_v3(broker.port, pid, 0) == (NONE, pid, 1)
    assert init_v3(broker.port, pid, 41) == (NONE, pid, 42)
    # An epoch that cannot grow, or an id we never handed out: a fresh id.
    for bad_pid, bad_epoch in [(pid, 32767), (2**62, 0)]:
        error, fresh, epoch = init_v3(broker.port, bad_pid, bad_epoch)
        assert (error, epoch) == (NONE, 0)
        assert fresh >= 0 and fresh not in (pid, bad_pid)


def test_transactional_init_producer_id_is_refused_fast(broker):
    assert init_v0(broker.port, "tx-1") == (TRANSACTIONAL_ID_AUTHORIZATION_FAILED, -1, -1)
    assert init_v3(broker.port, -1, -1, "tx-1") == (TRANSACTIONAL_ID_AUTHORIZATION_FAILED, -1, -1)
    assert init_v0(broker.port, "") == (INVALID_REQUEST, -1, -1)


def test_producer_ids_are_never_reused_after_a_restart(fresh_broker):
    b = fresh_broker.start()
    before = {init_v0(b.port)[1] for _ in range(10)}
    topic = unique_topic("idem-restart")
    create_topic(b, topic, 1)
    produce_idempotently(b, topic, 100)
    assert b.stop() == 0
    b.start()
    after = {init_v0(b.port)[1] for _ in range(10)}
    produce_idempotently(b, topic, 100)
    assert -1 not in before | after
    assert not before & after, f"ids handed out again after the restart: {before & after}"
    ids = [h[2] for h in batch_headers(b, topic, 0)]
    assert len(set(ids)) == 2, f"two producers, two ids: {set(ids)}"
    assert not set(ids) & (before | after)
    assert len(consume_all(b, topic, 1, 200)) == 200
