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
    """An acks=all stream over 3 partitions, the broker SIGKILLed under it:
    after the restart every message whose delivery report said "stored at
    (partition, offset)" is at exactly that partition and offset."""
    b = fresh_broker.start()
    topic = unique_topic("kill")
    partitions = 3
    acked = {}        # (partition, offset) -> value, from the delivery reports
    clashes = []      # two reports naming the same (partition, offset)
    failed = [0]      # messages whose delivery failed (in flight at the kill)
    stop = threading.Event()

    def on_delivery(err, msg):
        if err is not None:
            failed[0] += 1
            return
        where = (msg.partition(), msg.offset())
        if where in acked:
            clashes.append((where, acked[where], msg.value()))
        acked[where] = msg.value()

    def produce():
        p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 1,
                      "message.timeout.ms": 5000, "retries": 0})
        i = 0
        while not stop.is_set():
            try:
                # Keys spread the stream over the partitions through
                # librdkafka's partitioner; the report says where each went.
                p.produce(topic, key=f"k{i % 17}".encode(), value=f"m{i}".encode(),
                          on_delivery=on_delivery)
                i += 1
            except BufferError:
                pass
            p.poll(0.001)
        p.flush(6)

    # Create the topic first so the kill lands in the middle of appends.
    a = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    a.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    a.close()
    seed = Producer({"bootstrap.servers": b.bootstrap, "acks": "all"})
    for p in range(partitions):
        seed.produce(topic, value=f"seed{p}".encode(), partition=p, on_delivery=on_delivery)
    assert seed.flush(30) == 0

    t = threading.Thread(target=produce)
    t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 3000 and time.monotonic() < deadline:
        time.sleep(0.05)
    b.kill()
    stop.set()
    t.join()
    assert not clashes, f"two delivery reports for one offset: {clashes[:3]}"
    per_partition = {p: sorted(o for q, o in acked if q == p) for p in range(partitions)}
    assert all(len(offsets) >= 50 for offsets in per_partition.values()), (
        f"too few acknowledgements to test anything: "
        f"{ {p: len(o) for p, o in per_partition.items()} }")

    b.start()
    lost = []
    moved = []
    for p, offsets in per_partition.items():
        got = read_partition(b, topic, p, offsets[-1] + 1)
        for o in offsets:
            if o not in got:
                lost.append((p, o, acked[(p, o)]))
            elif got[o] != acked[(p, o)]:
                moved.append((p, o, acked[(p, o)], got[o]))
    assert not lost, (f"{len(lost)} acknowledged records missing after the restart "
                      f"(partition, offset, value), first {lost[:5]}")
    assert not moved, (f"{len(moved)} acknowledged records not at their reported offset "
                       f"(partition, offset, reported value, value found), first {moved[:5]}")


def test_relaxed_flush_keeps_acknowledged_records_across_a_sigkill(fresh_broker):
    """flush.ms as in Kafka: topics with flush.ms=200 and flush.ms=
    Long.MAX_VALUE (never fsync) acknowledge from the page cache. Megabytes
    produced to each (the first also starts writeback as it goes), then
    SIGKILL at once: the page cache outlives the process, so after the
    restart recovery must keep every acknowledged record it finds past the
    recovery point, byte for byte, in both topics. (Power loss would lose up
    to flush.ms of them; that is what relaxing durability means.)"""
    b = fresh_broker.start()
    relaxed = unique_topic("relaxed")
    never = unique_topic("never")
    a = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    a.create_topics([
        NewTopic(relaxed, num_partitions=1, replication_factor=1,
                 topic_configs={"flush.ms": "200"}),
        NewTopic(never, num_partitions=1, replication_factor=1,
                 topic_configs={"flush.ms": "9223372036854775807"}),
    ])
    a.close()
    value = bytes(range(256)) * 16  # 4 KiB
    n = 1500                        # ~6 MiB per topic
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(n):
        p.produce(relaxed, value=i.to_bytes(4, "big") + value)
        p.produce(never, value=i.to_bytes(4, "big") + value)
        if i % 100 == 0:
            p.poll(0)
    assert p.flush(30) == 0

    b.kill()
    b.start()
    for topic in (relaxed, never):
        got = read_partition(b, topic, 0, n)
        assert len(got) == n, f"{topic}: {n - len(got)} acknowledged records lost"
        assert all(v == o.to_bytes(4, "big") + value for o, v in got.items()), topic
