"""kafka-python 2.0.2 (Debian python3-kafka) against ringlog-broker: admin,
producer and consumer as a user of that client writes them."""
import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import InvalidTopicError, TopicAlreadyExistsError, InvalidReplicationFactorError

from conftest import unique_topic


def admin(broker):
    return KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10000)


def consume_all(broker, topic, partitions, expected, timeout_s=30):
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None,
                             enable_auto_commit=False, auto_offset_reset="earliest",
                             consumer_timeout_ms=2000)
    consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
    consumer.seek_to_beginning()
    got = []
    deadline = time.monotonic() + timeout_s
    while len(got) < expected and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=1000).values():
            got.extend(batch)
    consumer.close()
    return got


def test_create_topic_then_errors_for_duplicate_and_bad_names(broker):
    a = admin(broker)
    topic = unique_topic("admin")
    a.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    assert topic in a.list_topics()
    with pytest.raises(TopicAlreadyExistsError):
        a.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    with pytest.raises(InvalidTopicError):
        a.create_topics([NewTopic("bad name!", num_partitions=1, replication_factor=1)])
    with pytest.raises(InvalidReplicationFactorError):
        a.create_topics([NewTopic(unique_topic("rf"), num_partitions=1, replication_factor=3)])
    a.close()


def test_produce_then_consume_every_record_in_order(broker):
    topic = unique_topic("roundtrip")
    a = admin(broker)
    a.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    a.close()
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5)
    sent = {}
    futures = []
    for i in range(3000):
        key = f"k{i % 37}".encode()
        futures.append((key, f"v{i}".encode(), producer.send(topic, key=key, value=f"v{i}".encode())))
    producer.flush()
    for key, value, f in futures:
        md = f.get(timeout=30)
        sent[(md.partition, md.offset)] = (key, value)
    producer.close()
    assert len(sent) == 3000, "every acknowledged record has its own offset"

    got = consume_all(broker, topic, 3, 3000)
    assert len(got) == 3000
    for r in got:
        assert sent[(r.partition, r.offset)] == (r.key, r.value)
    # Records of one key stay in one partition, in the order they were sent.
    by_key = {}
    for r in sorted(got, key=lambda r: (r.partition, r.offset)):
        by_key.setdefault(r.key, []).append(int(r.value[1:]))
    for values in by_key.values():
        assert values == sorted(values)


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compressed_batches_round_trip(broker, codec):
    topic = unique_topic(codec)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all",
                             compression_type=codec, linger_ms=20, batch_size=64 * 1024)
    # Topic auto-created by the producer's metadata request.
    futures = [producer.send(topic, value=(f"{codec}-{i}-" + "x" * 200).encode()) for i in range(500)]
    producer.flush()
    offsets = sorted(f.get(timeout=30).offset for f in futures)
    producer.close()
    assert offsets == list(range(500))
    got = consume_all(broker, topic, 1, 500)
    assert [r.value for r in got] == [(f"{codec}-{i}-" + "x" * 200).encode() for i in range(500)]


def test_offsets_by_time_and_ends(broker):
    topic = unique_topic("offsets")
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    base = int(time.time() * 1000) - 100_000
    for i in range(10):
        producer.send(topic, value=b"x", timestamp_ms=base + i * 1000).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None)
    tp = TopicPartition(topic, 0)
    assert consumer.beginning_offsets([tp])[tp] == 0
    assert consumer.end_offsets([tp])[tp] == 10
    found = consumer.offsets_for_times({tp: base + 4500})[tp]
    assert found.offset == 5 and found.timestamp == base + 5000
    assert consumer.offsets_for_times({tp: base + 10 * 1000})[tp] is None
    consumer.close()


def test_waiting_consumer_is_woken_by_a_produce(broker):
    topic = unique_topic("longpoll")
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    producer.send(topic, value=b"first").get(timeout=30)
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None,
                             auto_offset_reset="earliest", fetch_max_wait_ms=20000,
                             request_timeout_ms=40000, consumer_timeout_ms=30000)
    consumer.assign([TopicPartition(topic, 0)])
    assert next(consumer).value == b"first"
    # The consumer now parks a fetch for up to 20 s; an append must answer it.
    sent_at = time.monotonic()
    producer.send(topic, value=b"second").get(timeout=30)
    assert next(consumer).value == b"second"
    assert time.monotonic() - sent_at < 15, "the parked fetch waited out max_wait instead of waking"
    consumer.close()
    producer.close()


def test_log_append_time_topic_stamps_the_brokers_clock(broker):
    topic = unique_topic("logappend")
    a = admin(broker)
    a.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1,
                              topic_configs={"message.timestamp.type": "LogAppendTime"})])
    a.close()
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    before = int(time.time() * 1000)
    md = producer.send(topic, value=b"x", timestamp_ms=1_000_000).get(timeout=30)
    after = int(time.time() * 1000)
    producer.close()
    assert before - 1000 <= md.timestamp <= after + 1000, "the response carries the append time"
    got = consume_all(broker, topic, 1, 1)
    assert got[0].timestamp_type == 1
    assert got[0].timestamp == md.timestamp


def test_timestamp_too_old_for_the_topic_is_rejected(broker):
    from kafka.errors import InvalidTimestampError
    topic = unique_topic("oldts")
    a = admin(broker)
    a.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1,
                              topic_configs={"message.timestamp.before.max.ms": "60000"})])
    a.close()
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", retries=0)
    with pytest.raises(InvalidTimestampError):
        producer.send(topic, value=b"old", timestamp_ms=int(time.time() * 1000) - 3_600_000).get(timeout=30)
    assert producer.send(topic, value=b"now").get(timeout=30).offset == 0
    producer.close()
