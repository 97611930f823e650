"""ringlog-admin against ringlog-broker with a real consumer group
(confluent-kafka-python): describe shows committed offsets, log end and lag
per partition with the member; reset-offsets, list and delete; exit statuses.

The binary comes from --admin, RINGLOG_ADMIN, or next to the broker in the
build tree (broker/ringlog-broker -> tools/admin/ringlog-admin)."""
import json
import os
import subprocess
import tempfile
import time

import pytest
from confluent_kafka import Consumer, Producer

from conftest import Broker, unique_topic


@pytest.fixture(scope="module")
def broker(broker_binary):
    with tempfile.TemporaryDirectory(prefix="ringlog-it-") as d:
        b = Broker(broker_binary, d, extra=["group.initial.rebalance.delay.ms=0"]).start()
        yield b
        rc = b.stop()
        assert rc == 0, f"broker exit status {rc} after SIGTERM: {b.tail()}"


@pytest.fixture(scope="module")
def admin_binary(request, broker_binary):
    path = request.config.getoption("--admin")
    if not path:
        build = os.path.dirname(os.path.dirname(os.path.abspath(broker_binary)))
        path = os.path.join(build, "tools", "admin", "ringlog-admin")
    if not os.access(path, os.X_OK):
        pytest.fail(f"ringlog-admin not found at {path} (give --admin PATH)")
    return path


def run_admin(admin_binary, broker, *args, expect=0):
    p = subprocess.run([admin_binary, "--bootstrap", broker.bootstrap, *args],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == expect, (
        f"ringlog-admin {' '.join(args)}: expected exit {expect}, got {p.returncode}\n"
        f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def describe(admin_binary, broker, group):
    return json.loads(run_admin(admin_binary, broker, "--json", "groups", "describe", group).stdout)


def test_describe_shows_lag_and_member_then_reset_list_delete(broker, admin_binary):
    topic = unique_topic("adm")
    # The broker fixture auto-creates topics with one partition.
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(100):
        p.produce(topic, value=f"v{i}".encode(), partition=0)
    assert p.flush(30) == 0

    group = unique_topic("g")
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                  "client.id": "lag-test-client", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "session.timeout.ms": 30000,
                  "heartbeat.interval.ms": 500})
    c.subscribe([topic])
    consumed = 0
    deadline = time.monotonic() + 60
    while consumed < 60 and time.monotonic() < deadline:
        m = c.poll(1.0)
        if m is None:
            continue
        assert m.error() is None, m.error()
        consumed += 1
    assert consumed == 60
    c.commit(asynchronous=False)

    d = describe(admin_binary, broker, group)
    assert d["state"] == "Stable", d
    assert d["protocol_type"] == "consumer", d
    assert len(d["members"]) == 1, d
    member = d["members"][0]
    assert member["client_id"] == "lag-test-client", member
    assert member["assignment"] == [{"topic": topic, "partitions": [0]}], member
    rows = [r for r in d["partitions"] if r["topic"] == topic]
    assert len(rows) == 1, d
    assert rows[0]["current_offset"] == 60, rows
    assert rows[0]["log_end_offset"] == 100, rows
    assert rows[0]["lag"] == 40, rows
    assert rows[0]["consumer_id"] == member["member_id"], rows
    assert d["total_lag"] == 40, d

    # The text form has the same facts.
    text = run_admin(admin_binary, broker, "groups", "describe", group).stdout
    assert "TOPIC" in text and "LAG" in text and "CONSUMER-ID" in text, text
    assert "STATE Stable" in text, text
    line = next(l for l in text.splitlines() if l.startswith(topic))
    assert line.split()[:5] == [topic, "0", "60", "100", "40"], line
    assert member["member_id"] in line and "lag-test-client" in line, line
    assert "TOTAL-LAG 40" in text, text

    # A reset while the consumer is a member is refused by the broker: exit 1.
    refused = run_admin(admin_binary, broker, "groups", "reset-offsets", group, "--topic", topic,
                        "--to-earliest", "--execute", expect=1)
    assert "OffsetCommit" in refused.stderr and "no active members" in refused.stderr, refused.stderr

    c.close()

    dry = json.loads(run_admin(admin_binary, broker, "--json", "groups", "reset-offsets", group,
                               "--topic", topic, "--to-offset", "25", "--dry-run").stdout)
    assert dry["executed"] is False
    assert dry["partitions"] == [{"topic": topic, "partition": 0, "new_offset": 25}], dry
    assert describe(admin_binary, broker, group)["partitions"][0]["current_offset"] == 60

    plan = run_admin(admin_binary, broker, "groups", "reset-offsets", group, "--topic", topic,
                     "--to-earliest", "--execute").stdout
    assert "NEW-OFFSET" in plan, plan
    d = describe(admin_binary, broker, group)
    assert d["state"] == "Empty", d
    assert d["members"] == [], d
    assert d["partitions"][0]["current_offset"] == 0, d
    assert d["partitions"][0]["lag"] == 100, d

    run_admin(admin_binary, broker, "groups", "reset-offsets", group, "--topic", topic,
              "--to-latest", "--execute")
    assert describe(admin_binary, broker, group)["partitions"][0]["current_offset"] == 100

    listed = json.loads(run_admin(admin_binary, broker, "--json", "groups", "list").stdout)
    ours = [g for g in listed["groups"] if g["group_id"] == group]
    assert len(ours) == 1, listed
    assert ours[0]["protocol_type"] == "consumer", ours
    assert group in run_admin(admin_binary, broker, "groups", "list").stdout

    deleted = json.loads(run_admin(admin_binary, broker, "--json", "groups", "delete",
                                   group).stdout)
    assert deleted["results"] == [{"group": group, "deleted": True, "error_code": 0,
                                   "error": None}], deleted
    listed = json.loads(run_admin(admin_binary, broker, "--json", "groups", "list").stdout)
    assert group not in [g["group_id"] for g in listed["groups"]], listed


def test_delete_of_a_group_with_members_reports_non_empty_group(broker, admin_binary):
    topic = unique_topic("adm")
    p = Producer({"bootstrap.servers": broker.bootstrap})
    p.produce(topic, value=b"x")  # creates the topic
    assert p.flush(30) == 0
    group = unique_topic("g")
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest", "session.timeout.ms": 30000,
                  "heartbeat.interval.ms": 500})
    c.subscribe([topic])
    deadline = time.monotonic() + 60
    while not c.assignment() and time.monotonic() < deadline:
        c.poll(0.2)
    assert c.assignment(), "consumer got no assignment"
    p = run_admin(admin_binary, broker, "groups", "delete", group, expect=1)
    assert "NON_EMPTY_GROUP" in p.stdout + p.stderr, p
    c.close()


def test_bad_arguments_exit_2_with_a_message(broker, admin_binary):
    for args in (["groups"], ["groups", "describe"], ["groups", "frobnicate"],
                 ["groups", "reset-offsets", "g", "--topic", "t", "--to-earliest"],
                 ["groups", "reset-offsets", "g", "--topic", "t", "--to-datetime", "yesterday",
                  "--dry-run"],
                 ["groups", "list", "--nope"]):
        p = run_admin(admin_binary, broker, *args, expect=2)
        assert p.stderr.startswith("ringlog-admin: "), p.stderr
        assert "--help" in p.stderr, p.stderr
    p = subprocess.run([admin_binary, "groups", "list"], capture_output=True, text=True)
    assert p.returncode == 2 and "--bootstrap" in p.stderr, p


def test_unreachable_broker_exits_1(admin_binary):
    p = subprocess.run([admin_binary, "--bootstrap", "127.0.0.1:1", "groups", "list"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, p
    assert p.stderr.startswith("ringlog-admin: "), p.stderr


def test_describe_of_an_unknown_group_exits_1(broker, admin_binary):
    p = run_admin(admin_binary, broker, "groups", "describe", unique_topic("nogroup"), expect=1)
    assert "does not exist" in p.stderr, p.stderr
