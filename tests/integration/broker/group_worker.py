"""One consumer of a group, run as its own process by test_group_failover.py:
subscribes, records every (partition, offset) it consumes in OUT (one line
each, flushed), commits synchronously every 20 messages, and runs until STOP
exists.   group_worker.py BOOTSTRAP GROUP TOPIC OUT STOP"""
import os
import sys

from confluent_kafka import Consumer

bootstrap, group, topic, out_path, stop_path = sys.argv[1:6]
c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
              "enable.auto.commit": False, "session.timeout.ms": 6000,
              "heartbeat.interval.ms": 500})
c.subscribe([topic])
out = open(out_path, "w", buffering=1)
since_commit = 0
while not os.path.exists(stop_path):
    m = c.poll(0.2)
    if m is None or m.error():
        continue
    out.write(f"{m.partition()} {m.offset()}\n")
    since_commit += 1
    if since_commit >= 20:
        c.commit(asynchronous=False)
        since_commit = 0
if since_commit:
    c.commit(asynchronous=False)
c.close()
