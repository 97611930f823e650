"""Three confluent-kafka consumers, each its own process, share a
12-partition topic while a producer writes. One is SIGKILLed; after its
session timeout the other two take over its partitions. Every produced
message is consumed at least once, and the group's committed offsets never
go backwards."""
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import Broker, unique_topic

PARTITIONS = 12
WORKER = os.path.join(os.path.dirname(__file__), "group_worker.py")


@pytest.fixture
def broker(broker_binary):
    with tempfile.TemporaryDirectory(prefix="ringlog-it-") as d:
        b = Broker(broker_binary, d, extra=["group.initial.rebalance.delay.ms=0"]).start()
        yield b
        assert b.stop() == 0, b.tail()


def consumed(paths):
    seen = set()
    for p in paths:
        try:
            with open(p) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2:
                        seen.add((int(parts[0]), int(parts[1])))
        except OSError:
            pass
    return seen


def test_killed_consumer_partitions_move_and_nothing_is_missed(broker):
    topic = unique_topic("failover")
    group = unique_topic("fg")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])[
        topic].result(30)

    work = tempfile.mkdtemp(prefix="ringlog-failover-")
    stop = os.path.join(work, "stop")
    outs = [os.path.join(work, f"worker{i}.txt") for i in range(3)]
    workers = [subprocess.Popen([sys.executable, WORKER, broker.bootstrap, group, topic, out, stop])
               for out in outs]

    # Committed offsets, sampled while everything runs, must never go back.
    monitor = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    highest = {}
    backwards = []
    sampling = threading.Event()

    def sample():
        while not sampling.is_set():
            try:
                for tp in monitor.committed(partitions, timeout=5):
                    if tp.offset < 0:
                        continue
                    if tp.offset < highest.get(tp.partition, -1):
                        backwards.append((tp.partition, highest[tp.partition], tp.offset))
                    highest[tp.partition] = max(highest.get(tp.partition, -1), tp.offset)
            except Exception:  # noqa: BLE001 - a slow sample is not a failure
                pass
            time.sleep(0.3)

    sampler = threading.Thread(target=sample)
    sampler.start()

    delivered = set()
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})

    def on_delivery(err, msg):
        if err is None:
            delivered.add((msg.partition(), msg.offset()))

    try:
        def produce(first, count):
            for i in range(first, first + count):
                producer.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode(),
                                 partition=i % PARTITIONS, on_delivery=on_delivery)
                producer.poll(0)
                if i % 100 == 0:
                    time.sleep(0.05)

        # Produce until each of the three has consumed something: they have
        # joined and share the partitions.
        produced = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(consumed([o]) for o in outs):
            produce(produced, 100)
            produced += 100
            producer.flush(30)
            time.sleep(0.5)
        assert all(consumed([o]) for o in outs), "the three consumers never all got partitions"
        workers[0].send_signal(signal.SIGKILL)
        produce(produced, 2000)
        produced += 2000
        assert producer.flush(30) == 0
        assert len(delivered) == produced

        # The survivors take over after the killed member's 6 s session timeout.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not delivered <= consumed(outs):
            time.sleep(0.5)
        missing = delivered - consumed(outs)
        assert not missing, f"{len(missing)} messages never consumed, e.g. {sorted(missing)[:5]}"
        after_kill = consumed(outs[1:])
        moved = {p for p, _ in consumed(outs[:1])} & {p for p, _ in after_kill}
        assert moved, "no partition of the killed consumer was taken over"
    finally:
        open(stop, "w").close()
        for w in workers[1:]:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()
        workers[0].wait()
        sampling.set()
        sampler.join()
        monitor.close()
    assert not backwards, f"committed offsets went backwards: {backwards[:5]}"
