"""Idempotent produce at the byte level: a retried batch (same producer id,
epoch and sequence) is answered with its original offset and stored once,
also after the broker was SIGKILLed or stopped (which leaves Kafka's producer
snapshot file); gaps and fenced epochs get Kafka's errors."""
import os
import struct

from kafka import KafkaConsumer, TopicPartition
from kafka.record.default_records import DefaultRecordBatchBuilder

from conftest import crc32c, raw_request, unique_topic

PID = 777_000


def batch(first_sequence, count, epoch=0, pid=PID):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                  producer_id=pid, producer_epoch=epoch,
                                  base_sequence=first_sequence, batch_size=1 << 20)
    for i in range(count):
        b.append(i, timestamp=None, key=None, value=f"seq{first_sequence + i}".encode(), headers=[])
    return bytes(b.build())


def produce(port, topic, records, correlation_id=1):
    """Produce v3, acks=-1, one partition; returns (error code, base offset)."""
    name = topic.encode()
    client = b"seq-test"
    header = struct.pack(">hhih", 0, 3, correlation_id, len(client)) + client
    body = struct.pack(">hhi", -1, -1, 10000)
    body += struct.pack(">ih", 1, len(name)) + name
    body += struct.pack(">iii", 1, 0, len(records)) + records
    payload = header + body
    reply = raw_request(port, struct.pack(">i", len(payload)) + payload, timeout=10)
    pos = 4 + 4 + 4
    (name_len,) = struct.unpack(">h", reply[pos:pos + 2])
    pos += 2 + name_len + 4
    _, error, base_offset = struct.unpack(">ihq", reply[pos:pos + 14])
    return error, base_offset


def stored(broker, topic):
    """Every value in partition 0, read up to its end offset. Reading until the
    end rather than until 3 s of silence: a loaded CI host can be slower than
    that to answer the first fetch, which cut the list short."""
    tp = TopicPartition(topic, 0)
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None,
                             auto_offset_reset="earliest", consumer_timeout_ms=30000)
    consumer.assign([tp])
    end = consumer.end_offsets([tp])[tp]
    values = []
    if end > 0:
        for r in consumer:
            values.append(r.value)
            if r.offset + 1 >= end:
                break
    consumer.close()
    return values


def create(broker, topic):
    # Any plain produce creates the topic (auto-create) through Metadata first.
    from kafka import KafkaProducer
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    p.send(topic, value=b"plain").get(timeout=30)
    p.close()


def test_retry_is_answered_with_the_original_offset_and_stored_once(fresh_broker):
    b = fresh_broker.start()
    topic = unique_topic("seq")
    create(b, topic)
    assert produce(b.port, topic, batch(0, 3)) == (0, 1)
    assert produce(b.port, topic, batch(3, 2)) == (0, 4)
    assert produce(b.port, topic, batch(0, 3)) == (0, 1), "retry of the first batch"
    assert produce(b.port, topic, batch(3, 2)) == (0, 4), "retry of the second batch"
    assert stored(b, topic) == [b"plain", b"seq0", b"seq1", b"seq2", b"seq3", b"seq4"]

    # After a crash the state is rebuilt from the log: still a duplicate.
    b.kill()
    b.start()
    assert produce(b.port, topic, batch(3, 2)) == (0, 4)
    assert produce(b.port, topic, batch(5, 1)) == (0, 6)
    assert stored(b, topic) == [b"plain", b"seq0", b"seq1", b"seq2", b"seq3", b"seq4", b"seq5"]


def test_gap_and_fenced_epoch_are_refused(fresh_broker):
    b = fresh_broker.start()
    topic = unique_topic("seqerr")
    create(b, topic)
    assert produce(b.port, topic, batch(0, 2, epoch=1))[0] == 0
    assert produce(b.port, topic, batch(5, 1, epoch=1))[0] == 45, "OUT_OF_ORDER_SEQUENCE_NUMBER"
    assert produce(b.port, topic, batch(2, 1, epoch=0))[0] == 47, "INVALID_PRODUCER_EPOCH"
    assert produce(b.port, topic, batch(0, 1, epoch=2))[0] == 0, "a new epoch starts at 0"
    assert stored(b, topic) == [b"plain", b"seq0", b"seq1", b"seq0"]


def test_clean_stop_snapshots_producer_state_and_a_retry_stays_a_duplicate(fresh_broker):
    b = fresh_broker.start()
    topic = unique_topic("seqsnap")
    create(b, topic)
    assert produce(b.port, topic, batch(0, 3)) == (0, 1)
    assert produce(b.port, topic, batch(3, 2)) == (0, 4)
    assert b.stop() == 0, b.tail()

    # Kafka's <log end offset>.snapshot, version 1, the producer's last batch.
    part = os.path.join(b.data_dir, "data", f"{topic}-0")
    snapshots = sorted(f for f in os.listdir(part) if f.endswith(".snapshot"))
    assert snapshots == [f"{6:020d}.snapshot"], os.listdir(part)
    with open(os.path.join(part, snapshots[0]), "rb") as f:
        data = f.read()
    version, crc, count = struct.unpack(">hIi", data[:10])
    assert (version, count, len(data)) == (1, 1, 10 + 46)
    assert crc == crc32c(data[6:])
    pid, epoch, last_seq, last_offset, delta, _ts, coord_epoch, txn_first = struct.unpack(
        ">qhiqiqiq", data[10:])
    assert (pid, epoch, last_seq, last_offset, delta, coord_epoch, txn_first) == (
        PID, 0, 4, 5, 1, -1, -1)

    b.start()
    assert produce(b.port, topic, batch(3, 2)) == (0, 4), "retry of the last batch"
    # The snapshot keeps the last batch only, as Kafka's does (and the state
    # came from it, not from a scan of the log).
    assert produce(b.port, topic, batch(0, 3))[0] == 45, "OUT_OF_ORDER_SEQUENCE_NUMBER"
    assert produce(b.port, topic, batch(5, 1)) == (0, 6)
    assert stored(b, topic) == [b"plain", b"seq0", b"seq1", b"seq2", b"seq3", b"seq4", b"seq5"]


def test_roll_snapshots_and_the_log_after_them_survive_a_crash(fresh_broker):
    # Segments of about one batch: every produce rolls, and each roll leaves
    # <new base offset>.snapshot once the log is durable up to it.
    fresh_broker.extra.append("log.segment.bytes=200")
    b = fresh_broker.start()
    topic = unique_topic("seqroll")
    create(b, topic)
    for i in range(6):
        assert produce(b.port, topic, batch(i * 3, 3)) == (0, 1 + i * 3)
    part = os.path.join(b.data_dir, "data", f"{topic}-0")
    b.kill()
    snapshots = sorted(int(f[:20]) for f in os.listdir(part) if f.endswith(".snapshot"))
    # The newest two are kept; a kill between a write and its pruning leaves three.
    assert 1 <= len(snapshots) <= 3, os.listdir(part)
    assert snapshots[-1] <= 19, "no snapshot past the log end"

    b.start()
    assert produce(b.port, topic, batch(15, 3)) == (0, 16), "retry of the last batch"
    assert produce(b.port, topic, batch(18, 1)) == (0, 19)
    assert stored(b, topic) == [b"plain"] + [f"seq{i}".encode() for i in range(19)]
