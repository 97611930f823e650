#!/usr/bin/env python3
"""Reads a partition written by segment_writer with kafka-python's record parser.

    kafka_python_parity.py DIR

DIR holds parity-0/ (segments written by Ringlog's partition_log) and
expected.json (what segment_writer appended). Every .log is walked batch by
batch with kafka.record.MemoryRecords; every batch's CRC-32C is checked with
kafka-python's DefaultRecordBatch.validate_crc(), every record is decoded by
kafka-python (decompressing gzip, snappy, lz4 and zstd with the codecs
kafka-python uses) and compared with expected.json field by field. The .index
files are checked too: each entry points at the start of a batch and names
that batch's last offset, as Kafka's LogSegment writes them; the .timeindex
entries name a batch of the segment and its max timestamp.

Exits 1 with a message naming the file, byte position, offset and field on the
first mismatch; prints "parity: N batches, M records checked" on success.
"""

import json
import os
import struct
import sys

try:
    import kafka.codec as codec
    from kafka.record.default_records import DefaultRecordBatch
    from kafka.record.memory_records import MemoryRecords
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.exit("parity: kafka-python is missing ({}); install python3-kafka".format(e))

CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
# kafka-python decodes a codec only when its module is importable; name the
# Debian package that brings it.
CODEC_PACKAGES = [
    ("snappy", codec.has_snappy, "python3-snappy"),
    ("lz4", codec.has_lz4, "python3-lz4"),
    ("zstd", codec.has_zstd, "python3-zstandard"),
]
LOG_OVERHEAD = 12  # baseOffset int64 + batchLength int32
INDEX_ENTRY = struct.Struct(">iI")  # relative offset, position
TIME_INDEX_ENTRY = struct.Struct(">qi")  # timestamp, relative offset


class Mismatch(Exception):
    pass


def check(cond, fmt, *args):
    if not cond:
        raise Mismatch(fmt.format(*args))


def same(where, field, got, want):
    check(got == want, "{}: {}: kafka-python read {!r}, expected {!r}", where, field, got, want)


def hex_or_none(b):
    return None if b is None else bytes(b).hex()


def producer_fields(batch):
    # kafka-python 2.0 keeps producerId, producerEpoch and baseSequence in the
    # unpacked header without properties; newer releases add properties.
    header = batch._header_data
    return (
        getattr(batch, "producer_id", header[9]),
        getattr(batch, "producer_epoch", header[10]),
        getattr(batch, "base_sequence", header[11]),
    )


def segment_files(part_dir, suffix):
    names = sorted(n for n in os.listdir(part_dir) if n.endswith(suffix))
    for n in names:
        stem = n[: -len(suffix)]
        check(len(stem) == 20 and stem.isdigit(), "{}: not a 20-digit segment name", n)
    return names


def check_record(where, rec, want):
    same(where, "offset", rec.offset, want["offset"])
    same(where, "timestamp", rec.timestamp, want["timestamp"])
    same(where, "timestamp_type", rec.timestamp_type, 0)  # CreateTime
    same(where, "key", hex_or_none(rec.key), want["key"])
    same(where, "value", hex_or_none(rec.value), want["value"])
    got_headers = [[k.encode("utf-8").hex(), hex_or_none(v)] for k, v in rec.headers]
    same(where, "headers", got_headers, want["headers"])


def check_batch(where, batch, want):
    check(isinstance(batch, DefaultRecordBatch), "{}: not a v2 batch (magic {})", where, batch.magic)
    same(where, "magic", batch.magic, 2)
    # Before iterating: validate_crc() reads the bytes as stored.
    check(batch.validate_crc(), "{}: CRC-32C does not match (stored {:#010x})", where, batch.crc)
    same(where, "base_offset", batch.base_offset, want["base_offset"])
    same(where, "last_offset", batch.base_offset + batch.last_offset_delta, want["last_offset"])
    same(where, "codec", CODECS.get(batch.compression_type), want["codec"])
    same(where, "timestamp_type", batch.timestamp_type, 0)
    same(where, "first_timestamp", batch.first_timestamp, want["first_timestamp"])
    same(where, "max_timestamp", batch.max_timestamp, want["max_timestamp"])
    pid, epoch, seq = producer_fields(batch)
    same(where, "producer_id", pid, want["producer_id"])
    same(where, "producer_epoch", epoch, want["producer_epoch"])
    same(where, "base_sequence", seq, want["base_sequence"])
    same(where, "is_transactional", batch.is_transactional, want["is_transactional"])
    same(where, "is_control", batch.is_control_batch, want["is_control"])
    same(where, "records_count", batch._num_records, want["records_count"])

    # Iterating decompresses and decodes; kafka-python raises on a bad varint,
    # a record length that disagrees with its fields, or trailing bytes.
    try:
        records = list(batch)
    except Exception as e:  # kafka-python's CorruptRecordException, a codec's error
        raise Mismatch("{}: kafka-python cannot decode the records: {!r}".format(where, e))
    same(where, "records decoded", len(records), len(want["records"]))
    for rec, rec_want in zip(records, want["records"]):
        check_record("{} record at offset {}".format(where, rec_want["offset"]), rec, rec_want)
    return len(records)


def read_segment(path, seg_base, expected, next_batch):
    """Walks one .log; returns (batches it held as (position, want), next index)."""
    with open(path, "rb") as f:
        data = f.read()
    name = os.path.basename(path)
    check(len(data) > 0, "{}: empty segment", name)
    records = MemoryRecords(data)
    pos = 0
    held = []
    first = True
    while records.has_next():
        try:
            batch = records.next_batch()
        except Exception as e:
            raise Mismatch("{} byte {}: kafka-python cannot frame a batch: {!r}".format(name, pos, e))
        # Our own framing walk, in step with kafka-python's: the position of
        # each batch (for the index check) and its size.
        check(pos + LOG_OVERHEAD <= len(data), "{}: walk ran past the end at byte {}", name, pos)
        base, length = struct.unpack_from(">qi", data, pos)
        where = "{} byte {} (batch base offset {})".format(name, pos, base)
        check(next_batch < len(expected), "{}: a batch beyond the {} expected", where, len(expected))
        want = expected[next_batch]
        where += " [{}]".format(want["name"])
        same(where, "kafka-python batch base offset vs framing", batch.base_offset, base)
        if first:
            same(where, "segment file base offset", seg_base, base)
            first = False
        n = check_batch(where, batch, want)
        held.append((pos, want, n))
        pos += LOG_OVERHEAD + length
        next_batch += 1
    # Every byte belongs to a whole batch: nothing torn or trailing.
    same(name, "valid bytes (whole batches)", records.valid_bytes(), len(data))
    same(name, "framing walk end", pos, len(data))
    return held, next_batch


def check_offset_index(path, seg_base, held):
    name = os.path.basename(path)
    with open(path, "rb") as f:
        data = f.read()
    check(len(data) % INDEX_ENTRY.size == 0, "{}: size {} is not whole 8-byte entries", name, len(data))
    by_position = {pos: want for pos, want, _ in held}
    last_rel, last_pos = -1, -1
    count = 0
    for i in range(0, len(data), INDEX_ENTRY.size):
        rel, pos = INDEX_ENTRY.unpack_from(data, i)
        where = "{} entry {} (relative offset {}, position {})".format(name, i // 8, rel, pos)
        check(rel > last_rel and pos > last_pos, "{}: entries do not strictly increase", where)
        check(pos in by_position, "{}: position is not the start of a batch", where)
        same(where, "offset (the batch's last offset)", seg_base + rel, by_position[pos]["last_offset"])
        last_rel, last_pos = rel, pos
        count += 1
    return count


def check_time_index(path, seg_base, held):
    name = os.path.basename(path)
    with open(path, "rb") as f:
        data = f.read()
    check(len(data) % TIME_INDEX_ENTRY.size == 0, "{}: size {} is not whole 12-byte entries", name,
          len(data))
    by_last = {}
    running_max = -1
    for _, want, _ in held:
        running_max = max(running_max, want["max_timestamp"])
        by_last[want["last_offset"]] = (want, running_max)
    last_ts, last_off = -1, -1
    count = 0
    for i in range(0, len(data), TIME_INDEX_ENTRY.size):
        ts, rel = TIME_INDEX_ENTRY.unpack_from(data, i)
        off = seg_base + rel
        where = "{} entry {} (timestamp {}, offset {})".format(name, i // 12, ts, off)
        check(ts >= last_ts and off >= last_off, "{}: entries go backwards", where)
        check(off in by_last, "{}: offset is not the last offset of a batch in this segment", where)
        want, max_so_far = by_last[off]
        same(where, "timestamp (that batch's max timestamp)", ts, want["max_timestamp"])
        same(where, "timestamp (largest in the segment so far)", ts, max_so_far)
        last_ts, last_off = ts, off
        count += 1
    return count


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: kafka_python_parity.py DIR")
    root = argv[1]
    missing = [pkg for name, has, pkg in CODEC_PACKAGES if not has()]
    if missing:
        sys.exit("parity: kafka-python cannot decode every codec here; install {}".format(
            " ".join(missing)))
    with open(os.path.join(root, "expected.json")) as f:
        expected = json.load(f)
    part_dir = os.path.join(root, expected["partition"])
    batches = expected["batches"]

    logs = segment_files(part_dir, ".log")
    check(len(logs) > 1, "{}: expected several segments, found {}", part_dir, len(logs))
    next_batch = 0
    record_count = 0
    index_entries = 0
    time_entries = 0
    for log in logs:
        stem = log[:-4]
        seg_base = int(stem)
        held, next_batch = read_segment(os.path.join(part_dir, log), seg_base, batches, next_batch)
        record_count += sum(n for _, _, n in held)
        index_entries += check_offset_index(os.path.join(part_dir, stem + ".index"), seg_base, held)
        time_entries += check_time_index(os.path.join(part_dir, stem + ".timeindex"), seg_base, held)
    same(part_dir, "batches read", next_batch, len(batches))
    want_records = sum(len(b["records"]) for b in batches)
    same(part_dir, "records read", record_count, want_records)
    # The index checks must have had something to check.
    check(index_entries > 0, "{}: no .index entries at all", part_dir)
    check(time_entries > 0, "{}: no .timeindex entries at all", part_dir)
    codecs = sorted({b["codec"] for b in batches})
    print("parity: {} batches, {} records checked in {} segments ({}); "
          "{} index and {} time index entries".format(next_batch, record_count, len(logs),
                                                      ", ".join(codecs), index_entries,
                                                      time_entries))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Mismatch as e:
        print("parity: MISMATCH: {}".format(e), file=sys.stderr)
        sys.exit(1)
