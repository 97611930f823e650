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


def main():
    record_batch_corpus()
    index_corpus()
    for target in ("record_batch_fuzz", "index_fuzz"):
        d = os.path.join(HERE, "corpus", target)
        names = sorted(os.listdir(d))
        print("{}: {} seeds, largest {} bytes".format(
            target, len(names), max(os.path.getsize(os.path.join(d, n)) for n in names)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
