#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets: tests/fuzz/corpus/<target>/.

    python3 tests/fuzz/make_corpus.py   (needs python3-kafka and its codecs)

The files are committed; rerun this only to change them. Output is
deterministic (gzip without a timestamp), so a rerun with no change to this
script leaves git clean.

record_batch_fuzz: batches built by kafka-python's DefaultRecordBatchBuilder
(an implementation independent of ours), compressed here with the framings
Kafka clients write, each prefixed with the mode byte the target reads (see
record_batch_fuzz.cc): 0 a stream of batches, 1 one batch, 2 one batch with a
forced codec, 3 a bare compressed stream.

index_fuzz: .index (int32 relative offset, int32 position) and .timeindex
(int64 timestamp, int32 relative offset) files in Kafka's big-endian layout,
whole, preallocated with zero tails as after a crash, and cut mid-entry.

request_fuzz: request frames after their size field (header, then body).
Non-flexible versions are encoded by kafka-python's own protocol classes (an
implementation independent of ours); flexible versions, which kafka-python
2.0.2 does not speak, are encoded here by hand with tagged fields. The unit
test protocol_test also decodes every seed (CorpusFrames).

metadata_record_fuzz: __cluster_metadata record values in KRaft's framing
(docs/formats/metadata_log.md, kafka-protocol/metadata-records/*.json), by
hand: mode 0 one record of each type and version we read, modes 1 and 2 a
replayable sequence (uvarint length + value each) as a controller writes it.

group_record_fuzz: __consumer_offsets keys and values in Kafka's layouts
(docs/formats/consumer_offsets.md), every version we read, restored groups
with request scripts (mode 3), and a partition's records in order (mode 4:
int16 key length, key, int32 value length or -1, value).

producer_snapshot_fuzz: <offset>.snapshot files (docs/formats/
producer_snapshot.md) with their CRC-32C, and file names (mode 2).

checkpoint_fuzz: offset and leader-epoch checkpoints (docs/formats/
checkpoint.md); the mode byte picks the kind and whether a file is read.

config_fuzz: server.properties texts, override lists, listeners and values.

    python3 tests/fuzz/make_corpus.py TARGET...   writes only those targets
"""

import gzip
import os
import struct
import sys

import snappy
from kafka.codec import lz4_encode, snappy_encode, zstd_encode
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from kafka.record.util import calc_crc32c

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_BYTES = 4096  # keep every seed small: libFuzzer mutates them millions of times

NONE, GZIP, SNAPPY, LZ4, ZSTD = range(5)
CODEC_NAMES = ["none", "gzip", "snappy", "lz4", "zstd"]
HEADER_BYTES = 61
ATTRIBUTES_POS = 21
CRC_POS = 17
CONTROL_BIT = 0x20
TS = 1700000000000


def compress(codec, data):
    if codec == GZIP:
        return gzip.compress(data, compresslevel=6, mtime=0)
    if codec == SNAPPY:
        return snappy_encode(data)  # xerial framing, as snappy-java writes
    if codec == LZ4:
        return lz4_encode(data)
    if codec == ZSTD:
        return zstd_encode(data)
    return data


def fix_header(batch):
    """Makes batchLength and the CRC-32C match the bytes."""
    struct.pack_into(">i", batch, 8, len(batch) - 12)
    struct.pack_into(">I", batch, CRC_POS, calc_crc32c(bytes(batch[ATTRIBUTES_POS:])))
    return batch


def build(records, codec=NONE, transactional=False, producer=(-1, -1, -1), control=False):
    """records: (key, value, headers) tuples. Built uncompressed by
    kafka-python, then the records are compressed here (deterministically)."""
    pid, epoch, seq = producer
    b = DefaultRecordBatchBuilder(magic=2, compression_type=NONE, is_transactional=transactional,
                                  producer_id=pid, producer_epoch=epoch, base_sequence=seq,
                                  batch_size=1 << 20)
    for i, (key, value, headers) in enumerate(records):
        b.append(i, timestamp=TS + (i * 37) % 50, key=key, value=value, headers=headers)
    batch = bytearray(b.build())
    attributes = struct.unpack_from(">h", batch, ATTRIBUTES_POS)[0]
    attributes = (attributes & ~0x07) | codec | (CONTROL_BIT if control else 0)
    batch = bytearray(batch[:HEADER_BYTES]) + compress(codec, bytes(batch[HEADER_BYTES:]))
    struct.pack_into(">h", batch, ATTRIBUTES_POS, attributes)
    fix_header(batch)
    # A seed must be valid: kafka-python reads it back whole.
    check = DefaultRecordBatch(bytes(batch))
    assert check.validate_crc() and len(list(check)) == len(records)
    return batch


def sample_records(n=6):
    out = []
    for i in range(n):
        key = None if i % 3 == 0 else ("key-%d" % i).encode()
        value = None if i % 4 == 3 else (b"value %d " % i) * (1 + i % 5)
        headers = [("h%d" % j, None if j == 1 else b"hv") for j in range(i % 3)]
        out.append((key, value, headers))
    return out


def records_only(batch):
    """The uncompressed record bytes of an uncompressed batch."""
    return bytes(batch[HEADER_BYTES:])


def write(target, name, data):
    assert len(data) <= MAX_BYTES, (target, name, len(data))
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes(data))


def record_batch_corpus():
    t = "record_batch_fuzz"
    plain = build(sample_records())
    # A committed transaction's data and its COMMIT marker (key: version 0,
    # type 1; value: version 0, coordinator epoch 7).
    txn = build(sample_records(3), transactional=True, producer=(4242, 3, 0))
    marker = build([(b"\x00\x00\x00\x01", b"\x00\x00\x00\x00\x00\x07", [])], transactional=True,
                   producer=(4242, 3, -1), control=True)
    per_codec = [build(sample_records(), codec=c) for c in range(5)]

    write(t, "m0-stream-all-codecs", bytes([0]) + b"".join(per_codec) + txn + marker)
    write(t, "m0-stream-truncated", bytes([0]) + plain + per_codec[ZSTD][:-7])
    write(t, "m1-plain", bytes([1]) + plain)
    write(t, "m1-transactional", bytes([1]) + txn)
    write(t, "m1-control-commit", bytes([1]) + marker)
    for c in range(1, 5):
        write(t, "m2-" + CODEC_NAMES[c], bytes([2, c]) + per_codec[c])
        write(t, "m3-" + CODEC_NAMES[c], bytes([3, c]) + compress(c, records_only(plain)))
    # snappy-java also reads one raw block without the xerial header.
    write(t, "m3-snappy-raw-block", bytes([3, SNAPPY]) + snappy.compress(records_only(plain)))


def index_corpus():
    t = "index_fuzz"

    def offsets(entries):
        return b"".join(struct.pack(">iI", rel, pos) for rel, pos in entries)

    def times(entries):
        return b"".join(struct.pack(">qi", ts, rel) for ts, rel in entries)

    # The first 8 bytes also choose the base offset and lookup targets.
    entries = [(0, 0), (9, 4160), (27, 8391), (60, 12600), (61, 16900), (130, 21000)]
    write(t, "offset-index", offsets(entries))
    write(t, "offset-index-zero-tail", offsets(entries) + bytes(8 * 10))
    write(t, "offset-index-partial-entry", offsets(entries) + b"\x00\x00\x00")
    write(t, "offset-index-out-of-order", offsets([(5, 100), (3, 50), (8, 400), (8, 400)]))
    tentries = [(TS + 10, 9), (TS + 10, 27), (TS + 250, 60), (TS + 900, 130)]
    write(t, "time-index", times(tentries))
    write(t, "time-index-zero-tail", times(tentries) + bytes(12 * 6))
    write(t, "time-index-partial-entry", times(tentries) + b"\x01\x02\x03\x04\x05")


def request_fuzz_corpus():
    from kafka.protocol import admin, commit, fetch, group, metadata, offset, produce
    from kafka.protocol.api import RequestHeader

    t = "request_fuzz"

    def frame(req, correlation_id=7):
        # Named, not temporary: kafka-python's encode() holds its object weakly.
        header = RequestHeader(req, correlation_id=correlation_id, client_id="seed")
        return header.encode() + req.encode()

    batch = bytes(build(sample_records(3)))
    seeds = {
        "api-versions-v0": admin.ApiVersionRequest[0](),
        "api-versions-v2": admin.ApiVersionRequest[2](),
        "metadata-v0": metadata.MetadataRequest[0](topics=["orders", "payments"]),
        "metadata-v1-all": metadata.MetadataRequest[1](topics=None),
        "metadata-v5": metadata.MetadataRequest[5](topics=["orders"],
                                                   allow_auto_topic_creation=False),
        "produce-v3": produce.ProduceRequest[3](
            transactional_id=None, required_acks=-1, timeout=30000,
            topics=[("orders", [(0, batch), (1, batch)])]),
        "produce-v7-txn": produce.ProduceRequest[7](
            transactional_id="txn-1", required_acks=1, timeout=1000,
            topics=[("orders", [(2, batch)])]),
        "fetch-v4": fetch.FetchRequest[4](
            replica_id=-1, max_wait_time=500, min_bytes=1, max_bytes=1 << 20, isolation_level=1,
            topics=[("orders", [(0, 42, 1 << 20), (1, 0, 65536)])]),
        "fetch-v10": fetch.FetchRequest[10](
            replica_id=-1, max_wait_time=500, min_bytes=1, max_bytes=1 << 20, isolation_level=0,
            session_id=0, session_epoch=-1,
            topics=[("orders", [(0, 5, 42, 0, 1 << 20)])],
            forgotten_topics_data=[]),  # kafka-python cannot encode a non-empty one
        "list-offsets-v1": offset.OffsetRequest[1](replica_id=-1, topics=[("orders", [(0, -1)])]),
        # Not v4/v5: kafka-python 2.0.2 writes their current_leader_epoch as an
        # int64 (Kafka's spec: int32), and our decoder rightly rejects that.
        "list-offsets-v2": offset.OffsetRequest[2](
            replica_id=-1, isolation_level=1, topics=[("orders", [(0, -2)])]),
        "create-topics-v3": admin.CreateTopicsRequest[3](
            create_topic_requests=[("orders", 3, 1, [], [("retention.ms", "1000"),
                                                        ("cleanup.policy", None)]),
                                   ("placed", -1, -1, [(0, [1, 2]), (1, [2, 3])], [])],
            timeout=30000, validate_only=False),
        "delete-topics-v3": admin.DeleteTopicsRequest[3](topics=["orders", "x"], timeout=1000),
        "describe-configs-v2": admin.DescribeConfigsRequest[2](
            resources=[(2, "orders", None), (4, "1", ["log.dirs"])], include_synonyms=True),
        "alter-configs-v1": admin.AlterConfigsRequest[1](
            resources=[(2, "orders", [("retention.ms", "5"), ("x", None)])], validate_only=True),
        "create-partitions-v1": admin.CreatePartitionsRequest[1](
            topic_partitions=[("orders", (6, None)), ("placed", (3, [[1, 2], [2, 3]]))],
            timeout=1000, validate_only=False),
        "sasl-handshake-v1": admin.SaslHandShakeRequest[1](mechanism="PLAIN"),
        "find-coordinator-v1": commit.GroupCoordinatorRequest[1](coordinator_key="g",
                                                                 coordinator_type=0),
        "join-group-v2": group.JoinGroupRequest[2](
            group="g", session_timeout=10000, rebalance_timeout=30000, member_id="",
            protocol_type="consumer", group_protocols=[("range", b"\x00\x01meta")]),
        "sync-group-v1": group.SyncGroupRequest[1](
            group="g", generation_id=3, member_id="m-1",
            group_assignment=[("m-1", b"\x00\x01assign")]),
        "heartbeat-v1": group.HeartbeatRequest[1](group="g", generation_id=3, member_id="m-1"),
        "leave-group-v1": group.LeaveGroupRequest[1](group="g", member_id="m-1"),
        "offset-commit-v2": commit.OffsetCommitRequest[2](
            consumer_group="g", consumer_group_generation_id=3, consumer_id="m-1",
            retention_time=-1, topics=[("orders", [(0, 42, "meta"), (1, 7, None)])]),
        "offset-fetch-v3": commit.OffsetFetchRequest[3](
            consumer_group="g", topics=[("orders", [0, 1])]),
        "offset-fetch-v3-all": commit.OffsetFetchRequest[3](consumer_group="g", topics=None),
        "describe-groups-v1": admin.DescribeGroupsRequest[1](groups=["g", "h"]),
        "list-groups-v1": admin.ListGroupsRequest[1](),
        "delete-groups-v1": admin.DeleteGroupsRequest[1](groups_names=["g"]),
    }
    for name, req in seeds.items():
        write(t, "kp-" + name, frame(req))

    # Flexible versions, by hand: uvarint lengths + 1, a tagged section after
    # every struct, request header v2 (client id keeps its int16 length).
    def uvarint(n):
        out = bytearray()
        while n >= 0x80:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        out.append(n)
        return bytes(out)

    def cstr(s):
        return b"\x00" if s is None else uvarint(len(s) + 1) + s.encode()

    def carr(items):
        return b"\x00" if items is None else uvarint(len(items) + 1) + b"".join(items)

    def header_v2(key, version):
        return struct.pack(">hhih", key, version, 11, 4) + b"seed" + b"\x00"

    def tags(*fields):
        return uvarint(len(fields)) + b"".join(
            uvarint(tag) + uvarint(len(value)) + value for tag, value in fields)

    topic_id = bytes(range(1, 17))
    flex = {
        "api-versions-v3": header_v2(18, 3) + cstr("kcat") + cstr("1.7.1") + tags(),
        "metadata-v12": header_v2(3, 12)
        + carr([topic_id + cstr(None) + tags(), bytes(16) + cstr("orders") + tags()])
        + b"\x01\x01" + tags(),
        "metadata-v9-all": header_v2(3, 9) + carr(None) + b"\x01\x00\x01" + tags(),
        "produce-v9": header_v2(0, 9) + cstr(None) + struct.pack(">hi", -1, 30000)
        + carr([cstr("orders") + carr([struct.pack(">i", 0) + uvarint(len(batch) + 1) + batch
                                       + tags()]) + tags()])
        + tags(),
        # Fetch v15: replica state and cluster id as tagged fields, a tagged
        # replica directory id is v17 only (here: an unknown tag to skip).
        "fetch-v15-tagged": header_v2(1, 15)
        + struct.pack(">iiiBii", 500, 1, 1 << 20, 0, 0, -1)
        + carr([topic_id + carr([struct.pack(">iiqiqi", 0, 5, 42, 4, -1, 1 << 20)
                                 + tags((0, bytes(16)))]) + tags()])
        + carr([]) + cstr("rack-a")
        + tags((0, cstr("cluster")), (1, struct.pack(">iq", 3, 9) + tags())),
        "describe-cluster-v1": header_v2(60, 1) + b"\x01\x02" + tags(),
        "offset-fetch-v9": header_v2(9, 9)
        + carr([cstr("g") + cstr("member") + struct.pack(">i", 4)
                + carr([cstr("orders") + carr([struct.pack(">i", 0)]) + tags()]) + tags()])
        + b"\x01" + tags(),
        "incremental-alter-configs-v1": header_v2(44, 1)
        + carr([b"\x02" + cstr("orders") + carr([cstr("retention.ms") + b"\x00" + cstr("9")
                                                 + tags()]) + tags()])
        + b"\x00" + tags(),
    }
    for name, data in flex.items():
        write(t, "flex-" + name, data)


def uvarint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def metadata_record_corpus():
    t = "metadata_record_fuzz"

    def cstr(s):
        return b"\x00" if s is None else uvarint(len(s) + 1) + s.encode()

    def i32s(items):
        return uvarint(len(items) + 1) + b"".join(struct.pack(">i", x) for x in items)

    def record(rtype, version, body):
        return uvarint(1) + uvarint(rtype) + uvarint(version) + body

    no_tags = b"\x00"
    topic_id = bytes(range(1, 17))
    other_id = bytes(range(0x21, 0x31))
    incarnation = bytes(range(0x40, 0x50))

    def register_broker(version, broker_id=1, fenced=False, rack=None):
        body = struct.pack(">i", broker_id) + incarnation + struct.pack(">q", 7)
        body += uvarint(2) + cstr("PLAINTEXT") + cstr("127.0.0.1") + struct.pack(">Hh", 9092, 0)
        body += no_tags
        body += uvarint(2) + cstr("metadata.version") + struct.pack(">hh", 1, 7) + no_tags
        body += cstr(rack) + bytes([1 if fenced else 0])
        if version >= 1:
            body += b"\x00"  # InControlledShutdown
        return record(0, version, body + no_tags)

    def topic(name, tid):
        return record(2, 0, cstr(name) + tid + no_tags)

    def partition(pid, tid, replicas, leader, epoch, recovery_state=None):
        body = struct.pack(">i", pid) + tid + i32s(replicas) + i32s(replicas) + i32s([]) + i32s([])
        body += struct.pack(">iii", leader, epoch, epoch)
        if recovery_state is None:
            body += no_tags
        else:  # tag 0 LeaderRecoveryState, one byte
            body += uvarint(1) + uvarint(0) + uvarint(1) + bytes([recovery_state])
        return record(3, 0, body)

    def config(rtype, resource, name, value):
        return record(4, 0, bytes([rtype]) + cstr(resource) + cstr(name) + cstr(value) + no_tags)

    def remove_topic(tid):
        return record(9, 0, tid + no_tags)

    def feature_level(name, level):
        return record(12, 0, cstr(name) + struct.pack(">h", level) + no_tags)

    def producer_ids(broker_id, epoch, next_id):
        return record(15, 0, struct.pack(">iqq", broker_id, epoch, next_id) + no_tags)

    singles = {
        "register-broker-v1": register_broker(1, rack="rack-a"),
        "register-broker-v0": register_broker(0, fenced=True),
        "topic": topic("foo", topic_id),
        "partition": partition(0, topic_id, [1, 2, 3], 1, 4),
        "partition-recovery-tag": partition(2, topic_id, [1], 1, 0, recovery_state=1),
        "config-topic": config(2, "foo", "retention.ms", "1000"),
        "config-broker-delete": config(4, "1", "log.retention.ms", None),
        "remove-topic": remove_topic(topic_id),
        "feature-level": feature_level("metadata.version", 7),
        "producer-ids": producer_ids(1, 7, 1000),
        # An unknown tagged field (tag 5) the decoder skips.
        "topic-unknown-tag": record(2, 0, cstr("bar") + other_id + uvarint(1) + uvarint(5)
                                    + uvarint(2) + b"\xab\xcd"),
    }
    for name, value in singles.items():
        write(t, "m0-" + name, bytes([0]) + value)

    # What a controller writes from start-up on: bootstrap, two topics with
    # partitions and configs, an id block, a deletion and a re-creation.
    sequence = [
        feature_level("metadata.version", 7),
        register_broker(1),
        topic("orders", topic_id),
        partition(0, topic_id, [1], 1, 0),
        partition(1, topic_id, [1], 1, 0),
        config(2, "orders", "cleanup.policy", "compact"),
        topic("payments", other_id),
        partition(0, other_id, [1], 1, 0),
        config(4, "", "log.retention.ms", "5000"),
        producer_ids(1, 7, 1000),
        partition(1, topic_id, [1], 1, 1, recovery_state=1),
        remove_topic(topic_id),
        topic("orders", bytes(range(0x61, 0x71))),
        producer_ids(1, 7, 2000),
        config(4, "", "log.retention.ms", None),
        feature_level("metadata.version", 0),
    ]
    framed = b"".join(uvarint(len(v)) + v for v in sequence)
    write(t, "m1-controller-log", bytes([1]) + framed)
    write(t, "m2-controller-log", bytes([2]) + framed)
    write(t, "m1-bootstrap", bytes([1]) + b"".join(uvarint(len(v)) + v for v in sequence[:4]))


def group_record_corpus():
    t = "group_record_fuzz"

    def s16(s):
        return struct.pack(">h", -1) if s is None else struct.pack(">h", len(s)) + s.encode()

    def b32(b):
        return struct.pack(">i", len(b)) + b

    def offset_key(version, group, topic, partition):
        return struct.pack(">h", version) + s16(group) + s16(topic) + struct.pack(">i", partition)

    def group_key(group):
        return struct.pack(">h", 2) + s16(group)

    def offset_value(version, offset, metadata, commit_ts, leader_epoch=-1, expire_ts=-1):
        out = struct.pack(">hq", version, offset)
        if version >= 3:
            out += struct.pack(">i", leader_epoch)
        out += s16(metadata) + struct.pack(">q", commit_ts)
        if version <= 1:
            out += struct.pack(">q", expire_ts)
        return out

    # The consumer protocol's subscription (version 0, topics, no user data)
    # and assignment (version 0, topic partitions, no user data): opaque to
    # the broker, but what a real group stores.
    subscription = struct.pack(">hi", 0, 1) + s16("orders") + struct.pack(">i", -1)
    assignment = (struct.pack(">hi", 0, 1) + s16("orders") + struct.pack(">iii", 2, 0, 1)
                  + struct.pack(">i", -1))

    def group_value(version, members, protocol_type="consumer", generation=5, protocol="range",
                    leader=None, state_ts=TS):
        out = struct.pack(">h", version) + s16(protocol_type) + struct.pack(">i", generation)
        out += s16(protocol) + s16(leader)
        if version >= 2:
            out += struct.pack(">q", state_ts)
        out += struct.pack(">i", len(members))
        for member_id, instance in members:
            out += s16(member_id)
            if version >= 3:
                out += s16(instance)
            out += s16("consumer-1") + s16("/127.0.0.1")
            if version >= 1:
                out += struct.pack(">i", 30000)
            out += struct.pack(">i", 10000) + b32(subscription) + b32(assignment)
        return out

    members = [("consumer-1-a", None), ("consumer-1-b", "instance-b")]
    write(t, "m0-offset-key-v1", bytes([0]) + offset_key(1, "g", "orders", 0))
    write(t, "m0-offset-key-v0", bytes([0]) + offset_key(0, "group-x", "t", 7))
    write(t, "m0-group-key", bytes([0]) + group_key("g"))
    # A key version of another record type (Kafka's later coordinators): skipped.
    write(t, "m0-other-key-v5", bytes([0]) + struct.pack(">h", 5) + s16("txn"))
    write(t, "m1-offset-v0", bytes([1]) + offset_value(0, 42, "", TS, expire_ts=TS + 1000))
    write(t, "m1-offset-v1", bytes([1]) + offset_value(1, 42, "meta", TS, expire_ts=TS + 1000))
    write(t, "m1-offset-v1-no-expiry", bytes([1]) + offset_value(1, 42, "", TS, expire_ts=-1))
    write(t, "m1-offset-v2", bytes([1]) + offset_value(2, 7, "m", TS))
    write(t, "m1-offset-v3", bytes([1]) + offset_value(3, 42, "", TS, leader_epoch=4))
    for v in range(4):
        write(t, "m2-group-v%d" % v, bytes([2]) + group_value(v, members, leader="consumer-1-a"))
    write(t, "m2-group-empty", bytes([2]) + group_value(3, [], protocol=None, generation=3))
    write(t, "m2-group-simple", bytes([2]) + group_value(3, [], protocol_type="", generation=0,
                                                         protocol=None, state_ts=-1))

    # Request scripts: op byte = (member index << 4) | request (run_ops in
    # group_record_fuzz.cc).
    def op(member, request):
        return (member << 4) | request

    scripts = {
        # Members heartbeat and sync, the static member rejoins, a new member
        # comes, the rebalance completes, one leaves, sessions expire.
        "rejoin": [op(0, 5), op(1, 5), op(1, 6), op(1, 2), op(0, 3), op(0, 8), op(0, 4),
                   op(0, 6), op(0, 10), op(1, 12), op(0, 9), op(0, 10)],
        # A new member told MEMBER_ID_REQUIRED comes back with its id.
        "member-id-required": [op(1, 4), op(0, 11), op(0, 3), op(1, 3), op(0, 6), op(0, 7),
                               op(0, 10), op(1, 1), op(0, 0), op(0, 10)],
        # Leaves by instance id and member id, then a static member with
        # another protocol list.
        "leave-and-static": [op(1, 1), op(0, 0), op(1, 14), op(0, 13), op(0, 8), op(1, 6),
                             op(0, 10), op(0, 9)],
    }
    value = group_value(3, members, leader="consumer-1-b")
    for name, ops in scripts.items():
        write(t, "m3-" + name, bytes([3, len(ops)] + ops) + value)

    def rec(key, value):
        v = struct.pack(">i", -1) if value is None else struct.pack(">i", len(value)) + value
        return struct.pack(">h", len(key)) + key + v

    log = [
        rec(offset_key(1, "g", "orders", 0), offset_value(3, 10, "", TS)),
        rec(offset_key(1, "g", "orders", 1), offset_value(1, 5, "", TS, expire_ts=TS + 9)),
        rec(group_key("g"), group_value(3, members, leader="consumer-1-a")),
        rec(offset_key(1, "g", "orders", 0), offset_value(3, 12, "x", TS + 1)),
        rec(offset_key(1, "g", "orders", 1), None),
        rec(offset_key(0, "h", "t", 0), offset_value(2, 1, "", TS)),
        rec(group_key("h"), group_value(2, [], protocol=None)),
        rec(group_key("h"), None),
        rec(group_key("g"), group_value(1, members[:1], generation=6, leader="consumer-1-a")),
    ]
    write(t, "m4-partition-log", bytes([4]) + b"".join(log))


def producer_snapshot_corpus():
    t = "producer_snapshot_fuzz"

    def snapshot(entries):
        body = struct.pack(">i", len(entries))
        for e in entries:
            body += struct.pack(">qhiqiqiq", *e)
        return struct.pack(">hI", 1, calc_crc32c(body)) + body

    # producer id, epoch, last sequence, last offset, offset delta, timestamp,
    # coordinator epoch, current txn first offset
    entries = [
        (1000, 0, 4, 41, 4, TS, -1, -1),
        (1001, 3, 2147483646, 99, 9, TS + 5, 2, 95),  # about to wrap, in a transaction
        (1002, 7, -1, -1, 0, -1, -1, -1),  # epoch only
    ]
    write(t, "m0-three-producers", bytes([0]) + snapshot(entries))
    write(t, "m1-three-producers", bytes([1]) + snapshot(entries))
    write(t, "m0-empty", bytes([0]) + snapshot([]))
    write(t, "m1-one-producer", bytes([1]) + snapshot(entries[:1]))
    write(t, "m1-trailing-bytes", bytes([1]) + snapshot(entries[:1]) + b"\x00\x01")
    write(t, "m2-name", bytes([2]) + b"00000000000000000042.snapshot")
    write(t, "m2-name-max", bytes([2]) + b"09223372036854775807.snapshot")


def checkpoint_corpus():
    t = "checkpoint_fuzz"
    offsets = b"0\n3\norders 0 1500\norders 1 700\n__consumer_offsets 49 0\n"
    epochs = b"0\n2\n0 0\n3 1200\n"
    # Mode byte: bit 0 the kind (1: leader epochs), bit 1 read through a file,
    # bits 2-3 that read's cap (0: one byte short, 1: exact, 2: the real cap).
    write(t, "offsets", bytes([0]) + offsets)
    write(t, "offsets-file", bytes([2 | (2 << 2)]) + offsets)
    write(t, "offsets-no-final-newline", bytes([0]) + offsets[:-1])
    write(t, "offsets-empty-file", bytes([2 | (1 << 2)]))
    write(t, "offsets-zero-entries", bytes([0]) + b"0\n0\n")
    write(t, "epochs", bytes([1]) + epochs)
    write(t, "epochs-file", bytes([3 | (1 << 2)]) + epochs)
    write(t, "epochs-large", bytes([1]) + b"0\n3\n0 0\n2147483647 9223372036854775807\n7 007\n")


def config_corpus():
    t = "config_fuzz"
    server = (
        b"# A broker's server.properties\n"
        b"node.id=1\n"
        b"process.roles=broker,controller\n"
        b"listeners=PLAINTEXT://0.0.0.0:9092,INTERNAL://[::1]:9093\n"
        b"advertised.listeners=PLAINTEXT://broker-1.example:9092\n"
        b"log.dirs = /var/lib/ringlog/a,\\\n"
        b"           /var/lib/ringlog/b\n"
        b"! another comment\n"
        b"num.partitions: 3\n"
        b"log.retention.hours 168\n"
        b"log.cleanup.policy=compact,delete\n"
        b"ringlog.log.level=warn\n"
        b"log.segment.bytes=+1073741824\n"
        b"auto.create.topics.enable=FALSE\r\n"
        b"offsets.topic.num.partitions=\\u0035\\u0030\n"
    )
    write(t, "m0-server-properties", bytes([0]) + server)
    write(t, "m0-defaults", bytes([0]))
    write(t, "m0-escapes", bytes([0])
          + b"key\\ with\\=odd\\:chars = \\ value\\twith\\u00e9\\uD83D\\uDE00\\\n")
    write(t, "m0-bad", bytes([0])
          + b"log.retention.ms=ten\nlisteners=PLAINTEXT://:99999\nlog.dir=x\n")
    write(t, "m1-overrides", bytes([1]) + b"node.id=2\nlisteners=PLAINTEXT://127.0.0.1:9092\n"
          b"log.roll.hours=1\nlog.retention.minutes=-1")
    write(t, "m2-file-and-overrides", bytes([2]) + server + b"\x00node.id=3\x00log.dirs=/tmp/x")
    write(t, "m3-listener", bytes([3]) + b"PLAINTEXT://broker-1.example:9092")
    write(t, "m3-listener-ipv6", bytes([3]) + b"SASL_SSL://[fe80::1%eth0]:9093")
    write(t, "m3-listener-any", bytes([3]) + b"INTERNAL://:0")
    write(t, "m4-value-int", bytes([4]) + b" 42 ")
    write(t, "m4-value-list", bytes([4]) + b"a, b,c")
    write(t, "m4-value-double", bytes([4]) + b"+1.5e3")


CORPORA = {
    "record_batch_fuzz": record_batch_corpus,
    "index_fuzz": index_corpus,
    "request_fuzz": request_fuzz_corpus,
    "metadata_record_fuzz": metadata_record_corpus,
    "group_record_fuzz": group_record_corpus,
    "producer_snapshot_fuzz": producer_snapshot_corpus,
    "checkpoint_fuzz": checkpoint_corpus,
    "config_fuzz": config_corpus,
}


def main():
    targets = sys.argv[1:] or list(CORPORA)
    for target in targets:
        if target not in CORPORA:
            print("unknown target {}; known: {}".format(target, " ".join(CORPORA)))
            return 2
    for target in targets:
        CORPORA[target]()
    for target in targets:
        d = os.path.join(HERE, "corpus", target)
        names = sorted(os.listdir(d))
        print("{}: {} seeds, largest {} bytes".format(
            target, len(names), max(os.path.getsize(os.path.join(d, n)) for n in names)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
