"""Restarts: topics, configs and records survive a clean stop, and every
acknowledged record survives a SIGKILL in the middle of a produce stream."""
import threading
import time

from confluent_kafka import Producer
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic

from conftest import unique_topic


def read_partition(broker, topic, partition, expected, timeout_s=30):
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None,
                             auto_offset_reset="earliest", consumer_timeout_ms=3000)
    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    got = {}
    deadline = time.monotonic() + timeout_s
    while len(got) < expected and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=1000).values():
            for r in batch:
                got[r.offset] = r.value
    consumer.close()
    return got


def test_clean_restart_keeps_topics_and_records(fresh_broker):
    b = fresh_broker.start()
    topic = unique_topic("restart")
    a = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    a.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1,
                              topic_configs={"retention.ms": "123456789"})])
    a.close()
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all"})
    for i in range(100):
        p.produce(topic, value=f"r{i}".encode(), partition=i % 2)
    assert p.flush(30) == 0

    assert b.stop() == 0
    b.start()
    a = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    assert topic in a.list_topics()
    a.close()
    got = read_partition(b, topic, 0, 50)
    assert got == {i: f"r{2 * i}".encode() for i in range(50)}


def test_sigkill_loses_no_acknowledged_record(fresh_broker):
    b = fresh_broker.start()
    topic = unique_topic("kill")
    acked = {}
    stop = threading.Event()

    def produce():
        p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 1,
                      "message.timeout.ms": 5000, "retries": 0})

        def on_delivery(err, msg):
            if err is None:
                acked[msg.offset()] = msg.value()

        i = 0
        while not stop.is_set():
            try:
                p.produce(topic, value=f"m{i}".encode(), partition=0, on_delivery=on_delivery)
                i += 1
            except BufferError:
                pass
            p.poll(0.001)
        p.flush(6)

    # Create the topic first so the kill lands in the middle of appends.
    seed = Producer({"bootstrap.servers": b.bootstrap, "acks": "all"})
    seed.produce(topic, value=b"seed", partition=0)
    assert seed.flush(30) == 0
    acked[0] = b"seed"

    t = threading.Thread(target=produce)
    t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 2000 and time.monotonic() < deadline:
        time.sleep(0.05)
    b.kill()
    stop.set()
    t.join()
    assert len(acked) >= 100, "the producer got too few acknowledgements to test anything"

    b.start()
    got = read_partition(b, topic, 0, max(acked) + 1)
    missing = [o for o in acked if got.get(o) != acked[o]]
    assert not missing, f"{len(missing)} acknowledged records lost or changed, first {sorted(missing)[:5]}"
