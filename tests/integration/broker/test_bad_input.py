"""Bad input on the wire: each malformed or unsupported request closes only
its own connection (or is answered with Kafka's error), and the broker keeps
serving everyone else."""
import struct

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.record.default_records import DefaultRecordBatchBuilder

from conftest import raw_request, unique_topic


def header_v1(api_key, version, correlation_id, client_id=b"raw-test"):
    return struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id


def frame(payload):
    return struct.pack(">i", len(payload)) + payload


def api_versions_v0(correlation_id=7):
    return frame(header_v1(18, 0, correlation_id))


def assert_still_serving(broker):
    reply = raw_request(broker.port, api_versions_v0(), timeout=2)
    size, correlation_id, error = struct.unpack(">iih", reply[:10])
    assert size == len(reply) - 4 and correlation_id == 7 and error == 0


def test_garbage_header_closes_only_that_connection(broker):
    assert raw_request(broker.port, frame(b"\x01"), timeout=5) == b""
    assert_still_serving(broker)


def test_frame_larger_than_socket_request_max_bytes_is_refused(broker):
    assert raw_request(broker.port, struct.pack(">i", 200 * 1024 * 1024) + b"\0" * 16) == b""
    assert raw_request(broker.port, struct.pack(">i", -5)) == b""
    assert_still_serving(broker)


def test_unknown_api_closes_the_connection(broker):
    assert raw_request(broker.port, frame(header_v1(999, 0, 1))) == b""
    assert_still_serving(broker)


def test_api_versions_newer_than_ours_gets_v0_error_35(broker):
    # A flexible version: header v2 (an empty tagged-field section after the
    # client id) and a compact body (client software name and version).
    body = b"\x05ring\x021\x00"
    reply = raw_request(broker.port, frame(header_v1(18, 99, 42) + b"\x00" + body), timeout=2)
    size, correlation_id, error, count = struct.unpack(">iihi", reply[:14])
    assert correlation_id == 42 and error == 35 and count > 5
    keys = {struct.unpack(">h", reply[14 + 6 * i:16 + 6 * i])[0] for i in range(count)}
    assert {0, 1, 2, 3, 18, 19, 20} <= keys


def test_truncated_produce_body_closes_the_connection(broker):
    body = struct.pack(">hhi", -1, -1, 5000)  # transactional id null, acks -1, timeout
    body += struct.pack(">i", 1) + struct.pack(">h", 3) + b"abc" + struct.pack(">i", 5)  # claims 5 partitions
    assert raw_request(broker.port, frame(header_v1(0, 3, 1) + body)) == b""
    assert_still_serving(broker)


def test_corrupt_batch_is_rejected_with_corrupt_message_and_not_stored(broker):
    topic = unique_topic("corrupt")
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    producer.send(topic, value=b"good").get(timeout=30)
    producer.close()

    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                        producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                        batch_size=1 << 20)
    builder.append(0, timestamp=None, key=None, value=b"will be corrupted", headers=[])
    batch = bytearray(builder.build())
    batch[-3] ^= 0xFF  # inside the record: the CRC no longer matches
    name = topic.encode()
    body = struct.pack(">hhi", -1, -1, 5000)
    body += struct.pack(">i", 1) + struct.pack(">h", len(name)) + name
    body += struct.pack(">i", 1) + struct.pack(">i", 0) + struct.pack(">i", len(batch)) + bytes(batch)
    reply = raw_request(broker.port, frame(header_v1(0, 3, 5) + body), timeout=3)
    # size, correlation id, [topic: name, [partition, error, base offset, log append time]]
    pos = 4 + 4 + 4
    (name_len,) = struct.unpack(">h", reply[pos:pos + 2])
    pos += 2 + name_len + 4
    partition, error = struct.unpack(">ih", reply[pos:pos + 6])
    assert (partition, error) == (0, 2), "CORRUPT_MESSAGE for a batch whose CRC does not match"

    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None)
    tp = TopicPartition(topic, 0)
    assert consumer.end_offsets([tp])[tp] == 1, "the corrupt batch was not stored"
    consumer.close()
