"""librdkafka 2.0.2 against ringlog-broker: kcat (the tool users reach for
first) and confluent-kafka-python 1.7.0."""
import json
import subprocess

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, NewTopic

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
