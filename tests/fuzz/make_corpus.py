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


def main():
    record_batch_corpus()
    index_corpus()
    request_fuzz_corpus()
    for target in ("record_batch_fuzz", "index_fuzz", "request_fuzz"):
        d = os.path.join(HERE, "corpus", target)
        names = sorted(os.listdir(d))
        print("{}: {} seeds, largest {} bytes".format(
            target, len(names), max(os.path.getsize(os.path.join(d, n)) for n in names)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
