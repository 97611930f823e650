"""Log compaction seen by a real client: a compacted topic keeps the latest
value of every key (tombstoned keys disappear once delete.retention.ms has
passed), offsets never change, keyless records are refused, and the result
survives a SIGKILL of the broker in the middle of compacting."""
import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from confluent_kafka import KafkaError, Producer

from conftest import unique_topic

COMPACT = {"cleanup.policy": "compact", "segment.bytes": "4096", "min.cleanable.dirty.ratio": "0.01",
           "delete.retention.ms": "100", "segment.ms": "200"}


def read_all(broker, topic, timeout_s=30):
    """Every record of partition 0 up to its end offset (compaction leaves
    gaps, so the consumer's position, not a count, says when it is done)."""
    tp = TopicPartition(topic, 0)
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None,
                             auto_offset_reset="earliest")
    consumer.assign([tp])
    end = consumer.end_offsets([tp])[tp]
    consumer.seek_to_beginning(tp)
    records = []
    deadline = time.monotonic() + timeout_s
    while consumer.position(tp) < end and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=1000).values():
            records.extend((r.offset, r.key, r.value) for r in batch)
    consumer.close()
    return records


def produce_history(broker, topic, keys=10, rounds=60):
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=0)
    latest = {}
    offsets = {}
    for r in range(rounds):
        for k in range(keys):
            key = f"k{k}".encode()
            value = None if (k == keys - 1 and r == rounds - 1) else f"v{r}-{k}-{'x' * 40}".encode()
            md = producer.send(topic, key=key, value=value).get(timeout=30)
            latest[key] = value
            offsets[key] = md.offset
    # Later records of another key roll the segments holding the history, so
    # the cleaner may take them (the active segment is never cleaned).
    for i in range(60):
        producer.send(topic, key=b"filler", value=f"f{i}-{'y' * 40}".encode()).get(timeout=30)
        time.sleep(0.01)
    producer.close()
    return latest, offsets


def wait_compacted(broker, topic, latest, offsets, timeout_s=60):
    deadline = time.monotonic() + timeout_s
    records = []
    while time.monotonic() < deadline:
        records = read_all(broker, topic)
        history = [(o, k, v) for o, k, v in records if k != b"filler"]
        seen = {k for _, k, _ in history}
        tombstoned = [k for k, v in latest.items() if v is None]
        if (len(history) == len(latest) - len(tombstoned) and
                not any(k in seen for k in tombstoned)):
            return history
        time.sleep(0.5)
    raise AssertionError(f"not compacted within {timeout_s}s: {len(records)} records left")


@pytest.fixture
def compact_broker(fresh_broker):
    fresh_broker.extra = ["log.cleaner.backoff.ms=200"]
    return fresh_broker.start()


def test_compacted_topic_keeps_the_latest_value_of_each_key(compact_broker):
    b = compact_broker
    topic = unique_topic("compact")
    a = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    a.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1, topic_configs=COMPACT)])
    a.close()
    latest, offsets = produce_history(b, topic)
    history = wait_compacted(b, topic, latest, offsets)
    for offset, key, value in history:
        assert value == latest[key], f"{key}: {value} is not the latest value"
        assert offset == offsets[key], f"{key} moved from offset {offsets[key]} to {offset}"

    errors = []
    keyless = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "retries": 0})
    keyless.produce(topic, value=b"no key", on_delivery=lambda err, msg: errors.append(err))
    keyless.flush(30)
    assert len(errors) == 1 and errors[0] is not None, "a keyless record was accepted"
    assert errors[0].code() == KafkaError.INVALID_RECORD, errors[0]


def test_compaction_survives_a_sigkill(compact_broker):
    b = compact_broker
    topic = unique_topic("compactkill")
    a = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    a.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1, topic_configs=COMPACT)])
    a.close()
    latest, offsets = produce_history(b, topic, keys=20, rounds=80)
    time.sleep(0.3)  # likely mid-clean: the cleaner wakes every 200 ms
    b.kill()
    b.start()
    history = wait_compacted(b, topic, latest, offsets)
    assert {k: v for _, k, v in history} == {k: v for k, v in latest.items() if v is not None}
