"""Idempotent produce at the byte level: a retried batch (same producer id,
epoch and sequence) is answered with its original offset and stored once,
also after the broker was SIGKILLed; gaps and fenced epochs get Kafka's
errors."""
import struct

from kafka import KafkaConsumer, TopicPartition
from kafka.record.default_records import DefaultRecordBatchBuilder

from conftest import raw_request, unique_topic

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
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None,
                             auto_offset_reset="earliest", consumer_timeout_ms=3000)
    consumer.assign([TopicPartition(topic, 0)])
    values = [r.value for r in consumer]
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
