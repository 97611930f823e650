"""librdkafka 2.0.2 against ringlog-broker: kcat (the tool users reach for
first; more in test_kcat.py) and confluent-kafka-python 1.7.0."""
import json
import subprocess
import time

import pytest
from confluent_kafka import (Consumer, KafkaError, KafkaException, Producer, TopicPartition,
                             OFFSET_BEGINNING, OFFSET_END)
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic

from conftest import unique_topic


def kcat(broker, *args, input=None, timeout=60):
    r = subprocess.run(["kcat", "-b", broker.bootstrap, *args], input=input, capture_output=True,
                       timeout=timeout)
    assert r.returncode == 0, f"kcat {' '.join(args)} failed: {r.stderr.decode()}"
    return r.stdout.decode()


def test_kcat_lists_the_broker_and_topics(broker):
    topic = unique_topic("kcatmeta")
    kcat(broker, "-P", "-t", topic, input=b"hello\n")
    meta = json.loads(kcat(broker, "-L", "-J"))
    assert len(meta["brokers"]) == 1
    node = meta["brokers"][0]["id"]
    assert meta["brokers"][0]["name"] == broker.bootstrap
    topics = {t["topic"]: t for t in meta["topics"]}
    assert topic in topics
    assert [p["leader"] for p in topics[topic]["partitions"]] == [node]


def test_kcat_produce_then_consume_with_keys(broker):
    topic = unique_topic("kcat")
    lines = "".join(f"key{i}:value{i}\n" for i in range(1000)).encode()
    kcat(broker, "-P", "-t", topic, "-K:", "-X", "acks=all", "-z", "lz4", input=lines)
    out = kcat(broker, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%k=%s@%o\n")
    assert out.splitlines() == [f"key{i}=value{i}@{i}" for i in range(1000)]


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_confluent_producer_and_consumer(broker, codec):
    topic = unique_topic(f"ck-{codec}")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
    futures[topic].result(timeout=30)

    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all",
                         "compression.type": codec, "linger.ms": 5})
    delivered = {}
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
        else:
            delivered[(msg.partition(), msg.offset())] = (msg.key(), msg.value())

    for i in range(2000):
        producer.produce(topic, key=f"k{i % 11}".encode(), value=f"value-{i}".encode(),
                         on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(30) == 0
    assert errors == []
    assert len(delivered) == 2000

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(4)])
    got = {}
    eof = set()
    while len(eof) < 4:
        msg = consumer.poll(10)
        assert msg is not None, f"consumer stalled with {len(got)} of 2000 records"
        if msg.error():
            assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
            eof.add(msg.partition())
            continue
        got[(msg.partition(), msg.offset())] = (msg.key(), msg.value())
    consumer.close()
    assert got == delivered


def test_confluent_produce_to_unknown_partition_fails_cleanly(broker):
    topic = unique_topic("ck-bad")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "message.timeout.ms": 5000})
    errors = []
    producer.produce(topic, value=b"x", partition=7, on_delivery=lambda e, m: errors.append(e))
    producer.flush(10)
    assert len(errors) == 1 and errors[0] is not None
    assert errors[0].code() == KafkaError._UNKNOWN_PARTITION


def create_topic(broker, topic, partitions, config=None):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    new = NewTopic(topic, num_partitions=partitions, replication_factor=1, config=config or {})
    admin.create_topics([new])[topic].result(timeout=30)


def read_back(broker, topic, partitions, expected, timeout_s=60):
    """Every record of the topic's partitions, from a manually assigned
    consumer (no group), as {partition: [(offset, key, value), ...]} in the
    order the consumer delivered them."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    got = {p: [] for p in range(partitions)}
    count = 0
    eof = set()
    deadline = time.monotonic() + timeout_s
    while len(eof) < partitions or count < expected:
        assert time.monotonic() < deadline, f"consumer stalled with {count} of {expected} records"
        for msg in consumer.consume(num_messages=10000, timeout=1):
            if msg.error():
                assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
                eof.add(msg.partition())
                continue
            eof.discard(msg.partition())
            got[msg.partition()].append((msg.offset(), msg.key(), msg.value()))
            count += 1
    consumer.close()
    return got


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_idempotent_producer_100k_messages_read_back_without_gap_or_duplicate(broker, codec):
    n, partitions = 100_000, 3
    topic = unique_topic(f"ck-idem-{codec}")
    create_topic(broker, topic, partitions)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True,
                         "acks": "all", "compression.type": codec, "linger.ms": 5})
    reported = {}
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
        else:
            reported[int(msg.value()[1:])] = (msg.partition(), msg.offset())

    for i in range(n):
        while True:
            try:
                producer.produce(topic, key=b"k%d" % (i % 101), value=b"m%d" % i, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0, "messages left undelivered after 60 s"
    assert errors == [], f"{len(errors)} delivery errors, first {errors[:3]}"
    assert len(reported) == n, f"{len(reported)} delivery reports for {n} messages"

    got = read_back(broker, topic, partitions, n)
    for p, records in got.items():
        offsets = [o for o, _, _ in records]
        assert offsets == list(range(len(offsets))), (
            f"partition {p}: offsets not 0..{len(offsets) - 1} in order; first bad index "
            f"{next(i for i, o in enumerate(offsets) if o != i)}")
        # The idempotent producer keeps send order within a partition.
        indexes = [int(v[1:]) for _, _, v in records]
        assert indexes == sorted(indexes), f"partition {p}: records out of send order"
        for o, k, v in records:
            i = int(v[1:])
            assert reported[i] == (p, o), f"m{i} read at {(p, o)}, delivery report said {reported[i]}"
            assert k == b"k%d" % (i % 101), f"m{i} has key {k!r}"
    total = sum(len(r) for r in got.values())
    assert total == n, f"read {total} records, produced {n}"


def test_offsets_for_times_finds_the_first_record_at_or_after(broker):
    topic = unique_topic("ck-times")
    create_topic(broker, topic, 2)
    base = int(time.time() * 1000) - 3_600_000
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
    for p in range(2):
        for i in range(100):
            # Partition 1 runs 50 s behind partition 0.
            producer.produce(topic, value=b"%d" % i, partition=p, timestamp=base + i * 1000 - p * 50_000)
    assert producer.flush(30) == 0
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused"})
    query = [TopicPartition(topic, 0, base + 41_500), TopicPartition(topic, 1, base + 41_500)]
    found = {tp.partition: tp.offset for tp in consumer.offsets_for_times(query, timeout=10)}
    assert found == {0: 42, 1: 92}, "offset of the first record with timestamp >= the query"
    exact = consumer.offsets_for_times([TopicPartition(topic, 0, base + 7000)], timeout=10)
    assert exact[0].offset == 7, "a record stamped exactly at the query time is the answer"
    before = consumer.offsets_for_times([TopicPartition(topic, 0, base - 10**6)], timeout=10)
    assert before[0].offset == 0
    late = consumer.offsets_for_times([TopicPartition(topic, 0, base + 10**6)], timeout=10)
    assert late[0].offset == OFFSET_END, f"a time after every record gives {late[0].offset}, not OFFSET_END (-1)"
    assert consumer.get_watermark_offsets(TopicPartition(topic, 1), timeout=10) == (0, 100)
    consumer.close()


def test_admin_client_creates_describes_and_deletes_topics(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    topic = unique_topic("ck-admin")
    futures = admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1,
                                            config={"retention.ms": "3600000", "cleanup.policy": "compact"})])
    assert futures[topic].result(timeout=30) is None
    meta = admin.list_topics(timeout=10)
    assert topic in meta.topics
    assert sorted(meta.topics[topic].partitions) == [0, 1, 2, 3]

    with pytest.raises(KafkaException) as e:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    assert e.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS, e.value

    resource = ConfigResource("topic", topic)
    configs = admin.describe_configs([resource])[resource].result(timeout=30)
    assert configs["retention.ms"].value == "3600000"
    assert configs["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert configs["cleanup.policy"].value == "compact"
    assert configs["segment.bytes"].source == ConfigSource.DEFAULT_CONFIG.value
    assert configs["segment.bytes"].is_default

    assert admin.delete_topics([topic])[topic].result(timeout=30) is None
    assert topic not in admin.list_topics(timeout=10).topics
    with pytest.raises(KafkaException) as e:
        admin.delete_topics([topic])[topic].result(timeout=30)
    assert e.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART, e.value
