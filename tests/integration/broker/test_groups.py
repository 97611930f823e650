"""Consumer groups against ringlog-broker with real clients: librdkafka
(confluent-kafka-python and kcat -G), kafka-python's KafkaConsumer (JoinGroup
v2 era) and raw requests for the error paths clients hide."""
import struct
import subprocess
import tempfile
import time

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import Broker, raw_request, unique_topic


@pytest.fixture(scope="module")
def broker(broker_binary):
    # No initial rebalance delay: the tests wait less; the delay has its own unit tests.
    with tempfile.TemporaryDirectory(prefix="ringlog-it-") as d:
        b = Broker(broker_binary, d, extra=["group.initial.rebalance.delay.ms=0"]).start()
        yield b
        rc = b.stop()
        assert rc == 0, f"broker exit status {rc} after SIGTERM: {b.tail()}"


def create_topic(broker, topic, partitions):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[
        topic].result(30)


def produce(broker, topic, n, partitions=1):
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(n):
        p.produce(topic, value=f"v{i}".encode(), partition=i % partitions)
    assert p.flush(30) == 0


def consumer(broker, group, **extra):
    conf = {"bootstrap.servers": broker.bootstrap, "group.id": group,
            "auto.offset.reset": "earliest", "enable.auto.commit": False,
            "session.timeout.ms": 30000, "heartbeat.interval.ms": 500}
    conf.update(extra)
    return Consumer(conf)


def test_subscribe_reads_every_message_and_commits(broker):
    topic = unique_topic("grp")
    create_topic(broker, topic, 3)
    produce(broker, topic, 300, partitions=3)
    group = unique_topic("g")
    c = consumer(broker, group)
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + 60
    while len(got) < 300 and time.monotonic() < deadline:
        m = c.poll(1.0)
        if m is None:
            continue
        assert m.error() is None, m.error()
        got.append(m.value())
    assert sorted(got) == sorted(f"v{i}".encode() for i in range(300))
    c.commit(asynchronous=False)
    committed = c.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
    assert sorted(tp.offset for tp in committed) == [100, 100, 100]
    c.close()

    # A new member of the same group starts from the committed offsets.
    produce(broker, topic, 3, partitions=3)
    c2 = consumer(broker, group)
    c2.subscribe([topic])
    more = []
    deadline = time.monotonic() + 60
    while len(more) < 3 and time.monotonic() < deadline:
        m = c2.poll(1.0)
        if m is not None and m.error() is None:
            more.append(m.value())
    c2.close()
    assert sorted(more) == [b"v0", b"v1", b"v2"]


def assignment_of(c, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        c.poll(0.2)
        a = c.assignment()
        if a:
            return a
    return []


def wait_for(cond, consumers, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for c in consumers:
            c.poll(0.1)
        if cond():
            return True
    return False


def test_two_consumers_split_partitions_and_close_rebalances_at_once(broker):
    topic = unique_topic("split")
    create_topic(broker, topic, 4)
    group = unique_topic("g")
    a = consumer(broker, group)
    b = consumer(broker, group)
    a.subscribe([topic])
    b.subscribe([topic])
    split = lambda: len(a.assignment()) == 2 and len(b.assignment()) == 2
    assert wait_for(split, [a, b], 60), (a.assignment(), b.assignment())
    parts = sorted(tp.partition for tp in a.assignment() + b.assignment())
    assert parts == [0, 1, 2, 3]

    # A graceful close sends LeaveGroup: the other member gets every
    # partition well before the 30 s session timeout.
    start = time.monotonic()
    a.close()
    assert wait_for(lambda: len(b.assignment()) == 4, [b], 20), b.assignment()
    assert time.monotonic() - start < 15
    b.close()


def test_kafka_python_consumer_group(broker):
    from kafka import KafkaConsumer
    topic = unique_topic("kp")
    create_topic(broker, topic, 2)
    produce(broker, topic, 50, partitions=2)
    group = unique_topic("g")
    c = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id=group,
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      consumer_timeout_ms=20000)
    got = []
    for m in c:
        got.append(m.value)
        if len(got) == 50:
            break
    assert sorted(got) == sorted(f"v{i}".encode() for i in range(50))
    c.commit()
    from kafka import TopicPartition as KTP
    assert c.committed(KTP(topic, 0)) + c.committed(KTP(topic, 1)) == 50
    c.close()


def test_kcat_group_mode_consumes(broker):
    topic = unique_topic("kcatg")
    create_topic(broker, topic, 2)
    produce(broker, topic, 20, partitions=2)
    group = unique_topic("g")
    # -e: exit once every assigned partition is read; -u: unbuffered output.
    r = subprocess.run(["kcat", "-b", broker.bootstrap, "-G", group, "-u", "-e", "-f", "%s\n",
                        "-X", "auto.offset.reset=earliest", topic],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    lines = r.stdout.split()
    assert sorted(lines) == sorted(f"v{i}".encode() for i in range(20))


# --- raw requests -----------------------------------------------------------

def s16(v):
    return struct.pack(">h", v)


def s32(v):
    return struct.pack(">i", v)


def s64(v):
    return struct.pack(">q", v)


def string(v):
    b = v.encode()
    return s16(len(b)) + b


def byts(b):
    return s32(len(b)) + b


def frame(api_key, version, body, correlation_id=7):
    payload = s16(api_key) + s16(version) + s32(correlation_id) + string("raw") + body
    return s32(len(payload)) + payload


class reader:
    def __init__(self, data):
        self.data = data
        self.at = 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.data, self.at)[0]
        self.at += struct.calcsize(fmt)
        return v

    def i16(self):
        return self.take(">h")

    def i32(self):
        return self.take(">i")

    def str(self):
        n = self.i16()
        v = self.data[self.at:self.at + max(n, 0)].decode()
        self.at += max(n, 0)
        return v

    def bytes(self):
        n = self.i32()
        v = self.data[self.at:self.at + max(n, 0)]
        self.at += max(n, 0)
        return v


def response(raw):
    r = reader(raw)
    r.i32()  # size
    r.i32()  # correlation id
    return r


def join_v1(port, group, member_id=""):
    body = (string(group) + s32(10000) + s32(10000) + string(member_id) + string("consumer") +
            s32(1) + string("range") + byts(b"\x00\x00\x00\x00\x00\x00"))
    r = response(raw_request(port, frame(11, 1, body), timeout=30))
    return {"error": r.i16(), "generation": r.i32(), "protocol": r.str(), "leader": r.str(),
            "member_id": r.str()}


def sync_v1(port, group, generation, member_id):
    body = (string(group) + s32(generation) + string(member_id) + s32(1) + string(member_id) +
            byts(b""))
    r = response(raw_request(port, frame(14, 1, body), timeout=30))
    r.i32()  # throttle
    return r.i16()


def commit_v2(port, group, generation, member_id, topic, offset):
    body = (string(group) + s32(generation) + string(member_id) + s64(-1) + s32(1) + string(topic) +
            s32(1) + s32(0) + s64(offset) + string(""))
    r = response(raw_request(port, frame(8, 2, body)))
    assert r.i32() == 1 and r.str() == topic and r.i32() == 1 and r.i32() == 0
    return r.i16()


def heartbeat_v1(port, group, generation, member_id):
    r = response(raw_request(port, frame(12, 1, string(group) + s32(generation) + string(member_id))))
    r.i32()
    return r.i16()


ILLEGAL_GENERATION = 22
UNKNOWN_MEMBER_ID = 25
INVALID_GROUP_ID = 24
UNKNOWN_TOPIC_OR_PARTITION = 3


def test_commit_with_a_stale_generation_gets_illegal_generation(broker):
    topic = unique_topic("raw")
    create_topic(broker, topic, 1)
    group = unique_topic("g")
    j = join_v1(broker.port, group)
    assert j["error"] == 0 and j["generation"] == 1 and j["leader"] == j["member_id"]
    assert j["protocol"] == "range"
    assert sync_v1(broker.port, group, 1, j["member_id"]) == 0
    assert commit_v2(broker.port, group, 1, j["member_id"], topic, 5) == 0
    assert commit_v2(broker.port, group, 0, j["member_id"], topic, 6) == ILLEGAL_GENERATION
    assert commit_v2(broker.port, group, 1, "someone-else", topic, 6) == UNKNOWN_MEMBER_ID
    assert commit_v2(broker.port, group, 1, j["member_id"], "no-such-topic-xyz", 6) == \
        UNKNOWN_TOPIC_OR_PARTITION
    assert heartbeat_v1(broker.port, group, 0, j["member_id"]) == ILLEGAL_GENERATION
    assert heartbeat_v1(broker.port, group, 1, j["member_id"]) == 0
    # The leader rejoins: a new generation, and the old one is stale.
    j2 = join_v1(broker.port, group, j["member_id"])
    assert j2["error"] == 0 and j2["generation"] == 2
    assert commit_v2(broker.port, group, 1, j["member_id"], topic, 7) == ILLEGAL_GENERATION
    assert join_v1(broker.port, "")["error"] == INVALID_GROUP_ID


def test_consumer_offsets_is_internal_and_refuses_produce(broker):
    c = consumer(broker, unique_topic("g"))
    c.subscribe([unique_topic("any")])
    c.poll(2.0)
    c.close()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    md = admin.list_topics(timeout=10)
    assert "__consumer_offsets" in md.topics
    p = Producer({"bootstrap.servers": broker.bootstrap, "message.send.max.retries": 0})
    errors = []
    p.produce("__consumer_offsets", value=b"x", partition=0,
              on_delivery=lambda err, msg: errors.append(err))
    p.flush(30)
    assert errors and errors[0] is not None
    assert errors[0].code() == KafkaError.TOPIC_EXCEPTION


def test_describe_list_and_delete_groups(broker):
    topic = unique_topic("adm")
    create_topic(broker, topic, 2)
    group = unique_topic("g")
    c = consumer(broker, group)
    c.subscribe([topic])
    assert assignment_of(c)
    c.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
    from kafka import KafkaAdminClient
    a = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    listed = dict((g, t) for g, t in a.list_consumer_groups())
    assert listed.get(group) == "consumer"
    desc = a.describe_consumer_groups([group])[0]
    assert desc.state == "Stable" and len(desc.members) == 1
    offsets = a.list_consumer_group_offsets(group)
    from kafka import TopicPartition as KTP
    assert offsets[KTP(topic, 0)].offset == 1
    c.close()
    from kafka.errors import GroupIdNotFoundError, NoError
    assert a.delete_consumer_groups([group]) == [(group, NoError)]
    assert a.delete_consumer_groups([group]) == [(group, GroupIdNotFoundError)]
    a.close()


# --- durability: __consumer_offsets ----------------------------------------

@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_committed_offsets_survive_a_broker_restart(fresh_broker, sig):
    import signal
    b = fresh_broker
    b.extra = ["group.initial.rebalance.delay.ms=0"]
    b.start()
    topic = unique_topic("dur")
    create_topic(b, topic, 2)
    produce(b, topic, 20, partitions=2)
    group = unique_topic("g")
    c = consumer(b, group)
    c.subscribe([topic])
    assert assignment_of(c)
    c.commit(offsets=[TopicPartition(topic, 0, 5), TopicPartition(topic, 1, 7)],
             asynchronous=False)
    c.close()
    # A "simple" commit (no group membership) of another group, too.
    other = unique_topic("simple")
    s = consumer(b, other)
    s.commit(offsets=[TopicPartition(topic, 0, 3)], asynchronous=False)
    s.close()

    if sig == "SIGKILL":
        b.kill()
    else:
        assert b.stop() == 0
    b.start()
    c2 = consumer(b, group)
    committed = c2.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=20)
    assert [tp.offset for tp in committed] == [5, 7]
    # The restarted group resumes from them.
    c2.subscribe([topic])
    got = []
    deadline = time.monotonic() + 60
    while len(got) < 8 and time.monotonic() < deadline:
        m = c2.poll(1.0)
        if m is not None and m.error() is None:
            got.append((m.partition(), m.offset()))
    c2.close()
    assert sorted(got) == [(0, o) for o in range(5, 10)] + [(1, o) for o in range(7, 10)]
    s2 = consumer(b, other)
    assert s2.committed([TopicPartition(topic, 0)], timeout=20)[0].offset == 3
    s2.close()


def test_deleted_group_stays_deleted_after_restart(fresh_broker):
    b = fresh_broker
    b.extra = ["group.initial.rebalance.delay.ms=0"]
    b.start()
    topic = unique_topic("del")
    create_topic(b, topic, 1)
    group = unique_topic("g")
    s = consumer(b, group)
    s.commit(offsets=[TopicPartition(topic, 0, 4)], asynchronous=False)
    s.close()
    from kafka import KafkaAdminClient
    from kafka.errors import NoError
    a = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    assert a.delete_consumer_groups([group]) == [(group, NoError)]
    a.close()
    assert b.stop() == 0
    b.start()
    c = consumer(b, group)
    assert c.committed([TopicPartition(topic, 0)], timeout=20)[0].offset < 0
    c.close()


def test_static_member_restart_keeps_its_assignment_without_rebalance(broker):
    topic = unique_topic("static")
    create_topic(broker, topic, 4)
    group = unique_topic("g")
    revokes = []
    a = consumer(broker, group, **{"group.instance.id": "inst-a"})
    b = consumer(broker, group, **{"group.instance.id": "inst-b"})
    a.subscribe([topic])
    b.subscribe([topic], on_revoke=lambda c, parts: revokes.append(list(parts)))
    split = lambda: len(a.assignment()) == 2 and len(b.assignment()) == 2
    assert wait_for(split, [a, b], 60), (a.assignment(), b.assignment())
    before = sorted(tp.partition for tp in a.assignment())
    revokes.clear()
    # A static member's close sends no LeaveGroup; its restart within the
    # session timeout takes its place again.
    a.close()
    a2 = consumer(broker, group, **{"group.instance.id": "inst-a"})
    a2.subscribe([topic])
    assert wait_for(lambda: len(a2.assignment()) == 2, [a2, b], 30)
    assert sorted(tp.partition for tp in a2.assignment()) == before
    wait_for(lambda: False, [a2, b], 3)
    assert revokes == [], f"the other member was revoked: {revokes}"
    assert len(b.assignment()) == 2
    a2.close()
    b.close()


def test_cooperative_sticky_revokes_only_the_partitions_that_move(broker):
    topic = unique_topic("coop")
    create_topic(broker, topic, 4)
    group = unique_topic("g")
    events = {"a_revoked": [], "b_revoked": []}
    extra = {"partition.assignment.strategy": "cooperative-sticky"}
    a = consumer(broker, group, **extra)
    a.subscribe([topic], on_revoke=lambda c, p: events["a_revoked"].extend(p))
    assert wait_for(lambda: len(a.assignment()) == 4, [a], 60), a.assignment()
    b = consumer(broker, group, **extra)
    b.subscribe([topic], on_revoke=lambda c, p: events["b_revoked"].extend(p))
    split = lambda: len(a.assignment()) == 2 and len(b.assignment()) == 2
    assert wait_for(split, [a, b], 60), (a.assignment(), b.assignment())
    # Incremental: a gave up exactly the two partitions b now holds, kept the others.
    moved = sorted(tp.partition for tp in events["a_revoked"])
    assert moved == sorted(tp.partition for tp in b.assignment()), (moved, b.assignment())
    assert events["b_revoked"] == []
    a.close()
    b.close()


def test_group_limits_come_from_the_broker_config(fresh_broker):
    """offset.metadata.max.bytes from the config refuses a longer commit
    metadata with OFFSET_METADATA_TOO_LARGE; a shorter one is kept."""
    from kafka import KafkaConsumer
    from kafka.structs import OffsetAndMetadata
    from kafka.structs import TopicPartition as KTopicPartition

    b = fresh_broker
    b.extra = ["offset.metadata.max.bytes=8", "group.initial.rebalance.delay.ms=0"]
    b.start()
    topic = unique_topic("limits")
    create_topic(b, topic, 1)
    produce(b, topic, 5)
    group = unique_topic("gl")
    c = KafkaConsumer(bootstrap_servers=b.bootstrap, group_id=group, enable_auto_commit=False)
    tp = KTopicPartition(topic, 0)
    c.assign([tp])
    with pytest.raises(Exception) as refused:
        c.commit({tp: OffsetAndMetadata(3, "x" * 50)})
    assert "OffsetMetadataTooLarge" in type(refused.value).__name__ or "12" in str(refused.value)
    c.commit({tp: OffsetAndMetadata(3, "short")})
    assert c.committed(tp) == 3
    c.close()
