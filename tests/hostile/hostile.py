#!/usr/bin/python3
"""Hostile input against the whole broker: nothing a client sends may abort
or hang ringlog-broker.

Sends seeded sequences of valid-but-unusual requests (every API key at every
version the broker advertises, built from Kafka's JSON message specs),
hostile record batches, odd offsets, mutated and partial frames and
connection storms over several concurrent connections; after every step it
checks the broker is alive (process running, ApiVersions v0 answered on
fresh connections within 10 s) and at the end that its descriptors went back
to their start-up count. See README.md beside this file.

Registered in tests/hostile/CMakeLists.txt: broker_hostile (60 s of seed 1,
label integration) and hostile_soak (random seeds, -DRINGLOG_HOSTILE_SOAK=ON).
The seed is random unless --seed is given and is printed first; a failing
run's steps land in <build>/tests/hostile/hostile-failures/ for --replay.

Only the standard library is used (kafka-python's codecs, when importable,
give valid snappy/lz4/zstd payloads; gzip comes from the stdlib).
"""
import argparse
import atexit
import collections
import faulthandler
import glob
import gzip
import json
import os
import random
import re
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuidlib

I8MIN, I8MAX = -(1 << 7), (1 << 7) - 1
I16MIN, I16MAX = -(1 << 15), (1 << 15) - 1
I32MIN, I32MAX = -(1 << 31), (1 << 31) - 1
I64MIN, I64MAX = -(1 << 63), (1 << 63) - 1

LIVENESS_DEADLINE = 10.0      # s for ApiVersions v0 on a fresh connection
RESPONSE_DEADLINE = 15.0      # s for a valid request that has no reason to wait
MAYWAIT_DEADLINE = 2.0        # s we wait for requests that may legitimately wait (long polls, joins)
ANY_DEADLINE = 2.0            # s we wait for an answer to a malformed frame
LIVENESS_CONNECTIONS = 6      # fresh connections per check: SO_REUSEPORT spreads them over the shards
MAX_REQUEST_BYTES = 104857600  # socket.request.max.bytes default
HOLD_POOL_MAX = 40
STALL_SECONDS = 1.5           # an ApiVersions v0 slower than this is reported as a shard stall
SLOW_SECONDS = 5.0            # a valid request answered slower than this is reported
HISTORY_STEPS = 60            # steps kept for --save-failures
EXIT_SKIP = 77
# "Now" for generated timestamps: a constant, so a seed gives the same bytes
# on every run (2026-06-01T00:00:00Z).
GEN_NOW_MS = 1_780_272_000_000
# Inputs of findings already reported, left out with --skip-known so a run can
# look further: "gzip-bomb" (compressed batches that inflate to 16-256 MiB),
# "long-topic-name" (a 249-character topic name, then deleted).
SKIP_KNOWN = set()


# ---------------------------------------------------------------- specs ----

def strip_json_comments(text):
    out, i, in_str = [], 0, False
    while i < len(text):
        c = text[i]
        if in_str:
            out.append(c)
            if c == "\\":
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_str = False
        elif c == '"':
            in_str = True
            out.append(c)
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = len(text) if j < 0 else j
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def parse_versions(s):
    if s is None:
        return None
    s = str(s).strip()
    if s == "none":
        return None
    if s.endswith("+"):
        return (int(s[:-1]), 1 << 15)
    if "-" in s:
        a, b = s.split("-")
        return (int(a), int(b))
    return (int(s), int(s))


def in_range(r, v):
    return r is not None and r[0] <= v <= r[1]


PRIMS = {"int8", "int16", "int32", "int64", "uint16", "uint32", "float64", "bool", "uuid",
         "string", "bytes", "records"}


class Field:
    __slots__ = ("name", "type", "versions", "nullable", "tagged", "tag", "fields", "entity",
                 "flex_none", "is_array", "base", "is_struct")

    def __repr__(self):
        return f"Field({self.name}:{self.type})"


class Message:
    def __init__(self, d):
        self.name = d["name"]
        self.api_key = d.get("apiKey")
        self.valid = parse_versions(d.get("validVersions"))
        self.flexible = parse_versions(d.get("flexibleVersions", "none"))
        self.structs = {}
        common = d.get("commonStructs", [])
        for cs in common:
            self.structs[cs["name"]] = [self._field(x) for x in cs["fields"]]
        self.fields = [self._field(x) for x in d.get("fields", [])]
        self._resolve(self.fields)
        for fs in self.structs.values():
            self._resolve(fs)

    def _field(self, x):
        f = Field()
        f.name = x["name"][:1].upper() + x["name"][1:]  # a few specs write camelCase
        f.type = x["type"]
        f.versions = parse_versions(x.get("versions", "0+"))
        f.nullable = parse_versions(x.get("nullableVersions"))
        f.tagged = parse_versions(x.get("taggedVersions"))
        f.tag = x.get("tag")
        f.entity = x.get("entityType")
        f.flex_none = x.get("flexibleVersions") == "none"
        f.is_array = f.type.startswith("[]")
        f.base = f.type[2:] if f.is_array else f.type
        f.is_struct = f.base not in PRIMS
        f.fields = None
        if "fields" in x:
            f.fields = [self._field(y) for y in x["fields"]]
            self.structs.setdefault(f.base, f.fields)
        return f

    def _resolve(self, fields):
        for f in fields:
            if f.is_struct and f.fields is None:
                f.fields = self.structs[f.base]
            elif f.fields:
                self._resolve(f.fields)

    def is_flexible(self, version):
        return in_range(self.flexible, version)


def load_specs(directory):
    requests, responses = {}, {}
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        with open(path) as fh:
            d = json.loads(strip_json_comments(fh.read()))
        if d.get("type") == "request":
            requests[d["apiKey"]] = Message(d)
        elif d.get("type") == "response":
            responses[d["apiKey"]] = Message(d)
    return requests, responses


# ----------------------------------------------------------------- wire ----

def uvarint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(n):
    return uvarint((n << 1) ^ (n >> 63))


class Lie:
    """A string, bytes, records or array whose length prefix says `claimed`."""

    def __init__(self, value, claimed):
        self.value, self.claimed = value, claimed


ABSENT = object()


class EncodeError(Exception):
    pass


def _pack(fmt, v):
    return struct.pack(fmt, v)


def enc_len_prefixed(out, data, claimed, flex, kind):
    if data is None:
        n = -1 if claimed is None else claimed
        if flex:
            out += uvarint(n + 1)
        elif kind == "string":
            out += _pack(">h", max(I16MIN, min(I16MAX, n)))
        else:
            out += _pack(">i", max(I32MIN, min(I32MAX, n)))
        return
    n = len(data) if claimed is None else claimed
    if flex:
        out += uvarint(n + 1)
    elif kind == "string":
        out += _pack(">h", max(I16MIN, min(I16MAX, n)))
    else:
        out += _pack(">i", max(I32MIN, min(I32MAX, n)))
    out += data


def enc_prim(out, base, v, flex):
    claimed = None
    if isinstance(v, Lie):
        claimed, v = v.claimed, v.value
    if base == "int8":
        out += _pack(">b", v)
    elif base == "int16":
        out += _pack(">h", v)
    elif base == "int32":
        out += _pack(">i", v)
    elif base == "int64":
        out += _pack(">q", v)
    elif base == "uint16":
        out += _pack(">H", v)
    elif base == "uint32":
        out += _pack(">I", v)
    elif base == "float64":
        out += _pack(">d", v)
    elif base == "bool":
        out += b"\x01" if v else b"\x00"
    elif base == "uuid":
        out += v
    elif base == "string":
        data = v.encode() if isinstance(v, str) else v
        enc_len_prefixed(out, data, claimed, flex, "string")
    elif base in ("bytes", "records"):
        data = v.encode(out_flex=flex) if hasattr(v, "encode") and not isinstance(v, (bytes, bytearray, str)) else v
        enc_len_prefixed(out, data, claimed, flex, "bytes")
    else:
        raise EncodeError(base)


def enc_value(out, f, v, ver, flex):
    if f.is_array:
        claimed = None
        if isinstance(v, Lie):
            claimed, v = v.claimed, v.value
        if v is None:
            n = -1 if claimed is None else claimed
            out += uvarint(n + 1) if flex else _pack(">i", n)
            return
        n = len(v) if claimed is None else claimed
        out += uvarint(n + 1) if flex else _pack(">i", n)
        for item in v:
            if f.is_struct:
                enc_struct(out, f.fields, item, ver, flex)
            else:
                enc_prim(out, f.base, item, flex)
    elif f.is_struct:
        if in_range(f.nullable, ver):
            out += b"\xff" if v is None else b"\x01"
            if v is None:
                return
        enc_struct(out, f.fields, v, ver, flex)
    else:
        enc_prim(out, f.base, v, flex and not f.flex_none)


def enc_struct(out, fields, vals, ver, flex):
    tagged = []
    for f in fields:
        if not in_range(f.versions, ver):
            continue
        v = vals.get(f.name, ABSENT)
        if flex and in_range(f.tagged, ver):
            if v is not ABSENT:
                sub = bytearray()
                enc_value(sub, f, v, ver, flex)
                tagged.append((f.tag, bytes(sub)))
            continue
        if v is ABSENT:
            raise EncodeError(f"no value for {f.name}")
        enc_value(out, f, v, ver, flex)
    if flex:
        tagged += vals.get("_unknown_tags", [])
        tagged.sort(key=lambda t: t[0])
        out += uvarint(len(tagged))
        for tag, data in tagged:
            out += uvarint(tag) + uvarint(len(data)) + data


class DecodeError(Exception):
    pass


class Reader:
    def __init__(self, data):
        self.d, self.p = data, 0

    def take(self, n):
        if n < 0 or self.p + n > len(self.d):
            raise DecodeError(f"need {n} bytes at {self.p}, have {len(self.d) - self.p}")
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def unpack(self, fmt, n):
        return struct.unpack(fmt, self.take(n))[0]

    def uvarint(self):
        shift, n = 0, 0
        while True:
            b = self.take(1)[0]
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                return n
            shift += 7
            if shift > 63:
                raise DecodeError("varint too long")

    def varint(self):
        n = self.uvarint()
        return (n >> 1) ^ -(n & 1)


def dec_len(r, flex, kind):
    if flex:
        return r.uvarint() - 1
    return r.unpack(">h", 2) if kind == "string" else r.unpack(">i", 4)


def dec_prim(r, base, flex, nullable):
    fmts = {"int8": (">b", 1), "int16": (">h", 2), "int32": (">i", 4), "int64": (">q", 8),
            "uint16": (">H", 2), "uint32": (">I", 4), "float64": (">d", 8)}
    if base in fmts:
        return r.unpack(*fmts[base])
    if base == "bool":
        return r.take(1) != b"\x00"
    if base == "uuid":
        return r.take(16)
    n = dec_len(r, flex, "string" if base == "string" else "bytes")
    if n < 0:
        if n != -1 or not nullable:
            raise DecodeError(f"{base} length {n}")
        return None
    data = r.take(n)
    if base == "string":
        # Lenient: a broker may echo a client's invalid UTF-8 (Kafka would
        # answer U+FFFD instead; no client breaks on either).
        return data.decode(errors="surrogateescape")
    return data


def dec_value(r, f, ver, flex):
    nullable = in_range(f.nullable, ver)
    if f.is_array:
        n = r.uvarint() - 1 if flex else r.unpack(">i", 4)
        if n < 0:
            if n != -1 or not nullable:
                raise DecodeError(f"array {f.name} length {n}")
            return None
        if n > len(r.d) - r.p:
            raise DecodeError(f"array {f.name} of {n} elements in {len(r.d) - r.p} bytes")
        if f.is_struct:
            return [dec_struct(r, f.fields, ver, flex) for _ in range(n)]
        return [dec_prim(r, f.base, flex, False) for _ in range(n)]
    if f.is_struct:
        if nullable:
            if r.unpack(">b", 1) < 0:
                return None
        return dec_struct(r, f.fields, ver, flex)
    return dec_prim(r, f.base, flex and not f.flex_none, nullable)


def dec_struct(r, fields, ver, flex):
    vals = {}
    tagged = {}
    for f in fields:
        if not in_range(f.versions, ver):
            continue
        if flex and in_range(f.tagged, ver):
            tagged[f.tag] = f
            continue
        vals[f.name] = dec_value(r, f, ver, flex)
    if flex:
        count = r.uvarint()
        last = -1
        for _ in range(count):
            tag = r.uvarint()
            size = r.uvarint()
            if tag <= last:
                raise DecodeError(f"tagged fields out of order ({tag} after {last})")
            last = tag
            data = r.take(size)
            if tag in tagged:
                sub = Reader(data)
                vals[tagged[tag].name] = dec_value(sub, tagged[tag], ver, flex)
                if sub.p != len(data):
                    raise DecodeError(f"tagged field {tag}: {len(data) - sub.p} bytes left over")
    return vals


def decode_message(msg, data, ver):
    r = Reader(data)
    vals = dec_struct(r, msg.fields, ver, msg.is_flexible(ver))
    if r.p != len(data):
        raise DecodeError(f"{len(data) - r.p} trailing bytes after {msg.name} v{ver}")
    return vals


def request_frame(api_key, version, corr, client_id, body, flexible, header_tags=None):
    h = struct.pack(">hhi", api_key, version, corr)
    if client_id is None:
        h += struct.pack(">h", -1)
    else:
        cid = client_id.encode() if isinstance(client_id, str) else client_id
        h += struct.pack(">h", len(cid)) + cid
    if flexible:
        tags = sorted(header_tags or [])
        h += uvarint(len(tags))
        for tag, data in tags:
            h += uvarint(tag) + uvarint(len(data)) + data
    payload = h + body
    return struct.pack(">i", len(payload)) + payload


def api_versions_v0(corr):
    return request_frame(18, 0, corr, "hostile-probe", b"", False)


def hexdump(data, limit=512):
    lines = []
    shown = data[:limit]
    for i in range(0, len(shown), 16):
        chunk = shown[i:i + 16]
        hx = " ".join(f"{b:02x}" for b in chunk)
        asc = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"    {i:08x}  {hx:<47}  {asc}")
    if len(data) > limit:
        lines.append(f"    ... {len(data) - limit} more bytes ({len(data)} in all)")
    return "\n".join(lines) if lines else "    (empty)"


# -------------------------------------------------------- record batches ----

def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    t = _CRC_TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


try:  # kafka-python wraps the codecs when their modules are installed
    from kafka import codec as kafka_codec
except Exception:  # pragma: no cover
    kafka_codec = None


def compress(codec, data):
    """Valid payload for codec 1-4, or None when no encoder is available."""
    try:
        if codec == 1:
            return gzip.compress(data, mtime=0)
        if kafka_codec is None:
            return None
        if codec == 2 and kafka_codec.has_snappy():
            return kafka_codec.snappy_encode(data)
        if codec == 3 and kafka_codec.has_lz4():
            return kafka_codec.lz4_encode(data)
        if codec == 4 and kafka_codec.has_zstd():
            return kafka_codec.zstd_encode(data)
    except Exception:
        return None
    return None


_BOMB = {}


def gzip_bomb(mib):
    if mib not in _BOMB:
        _BOMB[mib] = gzip.compress(b"\0" * (mib << 20), compresslevel=9, mtime=0)
    return _BOMB[mib]


def encode_record(rec):
    """rec: dict(attributes, ts_delta, offset_delta, key, value, headers, lie_len, raw)."""
    if "raw" in rec:
        return rec["raw"]
    body = bytearray()
    body += struct.pack(">b", rec.get("attributes", 0))
    body += varint(rec.get("ts_delta", 0))
    body += varint(rec.get("offset_delta", 0))
    for part in ("key", "value"):
        v = rec.get(part)
        if v is None:
            body += varint(-1)
        else:
            body += varint(rec.get(part + "_len", len(v))) + v
    headers = rec.get("headers", [])
    body += varint(rec.get("headers_count", len(headers)))
    for hk, hv in headers:
        body += varint(len(hk)) + hk
        if hv is None:
            body += varint(-1)
        else:
            body += varint(len(hv)) + hv
    length = rec.get("lie_len", len(body))
    return varint(length) + bytes(body)


def wrap(v, bits):
    """v as a two's complement integer of `bits` bits (lies may overflow)."""
    v = int(v) & ((1 << bits) - 1)
    return v - (1 << bits) if v >> (bits - 1) else v


def encode_batch(b):
    """b: dict describing one RecordBatch v2, lies included."""
    records = b.get("payload")
    if records is None:
        records = b"".join(encode_record(r) for r in b.get("records", []))
        codec = b.get("attributes", 0) & 7
        if codec and b.get("compress", True):
            c = compress(codec, records)
            if c is not None:
                records = c
    after_crc = bytearray()
    after_crc += struct.pack(">hiqqqhii", wrap(b.get("attributes", 0), 16), wrap(b.get("last_offset_delta", 0), 32),
                             wrap(b.get("base_ts", -1), 64), wrap(b.get("max_ts", -1), 64),
                             wrap(b.get("producer_id", -1), 64), wrap(b.get("producer_epoch", -1), 16),
                             wrap(b.get("base_sequence", -1), 32),
                             wrap(b.get("count", len(b.get("records", []))), 32))
    after_crc += records
    crc = crc32c(after_crc)
    if b.get("bad_crc"):
        crc ^= 0x5A5A0001
    after_len = struct.pack(">ibI", wrap(b.get("leader_epoch", -1), 32), wrap(b.get("magic", 2), 8), crc) + after_crc
    length = wrap(b.get("lie_batch_len", len(after_len)), 32)
    out = struct.pack(">qi", wrap(b.get("base_offset", 0), 64), length) + after_len
    if "truncate" in b:  # cut the batch, then make length and CRC agree with the cut
        keep = max(61, len(out) - b["truncate"])
        out = bytearray(out[:keep])
        struct.pack_into(">i", out, 8, keep - 12)
        struct.pack_into(">I", out, 17, crc32c(bytes(out[21:])))
        out = bytes(out)
    return out


class Records:
    """A records field: batches and trailing bytes, encoded when sent."""

    def __init__(self, batches, trailer=b"", desc="", invalid=False):
        self.batches, self.trailer, self.desc = batches, trailer, desc
        self.invalid = invalid  # Kafka refuses these: a broker must not answer error 0

    def encode(self, out_flex=False):
        return b"".join(encode_batch(b) for b in self.batches) + self.trailer


def check_fetched_batches(data):
    """Every complete batch in fetched records: magic 2 and a matching CRC.
    Returns an error string or None. A partial batch at the end is normal."""
    pos = 0
    while len(data) - pos >= 61:
        base_offset, length = struct.unpack_from(">qi", data, pos)
        if length < 49:
            return f"batch at byte {pos} (offset {base_offset}) has length {length}"
        end = pos + 12 + length
        if end > len(data):
            return None
        magic = data[pos + 16]
        if magic != 2:
            return f"batch at byte {pos} (offset {base_offset}) has magic {magic}"
        (crc,) = struct.unpack_from(">I", data, pos + 17)
        if crc32c(data[pos + 21:end]) != crc:
            return f"batch at byte {pos} (offset {base_offset}, {length} bytes) fails its CRC-32C"
        pos = end
    return None


# --------------------------------------------------------------- broker ----

class BrokerProcess:
    address_space_limit = 0  # bytes of RLIMIT_AS for the broker (--broker-address-space-gib)

    def __init__(self, binary, keep_dir=None, extra=()):
        self.binary = binary
        self.dir = keep_dir or tempfile.mkdtemp(prefix="ringlog-hostile-")
        self.log_path = os.path.join(self.dir, "broker.log")
        self.extra = list(extra)
        self.proc = None
        self.port = None
        self._log_pos = 0

    def start(self, timeout=60):
        args = [self.binary,
                "--override", "listeners=PLAINTEXT://127.0.0.1:0",
                "--override", f"log.dirs={os.path.join(self.dir, 'data')}",
                "--override", "ringlog.shards=2",
                "--override", "auto.create.topics.enable=true"]
        for kv in self.extra:
            args += ["--override", kv]
        self.log = open(self.log_path, "ab")
        limit = self.address_space_limit
        preexec = None
        if limit:
            import resource

            def preexec():
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log,
                                     stdin=subprocess.DEVNULL, preexec_fn=preexec)
        atexit.register(self._kill_if_running)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().decode(errors="replace")
            if not line:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"broker exited with {self.proc.returncode}:\n{self.tail()}")
                continue
            m = re.match(r"ringlog-broker ready: PLAINTEXT://([^:]+):(\d+)", line)
            if m:
                self.port = int(m.group(2))
                # Keep draining stdout so the broker never blocks on a full pipe.
                threading.Thread(target=self._drain, daemon=True).start()
                return self
        raise RuntimeError(f"broker not ready after {timeout}s:\n{self.tail()}")

    def _drain(self):
        try:
            for _ in self.proc.stdout:
                pass
        except Exception:
            pass

    def _kill_if_running(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def exit_status(self):
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is not None and rc < 0:
            try:
                return f"killed by signal {signal.Signals(-rc).name}"
            except ValueError:
                return f"killed by signal {-rc}"
        return None if rc is None else f"exit status {rc}"

    def stop(self, timeout=30):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc

    def tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return "(no log)"

    def new_log_lines(self):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_pos)
                data = f.read()
        except OSError:
            return []
        cut = data.rfind(b"\n") + 1
        self._log_pos += cut
        return data[:cut].decode(errors="replace").splitlines()


def fd_counts(pid):
    counts = collections.Counter()
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for n in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{n}")
        except OSError:
            continue
        if target.startswith("socket:"):
            counts["socket"] += 1
        elif target.startswith("pipe:"):
            counts["pipe"] += 1
        elif target.startswith("anon_inode:"):
            counts["anon"] += 1
        else:
            counts["file"] += 1
    counts["total"] = sum(counts.values())
    return counts


# ---------------------------------------------------------- connections ----

class Conn:
    """A non-blocking client socket that writes and reads at once, so a
    pipelined burst never deadlocks against the broker's backpressure."""

    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.out = bytearray()
        self.inbuf = bytearray()
        self.frames = collections.deque()
        self.closed_by_peer = False
        self.bad_frame = None

    def queue(self, data):
        self.out += data

    def _parse(self):
        while len(self.inbuf) >= 4:
            (size,) = struct.unpack_from(">i", self.inbuf, 0)
            if size < 4 or size > 256 << 20:
                self.bad_frame = f"response size prefix {size}"
                self.inbuf.clear()
                return
            if len(self.inbuf) < 4 + size:
                return
            self.frames.append(bytes(self.inbuf[4:4 + size]))
            del self.inbuf[:4 + size]

    def pump(self, until, timeout):
        """Writes and reads until until() is true, the peer closes, or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if until():
                return "ok"
            if self.closed_by_peer:
                return "closed"
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            events = select_rw(self.sock, bool(self.out), min(left, 0.5))
            if events is None:
                return "closed"
            r, w = events
            if w and self.out:
                try:
                    n = self.sock.send(self.out)
                    del self.out[:n]
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    self.closed_by_peer = True
                    self.out.clear()
            if r:
                try:
                    chunk = self.sock.recv(1 << 20)
                except (BlockingIOError, InterruptedError):
                    chunk = None
                except OSError:
                    chunk = b""
                if chunk == b"":
                    self.closed_by_peer = True
                elif chunk:
                    self.inbuf += chunk
                    self._parse()

    def flush(self, timeout):
        return self.pump(lambda: not self.out, timeout)

    def close(self, rst=False):
        try:
            if rst:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
        except OSError:
            pass


def select_rw(sock, want_write, timeout):
    sel = selectors.DefaultSelector()
    try:
        mask = selectors.EVENT_READ | (selectors.EVENT_WRITE if want_write else 0)
        sel.register(sock, mask)
        ready = sel.select(timeout)
    except (OSError, ValueError):
        return None
    finally:
        sel.close()
    r = any(ev & selectors.EVENT_READ for _, ev in ready)
    w = any(ev & selectors.EVENT_WRITE for _, ev in ready)
    return r, w


class StallProbe:
    """A child process that asks ApiVersions v0 on a fresh connection every
    0.2 s and reports answers slower than STALL_SECONDS: a shard loop that
    stalls (without hanging) shows up here. A process, not a thread, so the
    harness's own CPU work (CRCs in Python) cannot delay its measurements."""

    def __init__(self, host, port):
        import multiprocessing
        ctx = multiprocessing.get_context("fork")
        self.parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=StallProbe._loop, args=(host, port, child, os.getpid()), daemon=True)
        self.proc.start()

    @staticmethod
    def _loop(host, port, pipe, parent_pid):
        corr = 0
        while os.getppid() == parent_pid:
            corr += 1
            t = time.monotonic()
            status = "ok"
            try:
                c = Conn(host, port, timeout=LIVENESS_DEADLINE)
                c.queue(api_versions_v0(corr))
                status = c.pump(lambda: bool(c.frames), LIVENESS_DEADLINE)
                c.close()
            except OSError as e:
                status = str(e)
            d = time.monotonic() - t
            if d > STALL_SECONDS or status != "ok":
                try:
                    pipe.send((time.time(), d, status))
                except OSError:
                    return
            time.sleep(0.2)

    def drain(self):
        out = []
        while self.parent.poll():
            out.append(self.parent.recv())
        return out

    def stop(self):
        if self.proc.is_alive():
            self.proc.terminate()
        self.proc.join(5)


# ----------------------------------------------------------------- state ----

class Failure(Exception):
    def __init__(self, kind, message, conn_index=None, action_index=None):
        super().__init__(message)
        self.kind, self.message = kind, message
        self.conn_index, self.action_index = conn_index, action_index


class Harness:
    """What the generators may ask of the broker (never consuming randomness)."""

    FIXED_TOPICS = [("hostile-a", 1, []), ("hostile-b", 3, []),
                    ("hostile-c", 2, [("cleanup.policy", "compact")])]

    def __init__(self, host, port, requests, responses, args):
        self.host, self.port = host, port
        self.req_specs, self.resp_specs = requests, responses
        self.args = args
        self.advertised = {}
        self.ctl = None
        self.corr = 1_000_000
        self.topic_ids = {}
        self.producer_ids = []
        self._end_cache = {}

    # control connection: requests whose answers feed the generators
    def call(self, api_key, version, values, timeout=RESPONSE_DEADLINE):
        msg = self.req_specs[api_key]
        flex = msg.is_flexible(version)
        body = bytearray()
        enc_struct(body, msg.fields, values, version, flex)
        self.corr += 1
        corr = self.corr
        frame = request_frame(api_key, version, corr, "hostile-control", bytes(body), flex)
        for attempt in range(2):
            if self.ctl is None:
                self.ctl = Conn(self.host, self.port)
            self.ctl.queue(frame)
            st = self.ctl.pump(lambda: bool(self.ctl.frames), timeout)
            if st == "ok":
                resp = self.ctl.frames.popleft()
                (rc,) = struct.unpack_from(">i", resp, 0)
                if rc != corr:
                    raise Failure("wrong correlation id",
                                  f"control {msg.name} v{version}: correlation id {rc}, sent {corr}")
                hdr = 4 + (1 if response_header_flexible(api_key, version, self.resp_specs) else 0)
                if hdr == 5:
                    r = Reader(resp[4:])
                    r.uvarint()
                    hdr = 4 + r.p
                return decode_message(self.resp_specs[api_key], resp[hdr:], version)
            self.ctl.close()
            self.ctl = None
            if st == "timeout":
                raise Failure("hang", f"control {msg.name} v{version} not answered in {timeout}s")
        raise Failure("closed a valid request", f"control {msg.name} v{version}: connection closed")

    def close_control(self):
        if self.ctl is not None:
            self.ctl.close()
            self.ctl = None

    def discover(self):
        resp = self.call(18, 0, {})
        if resp["ErrorCode"] != 0:
            raise RuntimeError(f"ApiVersions v0 error {resp['ErrorCode']}")
        self.advertised = {k["ApiKey"]: (k["MinVersion"], k["MaxVersion"]) for k in resp["ApiKeys"]}
        unknown = [k for k in self.advertised if k not in self.req_specs]
        for k in unknown:
            del self.advertised[k]
        return self.advertised

    def version(self, api, prefer=None):
        lo, hi = self.advertised[api]
        return hi if prefer is None else max(lo, min(hi, prefer))

    def setup(self):
        v = self.version(19, 5)
        topics = []
        for name, parts, configs in self.FIXED_TOPICS:
            topics.append({"Name": name, "NumPartitions": parts, "ReplicationFactor": 1,
                           "Assignments": [], "Configs": [{"Name": k, "Value": val} for k, val in configs]})
        resp = self.call(19, v, {"Topics": topics, "TimeoutMs": 30000, "ValidateOnly": False})
        for t in resp["Topics"]:
            if t["ErrorCode"] not in (0, 36):
                raise RuntimeError(f"CreateTopics {t['Name']}: error {t['ErrorCode']}")
        for _ in range(3):
            r = self.call(22, self.version(22, 0), {"TransactionalId": None, "TransactionTimeoutMs": 60000,
                                                    "ProducerId": -1, "ProducerEpoch": -1})
            if r["ErrorCode"] == 0:
                self.producer_ids.append(r["ProducerId"])
        if not self.producer_ids:
            self.producer_ids = [0]
        for name, parts, _ in self.FIXED_TOPICS:
            for p in range(parts):
                recs = [{"key": f"k{i}".encode(), "value": f"setup-{name}-{p}-{i}".encode(),
                         "offset_delta": i} for i in range(3)]
                batch = {"records": recs, "last_offset_delta": 2, "base_ts": int(time.time() * 1000),
                         "max_ts": int(time.time() * 1000)}
                self.call(0, self.version(0, 9), {
                    "TransactionalId": None, "Acks": -1, "TimeoutMs": 30000,
                    "TopicData": [{"Name": name, "PartitionData": [{"Index": p, "Records": Records([batch])}]}]})
        self.refresh_topic_ids()

    def refresh_topic_ids(self):
        v = self.version(3)
        if v < 10:
            return
        resp = self.call(3, v, {"Topics": None, "AllowAutoTopicCreation": False,
                                "IncludeTopicAuthorizedOperations": False})
        self.topic_ids = {t["Name"]: t["TopicId"] for t in resp["Topics"] if t.get("Name")}

    def topic_id(self, name):
        return self.topic_ids.get(name, b"\0" * 16)

    def start_step(self):
        self._end_cache = {}

    def end_offset(self, topic, partition):
        if not isinstance(topic, str) or not isinstance(partition, int) or partition < 0:
            return 0
        key = (topic, partition)
        if key not in self._end_cache:
            end = 0
            try:
                resp = self.call(2, self.version(2, 1), {
                    "ReplicaId": -1, "IsolationLevel": 0,
                    "Topics": [{"Name": topic, "Partitions": [{"PartitionIndex": partition,
                                                               "CurrentLeaderEpoch": -1,
                                                               "Timestamp": -1}]}]})
                p = resp["Topics"][0]["Partitions"][0]
                if p["ErrorCode"] == 0:
                    end = p["Offset"]
            except Failure:
                raise
            except Exception:
                end = 0
            self._end_cache[key] = end
        return self._end_cache[key]

    def partition_count(self):
        resp = self.call(3, self.version(3, 1), {"Topics": None, "AllowAutoTopicCreation": False,
                                                 "IncludeClusterAuthorizedOperations": False,
                                                 "IncludeTopicAuthorizedOperations": False})
        return sum(len(t["Partitions"]) for t in resp["Topics"])


def response_header_flexible(api_key, version, resp_specs):
    if api_key == 18:
        return False
    msg = resp_specs.get(api_key)
    return msg is not None and msg.is_flexible(version)


# ------------------------------------------------------------ generators ----

TOPIC_POOL_NX = [f"hostile-nx-{i}" for i in range(12)]
INVALID_TOPICS = ["", ".", "..", "a" * 249, "t" * 300, "bad name", "bad/name", "bad\x00nul",
                  "\u00e9t\u00e9", "__consumer_offsets", "__cluster_metadata", "-", "_"]
GROUPS = ["hostile-g0", "hostile-g1", "hostile-g2", "", "g" * 300, "\u00e9"]
CONFIG_NAMES = ["cleanup.policy", "retention.ms", "retention.bytes", "segment.bytes", "segment.ms",
                "max.message.bytes", "min.insync.replicas", "message.timestamp.type",
                "compression.type", "flush.messages", "flush.ms", "unclean.leader.election.enable",
                "bogus.key", "", "x" * 300, "message.timestamp.difference.max.ms",
                "min.compaction.lag.ms", "delete.retention.ms", "num.partitions", "log.dirs"]
CONFIG_VALUES = ["", "-1", "0", "1", "2", "compact", "delete", "compact,delete", "producer",
                 "gzip", "zstd", "CreateTime", "LogAppendTime", "9223372036854775807",
                 "99999999999999999999999", "-9223372036854775808", "garbage", "x" * 1000,
                 "1048576", "100", " 12 ", "true", "NaN"]


class Gen:
    """Values for one request, drawn from rng. `h` answers questions about the
    broker (topic ids, end offsets, producer ids) without consuming rng."""

    def __init__(self, rng, h, lie=0.0):
        self.rng, self.h, self.lie = rng, h, lie
        self.elements = 0
        self.bytes = 0
        self.may_wait = False

    def pick(self, *options, weights=None):
        return self.rng.choices(options, weights=weights)[0]

    # topic names and friends
    def topic(self):
        r = self.rng.random()
        if r < 0.6:
            return self.rng.choice(Harness.FIXED_TOPICS)[0]
        if r < 0.8:
            return self.rng.choice(TOPIC_POOL_NX)
        if r < 0.97:
            t = self.rng.choice(INVALID_TOPICS)
            if t == "a" * 249 and "long-topic-name" in SKIP_KNOWN:
                t = "a" * 250
            return t
        return "hostile-x-" + "".join(self.rng.choice("abcdefghij.-_") for _ in range(self.rng.randint(1, 20)))

    def string_generic(self, nullable):
        r = self.rng.random()
        if nullable and r < 0.15:
            return None
        return self.pick("", "x", "hostile", "x" * 300, "\u00e9\u4e2d", b"\xff\xfe\xc3", "a b\tc",
                         "x" * self.rng.randint(1, 40), "0", "-1",
                         weights=[4, 2, 4, 2, 1, 1, 1, 3, 1, 1])

    def int_for(self, name, bits, ctx):
        rng = self.rng
        lo, hi = {8: (I8MIN, I8MAX), 16: (I16MIN, I16MAX), 32: (I32MIN, I32MAX), 64: (I64MIN, I64MAX)}[bits]
        generic = [0, -1, 1, lo, hi, rng.randint(0, 10), rng.randint(lo, hi)]
        n = name
        if rng.random() < 0.15:
            return rng.choice(generic)
        if n in ("Partition", "PartitionIndex", "Index", "PartitionId") or n == "Partitions":
            v = self.pick(0, 1, 2, 0, 1, -1, I32MIN, I32MAX, 99, 3)
            ctx["partition"] = v
            return v
        if n in ("FetchOffset", "Offset", "CommittedOffset", "LogStartOffset", "StartOffset",
                 "EndOffset", "CheckpointedOffset"):
            k = self.pick("-2", "-1", "0", "end", "end+1", "max", "min", "1", "-3", "end-1",
                          weights=[2, 2, 2, 3, 3, 2, 1, 1, 1, 1])
            if k.startswith("end"):
                end = self.h.end_offset(ctx.get("topic"), ctx.get("partition"))
                return max(lo, min(hi, end + {"end": 0, "end+1": 1, "end-1": -1}[k]))
            return {"-2": -2, "-1": -1, "0": 0, "max": I64MAX, "min": I64MIN, "1": 1, "-3": -3}[k]
        if n == "Timestamp":
            return self.pick(-1, -2, -3, -4, -5, -6, 0, GEN_NOW_MS, GEN_NOW_MS + 1, I64MAX, I64MIN)
        if n in ("MaxWaitMs",):
            v = self.pick(0, 0, 1, 100, 500, -1, I32MAX, I32MIN)
            if v > 600:
                self.may_wait = True
            return v
        if n in ("MinBytes",):
            return self.pick(0, 1, -1, I32MAX, 1 << 20)
        if n in ("MaxBytes", "PartitionMaxBytes"):
            return self.pick(0, -1, 1, 100, 1 << 20, I32MAX, I32MIN)
        if n in ("TimeoutMs", "TransactionTimeoutMs"):
            return self.pick(0, -1, 1000, 30000, I32MAX, I32MIN)
        if n in ("SessionTimeoutMs", "RebalanceTimeoutMs"):
            return self.pick(0, -1, 1, 6000, 10000, 30000, I32MAX, I32MIN)
        if n == "NumPartitions":
            return self.pick(-1, 0, 1, 2, 3, 100001, I32MAX, I32MIN, weights=[2, 2, 4, 2, 2, 1, 1, 1])
        if n == "Count":
            return self.pick(0, 1, 2, 4, 5, 100001, I32MAX, -1, weights=[1, 2, 2, 2, 1, 1, 1, 1])
        if n == "ReplicationFactor":
            return self.pick(-1, 0, 1, 2, 3, I16MAX, I16MIN, weights=[3, 1, 4, 1, 1, 1, 1])
        if n in ("ReplicaId", "BrokerId", "BrokerIds", "NodeId", "LeaderId", "CoordinatorEpoch"):
            return self.pick(-1, 0, 1, 2, -2, I32MAX)
        if n in ("ProducerId",):
            return self.pick(-1, 0, I64MAX, 1 << 40, self.rng.choice(self.h.producer_ids))
        if n in ("ProducerEpoch",):
            return self.pick(-1, 0, 1, I16MAX, I16MIN)
        if n in ("GenerationId", "GenerationIdOrMemberEpoch", "MemberEpoch", "SessionEpoch",
                 "SessionId", "CurrentLeaderEpoch", "LeaderEpoch", "LastFetchedEpoch", "ReplicaEpoch"):
            return self.pick(-1, 0, 1, I32MAX, I32MIN)
        if n == "IsolationLevel":
            return self.pick(0, 1, 2, -1, I8MAX)
        if n == "KeyType":
            return self.pick(0, 0, 1, 2, -1, I8MAX)
        if n == "ResourceType":
            return self.pick(2, 2, 4, 8, 16, 0, 1, -1, I8MAX)
        if n == "ConfigOperation":
            return self.pick(0, 1, 2, 3, -1, I8MAX)
        if n == "Acks":
            return self.pick(-1, 1, 0, 2, -2, I16MAX)
        if n == "RetentionTimeMs":
            return self.pick(-1, 0, 1, I64MAX, I64MIN)
        if n == "ThrottleTimeMs":
            return 0
        return rng.choice(generic)

    def value(self, f, ver, flex, ctx, depth):
        nullable = in_range(f.nullable, ver)
        if f.is_array:
            return self.array(f, ver, flex, ctx, depth, nullable)
        if f.is_struct:
            if nullable and self.rng.random() < 0.2:
                return None
            return self.struct(f.fields, ver, flex, dict(ctx), depth + 1)
        return self.prim(f, f.base, ver, ctx, nullable)

    def prim(self, f, base, ver, ctx, nullable):
        rng = self.rng
        name = f.name
        if base == "int8":
            return self.int_for(name, 8, ctx)
        if base == "int16":
            return self.int_for(name, 16, ctx)
        if base == "int32":
            v = self.int_for(name, 32, ctx)
            if name == "MaxWaitMs" and v > 600:
                self.may_wait = True  # a long poll: the answer may legitimately come late
            return v
        if base == "int64":
            return self.int_for(name, 64, ctx)
        if base == "uint16":
            return self.pick(0, 1, 9092, 65535)
        if base == "uint32":
            return self.pick(0, 1, 0xFFFFFFFF)
        if base == "float64":
            return self.pick(0.0, -1.0, float("nan"), float("inf"), 1e308, 5e-324)
        if base == "bool":
            return rng.random() < 0.5
        if base == "uuid":
            r = rng.random()
            if "Topic" in name and r < 0.6:
                t = self.topic()
                ctx["topic"] = t
                return self.h.topic_id(t)
            if r < 0.8:
                return b"\0" * 16
            if r < 0.9:
                return b"\xff" * 16
            return bytes(rng.getrandbits(8) for _ in range(16))
        if base == "string":
            s = self.string_for(f, nullable, ctx)
            return self.maybe_lie(s, nullable)
        if base == "bytes":
            r = rng.random()
            if nullable and r < 0.15:
                v = None
            elif r < 0.45:
                v = b""
            elif r < 0.9:
                v = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
            elif r < 0.98:
                v = b"\0" * rng.choice([1000, 65536])
            else:
                v = b"\xab" * (1 << 20)
            self.bytes += len(v or b"")
            return self.maybe_lie(v, nullable)
        if base == "records":
            return self.maybe_lie(self.records_field(ctx, nullable), nullable)
        raise EncodeError(base)

    def string_for(self, f, nullable, ctx):
        name, ent = f.name, f.entity
        rng = self.rng
        if ent == "topicName" or name in ("Topic", "TopicName") or (name == "Name" and ctx.get("_in_topic")):
            if nullable and rng.random() < 0.1:
                return None
            t = self.topic()
            ctx["topic"] = t
            return t
        if ent == "groupId" or name == "GroupId":
            return self.rng.choice(GROUPS)
        if ent == "transactionalId":
            return None if nullable and rng.random() < 0.7 else self.pick("", "txn-1", "t" * 300)
        if name in ("MemberId", "GroupInstanceId"):
            if nullable and rng.random() < 0.3:
                return None
            return self.pick("", "unknown-member", "m" * 300, "consumer-1-" + str(uuidlib.UUID(int=rng.getrandbits(128))))
        if name == "ResourceName":
            return self.pick(self.topic(), "1", "0", "-1", "", "999", "x" * 300)
        if name == "Name" and ctx.get("_in_config"):
            return rng.choice(CONFIG_NAMES)
        if name == "Value" and ctx.get("_in_config"):
            if nullable and rng.random() < 0.15:
                return None
            return rng.choice(CONFIG_VALUES)
        if name in ("ProtocolType", "ProtocolName", "Name") and ctx.get("_in_group"):
            return self.pick("consumer", "", "range", "roundrobin", "x" * 300, "connect")
        if name in ("ClientSoftwareName", "ClientSoftwareVersion"):
            return self.pick("hostile", "", "1.0", "bad name!", "x" * 300, "-")
        if name in ("RackId", "ClusterId"):
            if nullable and rng.random() < 0.3:
                return None
            return self.pick("", "rack-1", "x" * 300)
        if name == "Metadata":
            return self.pick("", None if nullable else "", "m" * 5000)
        if name in ("KeyFilters", "StatesFilter", "TypesFilter"):
            return self.pick("", "Stable", "Empty", "Dead", "classic", "consumer", "x")
        return self.string_generic(nullable)

    def maybe_lie(self, v, nullable):
        if self.lie and self.rng.random() < self.lie:
            real = len(v) if isinstance(v, (bytes, bytearray, str, list)) else 0
            claimed = self.pick(real + 1, real + 1000, I32MAX, -2, -1, max(0, real - 1), I16MAX)
            if claimed == -1 and nullable:
                claimed = -2
            return Lie(v, claimed)
        return v

    def array(self, f, ver, flex, ctx, depth, nullable):
        rng = self.rng
        r = rng.random()
        if nullable and r < 0.12:
            return self.maybe_lie(None, True)
        if r < 0.22:
            n = 0
        elif r < 0.7:
            n = 1
        elif r < 0.93:
            n = rng.randint(2, 4)
        else:
            n = rng.choice([50, 200, 1000])
        if depth > 3:
            n = min(n, 2)
        n = max(0, min(n, 3000 - self.elements))
        self.elements += n
        if self.bytes > (4 << 20):
            n = min(n, 1)
        sub = dict(ctx)
        if f.name in ("Topics", "TopicData", "Topic", "ForgottenTopicsData", "TopicPartitions"):
            sub["_in_topic"] = True
        if "Config" in f.name or f.name in ("Resources",):
            sub["_in_config"] = True
        if f.name in ("Protocols", "Assignments") or "Group" in f.name:
            sub["_in_group"] = True
        items = []
        for _ in range(n):
            if f.is_struct:
                items.append(self.struct(f.fields, ver, flex, dict(sub), depth + 1))
            else:
                items.append(self.prim(f, f.base, ver, sub, False))
        return self.maybe_lie(items, nullable)

    def struct(self, fields, ver, flex, ctx, depth=0):
        vals = {}
        for f in fields:
            if not in_range(f.versions, ver):
                continue
            if flex and in_range(f.tagged, ver) and self.rng.random() < 0.5:
                continue  # a tagged field left out: its default
            if f.name in ("Configs", "Resources") or "Config" in f.name:
                ctx["_in_config"] = True
            vals[f.name] = self.value(f, ver, flex, ctx, depth)
        if flex and self.rng.random() < 0.1:
            # Unknown tagged fields must be ignored by the receiver.
            vals["_unknown_tags"] = [(self.rng.choice([90, 1000, 2 ** 20]),
                                      bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(0, 9))))]
        return vals

    # record batches
    def records_field(self, ctx, nullable):
        r = self.rng.random()
        if nullable and r < 0.07:
            return None
        if r < 0.12:
            return b""
        if r < 0.17:
            return bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(1, 80)))
        if r < 0.45:
            return Records([self.plain_batch()], desc="plain")
        return self.hostile_records()

    def plain_batch(self, n=None, **over):
        rng = self.rng
        n = rng.randint(1, 4) if n is None else n
        now = GEN_NOW_MS
        recs = [{"key": None if rng.random() < 0.3 else f"k{i}".encode(), "value": f"v{i}".encode(),
                 "offset_delta": i, "ts_delta": 0} for i in range(n)]
        b = {"records": recs, "last_offset_delta": max(0, n - 1), "base_ts": now, "max_ts": now}
        b.update(over)
        return b

    def hostile_records(self):
        rng = self.rng
        kind = rng.choice(["timestamps", "empty", "control", "transactional", "idempotent", "codec",
                           "lying", "crc", "truncated", "many", "records", "magic", "trailer", "bomb",
                           "mixed"])
        notes = [kind]
        pid = rng.choice(self.h.producer_ids)
        if kind == "timestamps":
            b = self.plain_batch(base_ts=-1, max_ts=-1)
            for rec in b["records"]:
                rec["ts_delta"] = self.pick(0, -1, 1, I32MAX)
            if rng.random() < 0.5:
                b["base_ts"], b["max_ts"] = self.pick((I64MAX, I64MAX), (I64MIN, -1), (0, -1),
                                                      (1000, 0), (-2, -2))
            if rng.random() < 0.3:
                b["attributes"] = 8  # LogAppendTime from a client
            batches = [b]
        elif kind == "empty":
            b = self.plain_batch(0)
            b["last_offset_delta"] = self.pick(0, -1, 5)
            b["count"] = 0
            batches = [b]
        elif kind == "control":
            ctype = self.pick(0, 1, 2, -1)
            rec = {"key": struct.pack(">hh", 0, ctype), "value": struct.pack(">hi", 0, 0), "offset_delta": 0}
            b = self.plain_batch(0)
            b.update(records=[rec], count=1, attributes=self.pick(0x20, 0x30, 0x21),
                     producer_id=self.pick(-1, pid), producer_epoch=self.pick(-1, 0), base_sequence=-1)
            batches = [b]
        elif kind == "transactional":
            b = self.plain_batch()
            b.update(attributes=0x10, producer_id=self.pick(-1, pid, 0, I64MAX),
                     producer_epoch=self.pick(-1, 0, I16MAX), base_sequence=self.pick(-1, 0, 5))
            batches = [b]
        elif kind == "idempotent":
            b = self.plain_batch()
            b.update(producer_id=self.pick(pid, pid, -1, 0, I64MAX, I64MIN, 1 << 40),
                     producer_epoch=self.pick(0, 0, -1, 1, I16MAX, I16MIN),
                     base_sequence=self.pick(0, -1, 1, 5, I32MAX, I32MAX - 1, I32MIN))
            batches = [b]
            if rng.random() < 0.4:  # a retry or a gap right behind
                b2 = dict(b)
                b2["base_sequence"] = self.pick(b["base_sequence"], b["base_sequence"] + 100,
                                                (b["base_sequence"] + len(b["records"])) & 0x7FFFFFFF)
                batches.append(b2)
        elif kind == "codec":
            codec = rng.randint(0, 7)
            b = self.plain_batch()
            b["attributes"] = codec | self.pick(0, 0, 8, 0x40)
            r = rng.random()
            if r < 0.5:
                b["payload"] = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200)))
                notes.append(f"codec {codec} garbage")
            elif r < 0.6:
                b["payload"] = b""
                notes.append(f"codec {codec} empty payload")
            elif r < 0.75 and codec in (1, 2, 3, 4):
                good = compress(codec, b"".join(encode_record(x) for x in b["records"]))
                if good:
                    cut = rng.randint(1, max(1, len(good) - 1))
                    b["payload"] = good[:cut]
                    notes.append(f"codec {codec} cut at {cut}/{len(good)}")
            else:
                notes.append(f"codec {codec} valid")
            batches = [b]
        elif kind == "lying":
            b = self.plain_batch(rng.randint(1, 5))
            n = len(b["records"])
            what = rng.choice(["count", "last_offset_delta", "lie_batch_len", "offset_delta", "rec_len",
                               "key_len", "headers_count"])
            notes.append(what)
            if what == "count":
                b["count"] = self.pick(0, -1, n + 1, max(0, n - 1), I32MAX, I32MIN)
            elif what == "last_offset_delta":
                b["last_offset_delta"] = self.pick(-1, 0, n, n + 100, I32MAX, I32MIN)
            elif what == "lie_batch_len":
                b["lie_batch_len"] = self.pick(0, -1, 48, 49, 10, I32MAX, I32MIN)
                notes.append("(outer length)")
            elif what == "offset_delta":
                for rec in b["records"]:
                    rec["offset_delta"] = self.pick(0, -1, 7, I32MAX, I32MIN)
            elif what == "rec_len":
                rec = rng.choice(b["records"])
                rec["lie_len"] = self.pick(0, -1, -2, 1, 1000, I32MAX)
            elif what == "key_len":
                rec = rng.choice(b["records"])
                rec["key"] = b"k"
                rec["key_len"] = self.pick(-2, 100, I32MAX, I32MIN)
            else:
                rec = rng.choice(b["records"])
                rec["headers"] = [(b"h", b"v")]
                rec["headers_count"] = self.pick(-1, 2, 1000, I32MAX)
            batches = [b]
        elif kind == "crc":
            batches = [self.plain_batch(bad_crc=True)]
        elif kind == "truncated":
            b = self.plain_batch(rng.randint(1, 6))
            b["truncate"] = rng.randint(1, 12)
            batches = [b]
        elif kind == "many":
            n = rng.choice([10, 50, 300])
            batches = [self.plain_batch(1) for _ in range(n)]
            if rng.random() < 0.3:
                batches[rng.randrange(n)]["bad_crc"] = True
            notes.append(f"{n} batches")
        elif kind == "records":
            n = rng.choice([0, 1, 100, 1000])
            b = self.plain_batch(n)
            for rec in b["records"][: rng.randint(0, min(n, 5))]:
                rec["headers"] = [(b"h" * rng.randint(0, 3), self.pick(None, b"", b"v" * 100))
                                  for _ in range(self.pick(0, 1, 100))]
                rec["value"] = self.pick(None, b"", b"v" * 100000, rec["value"])
                rec["attributes"] = self.pick(0, 1, -1)
            notes.append(f"{n} records")
            batches = [b]
        elif kind == "magic":
            batches = [self.plain_batch(magic=self.pick(0, 1, 3, -1, 99))]
        elif kind == "trailer":
            return Records([self.plain_batch()], trailer=bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 60))),
                           desc="trailer")
        elif kind == "bomb" and "gzip-bomb" in SKIP_KNOWN:
            batches = [self.plain_batch(bad_crc=True)]
        elif kind == "bomb":
            mib = self.pick(16, 64, 256)
            b = self.plain_batch(1, attributes=1, payload=gzip_bomb(mib))
            notes.append(f"gzip of {mib} MiB of zeros")
            batches = [b]
        else:  # mixed: good batches with one bad one in the middle
            batches = [self.plain_batch(2) for _ in range(rng.randint(2, 5))]
            bad = rng.randrange(len(batches))
            batches[bad]["bad_crc" if rng.random() < 0.5 else "count"] = True if rng.random() < 0.5 else 7
        if rng.random() < 0.2:
            for b in batches:
                b["base_offset"] = self.pick(0, -1, I64MAX, 12345)
                b["leader_epoch"] = self.pick(-1, 0, I32MAX)
        invalid = kind in ("control", "crc", "truncated", "magic", "bomb") or (
            kind == "codec" and ((batches[0]["attributes"] & 7) >= 5 or not notes[-1].endswith("valid"))) or (
            kind == "lying" and notes[1] in ("count", "rec_len", "key_len", "headers_count"))
        if kind == "transactional" and batches[0]["producer_id"] < 0:
            invalid = True  # a transactional batch without a producer id
        return Records(batches, desc=" ".join(notes), invalid=invalid)


# ----------------------------------------------------------------- steps ----

class Action:
    """One thing a conversation does. expect: 'req' (a valid request: must be
    answered), 'noresp' (acks=0 Produce: must not be answered), 'maywait' (may
    legitimately wait: a long poll, a join), 'any' (malformed: an answer, an
    error or a close are all fine), 'error35' (ApiVersions at an unsupported
    version: must be answered with UNSUPPORTED_VERSION), 'raw' (bytes, no
    expectation)."""

    __slots__ = ("op", "data", "expect", "corr", "api", "ver", "desc", "arg")

    def __init__(self, op, data=b"", expect="raw", corr=None, api=None, ver=None, desc="", arg=None):
        self.op, self.data, self.expect, self.corr = op, data, expect, corr
        self.api, self.ver, self.desc, self.arg = api, ver, desc, arg

    def to_json(self):
        d = {"op": self.op, "expect": self.expect, "desc": self.desc}
        if self.data:
            d["hex"] = self.data.hex()
        for k in ("corr", "api", "ver", "arg"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        return d

    @staticmethod
    def from_json(d):
        return Action(d["op"], bytes.fromhex(d.get("hex", "")), d.get("expect", "raw"), d.get("corr"),
                      d.get("api"), d.get("ver"), d.get("desc", ""), d.get("arg"))


class Conversation:
    def __init__(self, actions, mode="sync", hold_steps=0):
        self.actions, self.mode, self.hold_steps = actions, mode, hold_steps

    def to_json(self):
        return {"mode": self.mode, "hold_steps": self.hold_steps, "actions": [a.to_json() for a in self.actions]}

    @staticmethod
    def from_json(d):
        return Conversation([Action.from_json(a) for a in d["actions"]], d.get("mode", "sync"),
                            d.get("hold_steps", 0))


class Step:
    def __init__(self, n, kind, convs, storm=False):
        self.n, self.kind, self.convs, self.storm = n, kind, convs, storm

    def to_json(self):
        return {"n": self.n, "kind": self.kind, "storm": self.storm, "convs": [c.to_json() for c in self.convs]}

    @staticmethod
    def from_json(d):
        return Step(d["n"], d["kind"], [Conversation.from_json(c) for c in d["convs"]], d.get("storm", False))

    def requests(self):
        return sum(1 for c in self.convs for a in c.actions if a.op in ("send", "trickle"))


MAYWAIT_APIS = {11, 14}  # JoinGroup and SyncGroup wait for the other members


class StepBuilder:
    def __init__(self, h, seed, n):
        self.h = h
        self.rng = random.Random(f"{seed}/{n}")
        self.n = n
        self.corr = 0

    def next_corr(self):
        self.corr += 1
        if self.rng.random() < 0.05:
            return self.rng.choice([0, -1, I32MAX, I32MIN, self.corr])
        return self.n * 1000 + self.corr

    def client_id(self):
        return self.rng.choices(["hostile", None, "", "c" * 300, b"\xff\xfe", "\u00e9"],
                                weights=[10, 2, 2, 1, 1, 1])[0]

    def spec_request(self, api, ver, lie=0.0, values=None):
        """A request frame for api/ver from the specs, and its expectation."""
        rng = self.rng
        msg = self.h.req_specs[api]
        flex = msg.is_flexible(ver)
        g = Gen(rng, self.h, lie)
        vals = values if values is not None else g.struct(msg.fields, ver, flex, {})
        body = bytearray()
        enc_struct(body, msg.fields, vals, ver, flex)
        corr = self.next_corr()
        header_tags = None
        if flex and rng.random() < 0.1:
            header_tags = [(rng.choice([1, 7, 1000]), bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 5))))]
        frame = request_frame(api, ver, corr, self.client_id(), bytes(body), flex, header_tags)
        expect = "req"
        if api == 0 and vals.get("Acks") == 0:
            expect = "noresp"
        if g.may_wait or api in MAYWAIT_APIS:
            expect = "maywait"
        if lie:
            expect = "any"
        return Action("send", frame, expect, corr, api, ver, f"{msg.name} v{ver}" + (" (lying lengths)" if lie else ""))

    def random_api(self, among=None):
        keys = sorted(among if among else self.h.advertised)
        keys = [k for k in keys if k in self.h.advertised]
        api = self.rng.choice(keys)
        lo, hi = self.h.advertised[api]
        return api, self.rng.randint(lo, hi)

    def sentinel(self):
        corr = self.next_corr()
        return Action("send", api_versions_v0(corr), "req", corr, 18, 0, "ApiVersions v0 (sentinel)")

    def finish(self, actions, mode="sync"):
        """Ends a conversation with a sentinel, unless a request may wait."""
        out = []
        for a in actions:
            out.append(a)
            if a.expect in ("maywait",):
                return Conversation(out, mode)
        out.append(self.sentinel())
        return Conversation(out, mode)

    # kinds of steps
    def build(self):
        rng = self.rng
        kinds = ["valid", "records", "offsets", "mutate", "frames", "storm", "pipeline", "unsupported"]
        kind = rng.choices(kinds, weights=[36, 16, 14, 14, 8, 3, 4, 5])[0]
        return Step(self.n, kind, getattr(self, "build_" + kind)(), storm=(kind == "storm"))

    def build_valid(self):
        convs = []
        for _ in range(self.rng.randint(1, 4)):
            acts = []
            for _ in range(self.rng.randint(1, 5)):
                api, ver = self.random_api()
                acts.append(self.spec_request(api, ver))
            convs.append(self.finish(acts, self.rng.choice(["sync", "pipeline"])))
        return convs

    def produce_request(self, ver, topic, partition, records, acks=None):
        rng = self.rng
        acks = rng.choice([-1, 1, 1, 0]) if acks is None else acks
        vals = {"TransactionalId": None if rng.random() < 0.9 else rng.choice(["", "txn-1"]),
                "Acks": acks, "TimeoutMs": rng.choice([30000, 0, -1]),
                "TopicData": [{"Name": topic, "PartitionData": [{"Index": partition, "Records": records}]}]}
        return self.spec_request(0, ver, values=vals)

    def fetch_request(self, ver, topic, partition, offset, max_bytes=1 << 20):
        msg = self.h.req_specs[1]
        tid = self.h.topic_id(topic)
        part = {"Partition": partition, "CurrentLeaderEpoch": -1, "FetchOffset": offset, "LastFetchedEpoch": -1,
                "LogStartOffset": -1, "PartitionMaxBytes": max_bytes}
        vals = {"ReplicaId": -1, "MaxWaitMs": 0, "MinBytes": 0, "MaxBytes": max_bytes, "IsolationLevel": 0,
                "SessionId": 0, "SessionEpoch": -1,
                "Topics": [{"Topic": topic, "TopicId": tid, "Partitions": [part]}],
                "ForgottenTopicsData": [], "RackId": ""}
        return self.spec_request(1, ver, values=vals)

    def build_records(self):
        rng = self.rng
        convs = []
        lo, hi = self.h.advertised[0]
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.85:  # mostly partitions that exist, so the batches reach validation
                topic, parts, _ = rng.choice(Harness.FIXED_TOPICS)
                partition = rng.randrange(parts)
            else:
                topic = rng.choice(Harness.FIXED_TOPICS + [("hostile-nx-0", 1, [])])[0]
                partition = rng.choice([1, 2, 3, -1, 99, I32MAX, I32MIN])
            g = Gen(rng, self.h)
            acts = []
            for _ in range(rng.randint(1, 3)):
                rec = g.hostile_records()
                a = self.produce_request(rng.randint(lo, hi), topic, partition, rec)
                a.desc += f" {topic}[{partition}] {rec.desc}"
                if rec.invalid:
                    a.arg = "invalid-batch"
                acts.append(a)
            # Read back what was stored, from the start and around the end.
            if 1 in self.h.advertised:
                flo, fhi = self.h.advertised[1]
                for off in (0, max(0, self.h.end_offset(topic, partition) - 2)):
                    acts.append(self.fetch_request(rng.randint(flo, fhi), topic, max(partition, 0), off))
            convs.append(self.finish(acts, rng.choice(["sync", "pipeline"])))
        return convs

    def build_offsets(self):
        rng = self.rng
        among = [k for k in (1, 2, 21, 23, 9, 8) if k in self.h.advertised]
        convs = []
        for _ in range(rng.randint(1, 3)):
            acts = []
            for _ in range(rng.randint(1, 4)):
                if 23 not in self.h.advertised and rng.random() < 0.1:
                    acts.append(self.unsupported_api(23))  # OffsetForLeaderEpoch: not advertised
                    break
                api, ver = self.random_api(among)
                acts.append(self.spec_request(api, ver))
            convs.append(self.finish(acts))
        return convs

    def unsupported_api(self, api):
        msg = self.h.req_specs[api]
        ver = self.rng.randint(msg.valid[0], msg.valid[1])
        a = self.spec_request(api, ver)
        a.expect = "any"
        a.desc = f"{msg.name} v{ver} (not advertised)"
        return a

    def build_unsupported(self):
        rng = self.rng
        r = rng.random()
        if r < 0.35:  # ApiVersions above or below what we speak: UNSUPPORTED_VERSION, v0 layout
            ver = rng.choice([5, 6, 99, I16MAX, -1, I16MIN])
            corr = self.next_corr()
            flex = ver >= 3
            body = b"\x08hostile\x021\x00" if flex and rng.random() < 0.7 else b""
            frame = request_frame(18, ver, corr, self.client_id(), body, flex)
            return [self.finish([Action("send", frame, "error35", corr, 18, ver, f"ApiVersions v{ver}")])]
        if r < 0.7:  # an advertised api outside its range
            api, _ = self.random_api()
            lo, hi = self.h.advertised[api]
            msg = self.h.req_specs[api]
            ver = rng.choice([lo - 1, hi + 1, -1, I16MAX])
            corr = self.next_corr()
            flex = in_range(msg.flexible, ver)
            frame = request_frame(api, ver, corr, self.client_id(), b"\0" * rng.randint(0, 40), flex)
            return [Conversation([Action("send", frame, "any", corr, api, ver, f"{msg.name} v{ver} (unsupported version)"),
                                  self.sentinel()])]
        # an API the broker does not advertise
        keys = [k for k in self.h.req_specs if k not in self.h.advertised]
        api = rng.choice(keys + [999, -1, I16MAX, 68, 100])
        if api in self.h.req_specs:
            return [Conversation([self.unsupported_api(api), self.sentinel()])]
        corr = self.next_corr()
        frame = request_frame(api, 0, corr, self.client_id(), b"", False)
        return [Conversation([Action("send", frame, "any", corr, api, 0, f"api key {api}"), self.sentinel()])]

    def mutate(self, frame):
        rng = self.rng
        payload = bytearray(frame[4:])
        how = rng.choice(["flip", "flip", "truncate", "extend", "size+", "size-", "header", "lie", "zero"])
        desc = how
        complete = True
        if how == "flip":
            k = rng.randint(1, 8)
            for _ in range(k):
                i = rng.randrange(len(payload))
                payload[i] ^= rng.randint(1, 255)
            desc = f"{k} bytes flipped"
        elif how == "truncate":
            keep = rng.randrange(len(payload))
            payload = payload[:keep]
            desc = f"body cut to {keep} bytes"
        elif how == "extend":
            extra = rng.randint(1, 200)
            payload += bytes(rng.getrandbits(8) for _ in range(extra))
            desc = f"{extra} bytes appended"
        elif how == "zero":
            i = rng.randrange(len(payload))
            j = min(len(payload), i + rng.randint(1, 16))
            payload[i:j] = b"\0" * (j - i)
            desc = f"bytes {i}-{j} zeroed"
        elif how == "header":
            if len(payload) >= 4:
                struct.pack_into(">h", payload, rng.choice([0, 2]), rng.choice([-1, I16MAX, rng.randint(0, 80), 18]))
            desc = "api key or version replaced"
        if how == "size+":
            d = rng.choice([1, 10, 1000, 1 << 20])
            out = struct.pack(">i", len(payload) + d) + bytes(payload)
            return out, f"size prefix {d} larger than the body", False
        if how == "size-":
            d = rng.randint(1, max(1, len(payload) - 1))
            out = struct.pack(">i", len(payload) - d) + bytes(payload)
            return out, f"size prefix {d} smaller than the body", False
        return struct.pack(">i", len(payload)) + bytes(payload), desc, complete

    def build_mutate(self):
        rng = self.rng
        convs = []
        for _ in range(rng.randint(1, 3)):
            api, ver = self.random_api()
            if rng.random() < 0.25:
                a = self.spec_request(api, ver, lie=0.3)
                a.expect = "any"
                convs.append(Conversation([a, self.sentinel()]))
                continue
            a = self.spec_request(api, ver)
            data, desc, complete = self.mutate(a.data)
            m = Action("send", data, "any" if complete else "raw", a.corr, api, ver, f"{a.desc} mutated: {desc}")
            acts = [m]
            if complete:
                acts.append(self.sentinel())
                acts[-1].expect = "any"
            else:
                acts.append(Action("idle", arg=rng.choice([0.1, 0.5])))
            acts.append(Action("close", arg=rng.random() < 0.5))
            convs.append(Conversation(acts))
        return convs

    def build_frames(self):
        rng = self.rng
        convs = []
        for _ in range(rng.randint(1, 3)):
            what = rng.choice(["size0", "negative", "toolarge", "atmax", "header", "held", "trickle",
                               "split", "coalesced", "clientid"])
            corr = self.next_corr()
            if what == "size0":
                acts = [Action("send", struct.pack(">i", 0), "any", desc="size 0")]
            elif what == "negative":
                v = rng.choice([-1, -5, I32MIN])
                acts = [Action("send", struct.pack(">i", v) + b"\0" * 8, "any", desc=f"size {v}")]
            elif what == "toolarge":
                v = rng.choice([MAX_REQUEST_BYTES + 1, I32MAX, 200 << 20])
                acts = [Action("send", struct.pack(">i", v) + b"\0" * 16, "any", desc=f"size {v} > socket.request.max.bytes")]
            elif what == "atmax":
                acts = [Action("send", struct.pack(">i", MAX_REQUEST_BYTES) + api_versions_v0(corr)[4:] + b"\0" * 1000, "raw",
                               desc="size socket.request.max.bytes, 1 KB sent"),
                        Action("idle", arg=0.2), Action("close", arg=True)]
            elif what == "header":
                n = rng.randint(1, 9)
                body = bytes(rng.getrandbits(8) for _ in range(n))
                acts = [Action("send", struct.pack(">i", n) + body, "any", desc=f"{n}-byte frame (header cut)")]
            elif what == "clientid":
                claimed = rng.choice([-2, 100, I16MAX])
                payload = struct.pack(">hhih", 18, 0, corr, claimed) + b"abc"
                acts = [Action("send", struct.pack(">i", len(payload)) + payload, "any", corr, 18, 0,
                               desc=f"client id length {claimed} over 3 bytes")]
            elif what == "held":
                if rng.random() < 0.3:
                    # Only a size prefix, as large as allowed: costs the client 4 bytes.
                    size = rng.choice([MAX_REQUEST_BYTES, MAX_REQUEST_BYTES - 1, 50 << 20])
                    acts = [Action("send", struct.pack(">i", size) + api_versions_v0(corr)[4:4 + rng.randint(0, 8)], "raw",
                                   desc=f"size prefix {size} and nothing more, held open")]
                    convs.append(Conversation(acts, hold_steps=rng.randint(3, 60)))
                    continue
                api, ver = self.random_api()
                full = self.spec_request(api, ver)
                cut = rng.randint(1, max(1, len(full.data) - 1))
                acts = [Action("send", full.data[:cut], "raw", desc=f"{full.desc}: first {cut} of {len(full.data)} bytes, held open")]
                convs.append(Conversation(acts, hold_steps=rng.randint(3, 60)))
                continue
            elif what == "trickle":
                api, ver = self.random_api([3, 18, 2, 10, 60, 16, 32])
                a = self.spec_request(api, ver)
                a.op, a.arg = "trickle", rng.choice([1, 3, 7])
                a.desc += f" sent {a.arg} byte(s) at a time"
                convs.append(self.finish([a]))
                continue
            elif what == "split":
                a = self.spec_request(*self.random_api([3, 18, 2, 10, 60]))
                cut = rng.randint(1, len(a.data) - 1)
                b1 = Action("send", a.data[:cut], "raw", desc=f"{a.desc} first {cut} bytes")
                b2 = Action("send", a.data[cut:], a.expect, a.corr, a.api, a.ver, f"{a.desc} rest")
                convs.append(self.finish([b1, Action("idle", arg=0.05), b2]))
                continue
            else:  # coalesced: two requests in one write
                a = self.spec_request(*self.random_api([3, 18, 2, 10, 60]))
                b = self.sentinel()
                convs.append(Conversation([a, b], mode="pipeline"))
                continue
            convs.append(Conversation(acts + [self.sentinel()]))
            convs[-1].actions[-1].expect = "any"
        return convs

    def build_storm(self):
        rng = self.rng
        convs = []
        for _ in range(rng.randint(20, 200)):
            what = rng.choice(["none", "partial", "full", "half"])
            corr = self.next_corr()
            if what == "none":
                acts = []
            elif what == "partial":
                acts = [Action("send", api_versions_v0(corr)[:rng.randint(1, 6)], "raw", desc="partial size prefix")]
            else:
                api, ver = self.random_api([0, 1, 3, 18, 2, 19, 8, 9, 11, 22])
                a = self.spec_request(api, ver)
                if what == "half":
                    a = Action("send", a.data[:max(1, len(a.data) // 2)], "raw", desc=a.desc + " (half)")
                else:
                    a.expect = "raw"
                acts = [a]
            acts.append(Action("close", arg=rng.random() < 0.7))
            convs.append(Conversation(acts))
        return convs

    def build_pipeline(self):
        rng = self.rng
        acts = []
        for _ in range(rng.randint(50, 300)):
            api, ver = self.random_api([18, 3, 2, 10, 60, 16, 12, 9])
            a = self.spec_request(api, ver)
            if a.expect == "maywait":
                continue
            acts.append(a)
        acts.append(self.sentinel())
        return [Conversation(acts, mode="pipeline")]


# ------------------------------------------------------------- execution ----

def collect_error_codes(v, out=None):
    out = [] if out is None else out
    if isinstance(v, dict):
        for k, x in v.items():
            if k == "ErrorCode" and isinstance(x, int):
                out.append(x)
            else:
                collect_error_codes(x, out)
    elif isinstance(v, list):
        for x in v:
            collect_error_codes(x, out)
    return out


class Finding:
    def __init__(self, kind, message, step, conn=None, action=None):
        self.kind, self.message, self.step, self.conn, self.action = kind, message, step, conn, action


class Runner:
    def __init__(self, host, port, harness, broker=None, verbose=False):
        self.host, self.port = host, port
        self.h = harness
        self.broker = broker
        self.verbose = verbose
        self.held = []  # (release_step, Conn)
        self.soft = []  # findings that are reported, not fatal
        self.requests = 0
        self.responses = 0
        self.step_n = None
        self.outcomes = collections.Counter()   # (api name, expect, outcome)
        self.answered_versions = set()           # (api, version) of valid requests answered
        self.error_codes = collections.Counter() # (api name, error code) in decoded responses

    def stat(self, a, outcome):
        msg = self.h.req_specs.get(a.api)
        name = msg.name[:-7] if msg else f"api {a.api}"
        self.outcomes[(name, a.expect, outcome)] += 1
        if outcome == "ok" and a.expect in ("req", "maywait") and a.api is not None:
            self.answered_versions.add((a.api, a.ver))

    # checks of one response frame
    def check_response(self, a, frame):
        (corr,) = struct.unpack_from(">i", frame, 0)
        if a.corr is not None and corr != a.corr and a.expect not in ("any", "raw"):
            raise Failure("wrong correlation id", f"{a.desc}: response carries correlation id {corr}, request had {a.corr}")
        if a.expect == "error35":
            if len(frame) < 6 or struct.unpack_from(">h", frame, 4)[0] != 35:
                raise Failure("wrong answer", f"{a.desc}: expected UNSUPPORTED_VERSION (35) in the v0 layout, got {frame[:16].hex()}")
            return
        if a.expect not in ("req", "maywait") or a.api not in self.h.resp_specs:
            return
        flex = response_header_flexible(a.api, a.ver, self.h.resp_specs)
        try:
            r = Reader(frame)
            r.take(4)
            if flex:
                for _ in range(r.uvarint()):
                    r.uvarint()
                    r.take(r.uvarint())
            resp = decode_message(self.h.resp_specs[a.api], frame[r.p:], a.ver)
        except DecodeError as e:
            raise Failure("malformed response", f"{a.desc}: response does not decode: {e}")
        name = self.h.req_specs[a.api].name[:-7]
        for code in collect_error_codes(resp):
            self.error_codes[(name, code)] += 1
        if a.api == 0 and a.arg == "invalid-batch":
            parts = [p for t in resp.get("Responses", []) for p in t.get("PartitionResponses", [])]
            if parts and parts[0].get("ErrorCode") == 0:
                self.soft.append(Finding("accepted an invalid batch",
                                         f"{a.desc}: answered error 0 (offset {parts[0].get('BaseOffset')}); "
                                         f"Kafka refuses such a batch (CORRUPT_MESSAGE / INVALID_RECORD)", self.step_n))
        if a.api == 1 and len(frame) < (2 << 20):
            for t in resp.get("Responses", []):
                for p in t.get("Partitions", []):
                    recs = p.get("Records")
                    if recs:
                        err = check_fetched_batches(recs)
                        if err:
                            raise Failure("corrupt fetch", f"{a.desc}: partition {p.get('PartitionIndex')}: {err}")

    def run_conversation(self, ci, conv, step):
        """Runs one conversation; returns the Conn when it is to be held open."""
        try:
            c = Conn(self.host, self.port)
        except OSError as e:
            raise Failure("connect failed", f"connection {ci}: {e}", ci)
        keep = False
        try:
            pending = []  # actions whose answers are due, in order (pipeline mode)
            for ai, a in enumerate(conv.actions):
                if a.op == "close":
                    c.flush(2.0)
                    c.close(rst=bool(a.arg))
                    return None
                if a.op == "idle":
                    c.pump(lambda: False, float(a.arg))
                    continue
                if a.op == "trickle":
                    n = max(1, int(a.arg))
                    for i in range(0, len(a.data), n):
                        c.queue(a.data[i:i + n])
                        c.flush(5.0)
                        time.sleep(0.002)
                else:
                    c.queue(a.data)
                self.requests += 1
                if conv.mode == "pipeline":
                    if a.expect in ("req", "error35", "maywait"):
                        pending.append((ai, a))
                    continue
                self.await_answer(c, ci, ai, a, conv)
                if c.closed_by_peer:
                    return None
            if conv.mode == "pipeline":
                for ai, a in pending:
                    self.await_answer(c, ci, ai, a, conv, pipelined=True)
                    if c.closed_by_peer:
                        return None
            if conv.hold_steps:
                c.flush(2.0)
                keep = True
                return c
            c.flush(1.0)
            return None
        finally:
            if not keep:
                c.close(rst=False)

    def await_answer(self, c, ci, ai, a, conv, pipelined=False):
        if a.expect in ("raw",):
            c.flush(2.0)
            return
        if a.expect == "noresp":
            c.flush(RESPONSE_DEADLINE)
            return
        deadline = {"req": RESPONSE_DEADLINE, "error35": RESPONSE_DEADLINE,
                    "maywait": MAYWAIT_DEADLINE, "any": ANY_DEADLINE}[a.expect]
        if pipelined:
            deadline = max(deadline, RESPONSE_DEADLINE)
        t0 = time.monotonic()
        st = c.pump(lambda: bool(c.frames) or c.bad_frame, deadline)
        took = time.monotonic() - t0
        self.stat(a, st)
        if st == "ok" and not pipelined and a.expect == "req" and took > SLOW_SECONDS:
            self.soft.append(Finding("slow answer", f"{a.desc}: answered after {took:.1f}s", self.step_n, ci, ai))
        if c.bad_frame:
            raise Failure("malformed response", f"{a.desc}: {c.bad_frame}", ci, ai)
        if st == "ok":
            frame = c.frames.popleft()
            self.responses += 1
            (corr,) = struct.unpack_from(">i", frame, 0)
            if a.expect == "any":
                # Only a response to the frame we sent is acceptable; earlier
                # acks=0 produces must not have been answered.
                return
            if corr != a.corr:
                earlier = [x for x in conv.actions[:ai] if x.corr == corr and x.expect == "noresp"]
                if earlier:
                    raise Failure("answered acks=0", f"{earlier[0].desc} with acks=0 was answered", ci, ai)
            try:
                self.check_response(a, frame)
            except Failure as f:
                f.conn_index, f.action_index = ci, ai
                raise
            return
        if st == "closed":
            if a.expect in ("req", "error35"):
                self.soft.append(Finding("closed a valid request", f"{a.desc}: the broker closed the connection",
                                         self.step_n, ci, ai))
            return
        # timeout
        if a.expect in ("req", "error35"):
            raise Failure("hang", f"{a.desc}: no answer within {deadline:.0f}s (connection left open)", ci, ai)

    def run_storm(self, step):
        conns = []
        for ci, conv in enumerate(step.convs):
            try:
                conns.append((Conn(self.host, self.port, timeout=5.0), conv))
            except OSError:
                conns.append((None, conv))
        for c, conv in conns:
            if c is None:
                continue
            for a in conv.actions:
                if a.op == "send":
                    c.queue(a.data)
                    self.requests += 1
                    try:
                        n = c.sock.send(c.out)
                        del c.out[:n]
                    except OSError:
                        pass
        for c, conv in conns:
            if c is None:
                continue
            last = conv.actions[-1] if conv.actions else None
            c.close(rst=bool(last is not None and last.op == "close" and last.arg))

    def run_step(self, step):
        self.step_n = step.n
        if step.storm:
            self.run_storm(step)
            return
        results = [None] * len(step.convs)
        errors = []

        def work(i, conv):
            try:
                results[i] = self.run_conversation(i, conv, step)
            except Failure as f:
                if f.conn_index is None:
                    f.conn_index = i
                errors.append(f)
            except Exception as e:  # a harness bug is a failure too, not a silent pass
                errors.append(Failure("harness error", f"connection {i}: {type(e).__name__}: {e}", i))

        if len(step.convs) == 1:
            work(0, step.convs[0])
        else:
            threads = [threading.Thread(target=work, args=(i, c), daemon=True) for i, c in enumerate(step.convs)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(RESPONSE_DEADLINE * 4)
        for i, c in enumerate(results):
            if c is not None:
                self.held.append((step.n + step.convs[i].hold_steps, c))
        if errors:
            raise errors[0]

    def release_held(self, step_n, everything=False):
        keep = []
        for release, c in self.held:
            if everything or release <= step_n:
                c.close(rst=(release % 2 == 0))
            else:
                keep.append((release, c))
        self.held = keep[-HOLD_POOL_MAX:]
        for _, c in keep[:-HOLD_POOL_MAX]:
            c.close()

    def liveness(self):
        if self.broker is not None and not self.broker.alive():
            raise Failure("crash", f"the broker process ended: {self.broker.exit_status()}")
        conns = []
        try:
            for i in range(LIVENESS_CONNECTIONS):
                try:
                    c = Conn(self.host, self.port, timeout=LIVENESS_DEADLINE)
                except OSError as e:
                    if self.broker is not None and not self.broker.alive():
                        raise Failure("crash", f"the broker process ended: {self.broker.exit_status()}")
                    raise Failure("hang", f"liveness: connect failed: {e}")
                corr = 7_000_000 + i
                c.queue(api_versions_v0(corr))
                conns.append((c, corr))
            deadline = time.monotonic() + LIVENESS_DEADLINE
            for c, corr in conns:
                st = c.pump(lambda: bool(c.frames), max(0.1, deadline - time.monotonic()))
                if st != "ok":
                    if self.broker is not None and not self.broker.alive():
                        raise Failure("crash", f"the broker process ended: {self.broker.exit_status()}")
                    raise Failure("hang", f"liveness: ApiVersions v0 on a fresh connection: {st} "
                                          f"within {LIVENESS_DEADLINE:.0f}s (a shard loop is stuck?)")
                frame = c.frames.popleft()
                got, err = struct.unpack_from(">ih", frame, 0)
                if got != corr or err != 0:
                    raise Failure("wrong answer", f"liveness: ApiVersions v0 answered corr {got} error {err}")
        finally:
            for c, _ in conns:
                c.close()

    def deep_liveness(self):
        """Every fixed partition answers ListOffsets and a small Produce."""
        for name, parts, _ in Harness.FIXED_TOPICS:
            for p in range(parts):
                self.h.end_offset(name, p)
                now = int(time.time() * 1000)
                batch = {"records": [{"key": b"k", "value": b"live", "offset_delta": 0}],
                         "last_offset_delta": 0, "base_ts": now, "max_ts": now}
                self.h.call(0, self.h.version(0, 9), {
                    "TransactionalId": None, "Acks": 1, "TimeoutMs": 10000,
                    "TopicData": [{"Name": name, "PartitionData": [{"Index": p, "Records": Records([batch])}]}]},
                    timeout=LIVENESS_DEADLINE)


# --------------------------------------------------------------- reports ----

def describe_step(step, failure=None, limit=512):
    lines = [f"  step {step.n} ({step.kind}), {len(step.convs)} connection(s):"]
    for ci, conv in enumerate(step.convs[:12]):
        mark = " <-- failed here" if failure is not None and failure.conn_index == ci else ""
        lines.append(f"   connection {ci} ({conv.mode}{', held %d steps' % conv.hold_steps if conv.hold_steps else ''}){mark}")
        for ai, a in enumerate(conv.actions):
            amark = " <--" if failure is not None and failure.conn_index == ci and failure.action_index == ai else ""
            if a.op in ("send", "trickle"):
                lines.append(f"    [{ai}] {a.op} {len(a.data)} bytes, expect {a.expect}, corr {a.corr}: {a.desc}{amark}")
                lines.append(hexdump(a.data, limit))
            else:
                lines.append(f"    [{ai}] {a.op} {a.arg}{amark}")
    if len(step.convs) > 12:
        lines.append(f"   ... {len(step.convs) - 12} more connections")
    return "\n".join(lines)


def save_sequence(directory, seed, kind, message, steps, failed_step):
    os.makedirs(directory, exist_ok=True)
    safe = re.sub(r"[^a-z0-9]+", "-", kind.lower()).strip("-")
    if kind in ("accepted an invalid batch", "closed a valid request"):
        steps = [s for s in steps if s.n == failed_step] or steps  # the step itself says it all
    # gzip: the hex of large frames (bombs, long arrays) compresses well.
    path = os.path.join(directory, f"hostile-seed{seed}-step{failed_step}-{safe}.json.gz")
    with gzip.open(path, "wt", compresslevel=6) as f:
        json.dump({"seed": seed, "failed_step": failed_step, "kind": kind, "message": message,
                   "steps": [s.to_json() for s in steps]}, f)
    return path


def load_sequence(path):
    """A file of save_sequence: plain or gzip'd JSON."""
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rt") if gz else open(path)) as f:
        return json.load(f)


# ------------------------------------------------------------------ main ----

class Session:
    """A broker (started or given) with its harness and runner."""

    def __init__(self, args, requests, responses):
        self.args = args
        self.broker = None
        if args.bootstrap:
            host, port = args.bootstrap.rsplit(":", 1)
            self.host, self.port = host, int(port)
            self.pid = args.pid
        else:
            self.broker = BrokerProcess(args.broker, extra=args.override).start()
            self.host, self.port, self.pid = "127.0.0.1", self.broker.port, self.broker.pid
        self.h = Harness(self.host, self.port, requests, responses, args)
        self.runner = Runner(self.host, self.port, self.h, self.broker, args.verbose)
        self.fd_start = fd_counts(self.pid) if self.pid else None
        self.h.discover()
        self.h.setup()
        self.partitions_after_setup = self.h.partition_count()
        self.h.close_control()
        self.fd_base = self.settle_fds(self.fd_start) if self.pid else None
        self.probe = StallProbe(self.host, self.port) if not args.no_stall_probe else None
        self.saved_sigs = set()
        self._soft_seen = 0

    def settle_fds(self, target, deadline_s=10.0):
        """Polls until the broker's sockets/pipes fall to `target`'s; returns the counts then."""
        deadline = time.monotonic() + deadline_s
        counts = fd_counts(self.pid)
        while time.monotonic() < deadline:
            counts = fd_counts(self.pid)
            if counts is None or target is None:
                return counts
            if counts["socket"] <= target["socket"] and counts["pipe"] <= target["pipe"] + 2:
                return counts
            time.sleep(0.1)
        return counts

    def check_fds(self):
        """After every harness connection is closed: no leaked descriptors."""
        self.runner.release_held(0, everything=True)
        partitions = self.h.partition_count()
        self.h.close_control()
        base = self.fd_base
        files_per_partition = 3
        limit_files = base["file"] + max(0, partitions - self.partitions_after_setup) * files_per_partition + 8
        deadline = time.monotonic() + 30.0
        counts = None
        while time.monotonic() < deadline:
            counts = fd_counts(self.pid)
            if counts is None:
                raise Failure("crash", "the broker process ended before the descriptor check")
            ok = (counts["socket"] <= base["socket"] + 2 and counts["pipe"] <= base["pipe"] + 2
                  and counts["anon"] <= base["anon"] + 2 and counts["file"] <= limit_files)
            if ok:
                return counts
            time.sleep(0.2)
        raise Failure("leaked descriptors",
                      f"30 s after the last harness connection closed the broker holds {dict(counts)}; "
                      f"after start-up it held {dict(base)} ({partitions - self.partitions_after_setup} "
                      f"partitions created since, files allowed up to {limit_files})")

    def new_error_lines(self, step):
        if self.broker is None:
            return
        for line in self.broker.new_log_lines():
            if re.search(r"\b(error|fatal|critical|assert|ASSERT|abort|terminate|sanitizer)\b", line):
                self.runner.soft.append(Finding("broker logged an error", line.strip(), step.n if step else None))

    def save_new_soft(self, seed, history):
        """Saves the steps leading to each new kind of soft finding, when it is seen."""
        if not self.args.save_failures:
            return
        for fnd in self.runner.soft[self._soft_seen:]:
            sig = signature(fnd.kind, fnd.message)
            if sig in self.saved_sigs or fnd.step is None:
                continue
            upto = [s for s in history if s.n <= fnd.step]
            if upto:
                self.saved_sigs.add(sig)
                path = save_sequence(self.args.save_failures, seed, fnd.kind, fnd.message, upto, fnd.step)
                print(f"hostile: step {fnd.step}: {fnd.kind}: {fnd.message[:160]} (saved {path})", flush=True)
        self._soft_seen = len(self.runner.soft)

    def restart_check(self):
        """Stops the broker (it must exit 0) and starts it again on the data
        the run left: what clients did must not keep it from starting."""
        if self.probe is not None:
            self.probe.stop()
            self.probe = None
        self.runner.release_held(0, everything=True)
        self.h.close_control()
        rc = self.broker.stop()
        if rc != 0:
            raise Failure("unclean exit", f"the broker exited with status {rc} after SIGTERM")
        again = BrokerProcess(self.broker.binary, keep_dir=self.broker.dir, extra=self.broker.extra)
        again._log_pos = os.path.getsize(again.log_path) if os.path.exists(again.log_path) else 0
        self.broker = again
        self.runner.broker = again
        try:
            again.start()
        except RuntimeError as e:
            lines = [l for l in str(e).splitlines() if re.search(r"\b(error|fatal|cannot)\b", l)]
            raise Failure("restart failed", "the broker does not start again on the data the run left: "
                          + (lines[-1] if lines else str(e).splitlines()[0]))
        self.port = self.h.port = self.runner.port = again.port
        self.pid = again.pid
        self.runner.liveness()

    def drain_stalls(self, step):
        if self.probe is None:
            return
        for when, took, status in self.probe.drain():
            what = f"ApiVersions v0 on a fresh connection took {took:.1f}s" + ("" if status == "ok" else f" ({status})")
            self.runner.soft.append(Finding("shard stall", what, step.n if step else None))

    def close(self, keep=False):
        if self.probe is not None:
            self.probe.stop()
        self.runner.release_held(0, everything=True)
        self.h.close_control()
        rc = None
        if self.broker is not None:
            rc = self.broker.stop()
        return rc


def report_failure(args, sess, seed, step, failure, history):
    print(f"\nhostile: FAILURE at step {step.n if step else '-'} (seed {seed}): {failure.kind}: {failure.message}",
          flush=True)
    if step is not None:
        print("input of the step that failed:")
        print(describe_step(step, failure))
    if sess.broker is not None:
        print(f"broker log ({sess.broker.log_path}), last lines:")
        print(sess.broker.tail(40))
    if args.save_failures and history:
        path = save_sequence(args.save_failures, seed, failure.kind, failure.message, history,
                             step.n if step else -1)
        print(f"hostile: failing sequence saved to {path} (replay: {sys.argv[0]} --replay {path})")


def run_steps(args, sess, seed, steps_source, deadline, history):
    """Runs steps until the source ends or the deadline passes; returns (steps run, failure, step)."""
    runner = sess.runner
    count = 0
    for step in steps_source:
        if step is None:
            break
        t0 = time.monotonic()
        history.append(step)
        if len(history) > HISTORY_STEPS:
            del history[0]
        try:
            runner.run_step(step)
            runner.release_held(step.n)
            runner.liveness()
            if step.n % 25 == 0:
                runner.deep_liveness()
        except Failure as f:
            if sess.broker is not None and not sess.broker.alive() and f.kind != "crash":
                f = Failure("crash", f"the broker process ended ({sess.broker.exit_status()}) "
                                     f"after: {f.kind}: {f.message}", f.conn_index, f.action_index)
            sess.new_error_lines(step)
            return count + 1, f, step
        sess.new_error_lines(step)
        sess.drain_stalls(step)
        sess.save_new_soft(seed, history)
        count += 1
        if args.verbose:
            print(f"step {step.n} {step.kind}: ok ({step.requests()} requests, {time.monotonic() - t0:.2f} s)", flush=True)
        if deadline is not None and time.monotonic() >= deadline:
            break
    return count, None, None


def generated_steps(sess, seed, first=0, last=None):
    n = first
    while last is None or n <= last:
        sess.h.start_step()
        try:
            step = StepBuilder(sess.h, seed, n).build()
        except Failure:
            raise
        yield step
        n += 1


def signature(kind, message):
    """What two findings share when they are the same bug: the kind and the
    message up to its first colon (usually "<Api>Request vN"), digits blurred."""
    head = message.split(":", 1)[0] if kind not in ("shard stall", "broker logged an error") else ""
    if kind == "accepted an invalid batch":
        head = re.sub(r"^ProduceRequest v\d+ \S+ ", "", head)  # the kind of batch, not the version or partition
    if kind == "broker logged an error":
        head = re.sub(r"^\S+\s+\S+\s+\[shard \d+\]\s*", "", message)
        head = re.sub(r"connection \d+ from \S+", "connection", head)[:80]
    return (kind, re.sub(r"\d+(\.\d+)?", "N", head))


def soft_summary(soft):
    groups = collections.OrderedDict()
    for f in soft:
        groups.setdefault(signature(f.kind, f.message), []).append(f)
    lines = []
    for (kind, _), fs in groups.items():
        lines.append(f"  {kind} x{len(fs)} (first at step {fs[0].step}): {fs[0].message[:300]}")
    return lines


def print_stats(runner, advertised):
    served = {(k, v) for k, (lo, hi) in advertised.items() for v in range(lo, hi + 1)}
    got = runner.answered_versions & served
    print(f"hostile: valid requests answered at {len(got)} of the {len(served)} advertised (api, version) pairs")
    missing = sorted(served - got)
    if missing:
        print("  not answered in this run: " + ", ".join(f"{k}v{v}" for k, v in missing[:60])
              + (" ..." if len(missing) > 60 else ""))
    per_api = collections.defaultdict(collections.Counter)
    for (name, expect, outcome), n in runner.outcomes.items():
        per_api[name][f"{expect}:{outcome}"] += n
    for name in sorted(per_api):
        codes = sorted(((c, n) for (a, c), n in runner.error_codes.items() if a == name), key=lambda x: -x[1])
        print(f"  {name:<24} " + " ".join(f"{k}={v}" for k, v in sorted(per_api[name].items()))
              + ("  errors " + " ".join(f"{c}:{n}" for c, n in codes[:8]) if codes else ""))


class RunResult:
    def __init__(self):
        self.count, self.failure, self.fstep, self.sess, self.history = 0, None, None, None, []


def execute(args, requests, responses, seed, steps=None, deadline=None):
    """One run against a broker started for it (or the one given): generated
    steps (steps None) or the given ones. Leaves the session open in the result."""
    res = RunResult()
    res.sess = sess = Session(args, requests, responses)
    if steps is not None:
        source = iter(steps)
    else:
        last = args.first_step + args.steps - 1 if args.steps else None
        source = generated_steps(sess, seed, args.first_step, last)
    try:
        res.count, res.failure, res.fstep = run_steps(args, sess, seed, source, deadline, res.history)
        if res.failure is None and sess.pid:
            sess.check_fds()
        if res.failure is None and sess.broker is not None and not args.no_restart_check:
            sess.restart_check()
    except Failure as f:
        res.failure = f
    if res.failure is None and sess.broker is not None and not sess.broker.alive():
        res.failure = Failure("crash", f"the broker process ended: {sess.broker.exit_status()}")
    if sess.probe is not None:
        time.sleep(0.3)
        sess.drain_stalls(res.fstep or (res.history[-1] if res.history else None))
    return res


def minimise(args, requests, responses, replay):
    """Greedy delta debugging over steps, then connections, then actions: each
    candidate runs on a fresh broker; kept when it fails the same way."""
    target = signature(replay["kind"], replay["message"])
    seed = replay["seed"]
    trials = [0]
    budget = args.minimise_trials

    def fails(steps):
        if trials[0] >= budget:
            return False
        trials[0] += 1
        res = execute(args, requests, responses, seed, steps=[Step.from_json(s.to_json()) for s in steps])
        found = []
        if res.failure is not None:
            found.append(signature(res.failure.kind, res.failure.message))
        found += [signature(f.kind, f.message) for f in res.sess.runner.soft]
        res.sess.close()
        if res.sess.broker is not None:
            import shutil
            shutil.rmtree(res.sess.broker.dir, ignore_errors=True)
        ok = target in found
        print(f"  trial {trials[0]}: {sum(len(s.convs) for s in steps)} connections in {len(steps)} steps, "
              f"{sum(st.requests() for st in steps)} requests: {'fails' if ok else 'passes'}", flush=True)
        return ok

    def ddmin(items, test):
        n = 2
        while len(items) >= 2 and trials[0] < budget:
            chunk = max(1, -(-len(items) // n))
            reduced = False
            for i in range(0, len(items), chunk):
                cand = items[:i] + items[i + chunk:]
                if cand and test(cand):
                    items, n, reduced = cand, max(n - 1, 2), True
                    break
            if not reduced:
                if chunk == 1:
                    break
                n = min(len(items), n * 2)
        return items

    steps = [Step.from_json(s) for s in replay["steps"]]
    print(f"hostile: minimising {len(steps)} steps for {target[0]}: {replay['message'][:200]}", flush=True)
    if not fails(steps):
        print("hostile: the saved sequence does not reproduce the failure; nothing to minimise")
        return None
    steps = ddmin(steps, fails)
    for si in range(len(steps)):
        st = steps[si]

        def with_convs(convs, si=si, st=st):
            return steps[:si] + [Step(st.n, st.kind, convs, st.storm)] + steps[si + 1:]
        convs = ddmin(list(st.convs), lambda cs: fails(with_convs(cs)))
        steps[si] = Step(st.n, st.kind, convs, st.storm)
        for ci in range(len(steps[si].convs)):
            conv = steps[si].convs[ci]

            def with_actions(acts, si=si, ci=ci, conv=conv):
                cs = list(steps[si].convs)
                cs[ci] = Conversation(acts, conv.mode, conv.hold_steps)
                return steps[:si] + [Step(steps[si].n, steps[si].kind, cs, steps[si].storm)] + steps[si + 1:]
            acts = ddmin(list(conv.actions), lambda a: fails(with_actions(a)))
            cs = list(steps[si].convs)
            cs[ci] = Conversation(acts, conv.mode, conv.hold_steps)
            steps[si] = Step(steps[si].n, steps[si].kind, cs, steps[si].storm)
    return steps


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--broker", default=os.environ.get("RINGLOG_BROKER",
                                                       os.path.join(repo, "build/release/broker/ringlog-broker")),
                   help="ringlog-broker binary to start (default: the release build)")
    p.add_argument("--bootstrap", help="HOST:PORT of a running broker to drive instead of starting one")
    p.add_argument("--pid", type=int, help="with --bootstrap: the broker's pid, for the crash and descriptor checks")
    p.add_argument("--specs", default=os.path.join(repo, "..", "shared", "kafka-protocol", "messages"),
                   help="directory of Kafka's JSON message specs")
    p.add_argument("--seconds", type=float, default=60.0, help="how long to run (default 60)")
    p.add_argument("--steps", type=int, help="stop after this many steps (instead of --seconds)")
    p.add_argument("--first-step", type=int, default=0, help="start at this step number of the seed's sequence")
    p.add_argument("--seed", type=int, help="seed (default: random, printed)")
    p.add_argument("--save-failures", metavar="DIR", help="write failing sequences here, for --replay")
    p.add_argument("--replay", metavar="FILE", help="replay a saved sequence (its exact bytes) against a fresh broker")
    p.add_argument("--only-step", type=int, help="with --replay: replay only this step of the file")
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                   help="extra --override for the broker started here")
    p.add_argument("--strict", action="store_true",
                   help="count soft findings (valid requests closed, stalls, error lines in the log) as failures")
    p.add_argument("--no-stall-probe", action="store_true", help="do not watch for shard stalls")
    p.add_argument("--no-restart-check", action="store_true",
                   help="skip restarting the broker on the run's data at the end")
    p.add_argument("--minimise", action="store_true",
                   help="with --replay: shrink the sequence to the smallest one that still fails the same way")
    p.add_argument("--minimise-trials", type=int, default=80, help="broker runs --minimise may use (default 80)")
    p.add_argument("--stats", action="store_true", help="print what was sent and answered, per API")
    p.add_argument("--verbose", "-v", action="store_true")
    p.add_argument("--broker-address-space-gib", type=float, default=0,
                   help="start the broker with this RLIMIT_AS (as under ulimit -v or strict overcommit)")
    p.add_argument("--skip-known", default="", metavar="LIST",
                   help="comma-separated inputs of known findings to leave out: gzip-bomb, long-topic-name")
    args = p.parse_args()
    SKIP_KNOWN.update(x for x in args.skip_known.split(",") if x)
    BrokerProcess.address_space_limit = int(args.broker_address_space_gib * (1 << 30))
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # kill -USR1: where is the harness?

    if not os.path.isdir(args.specs):
        print(f"hostile: no message specs at {args.specs}; skipped", flush=True)
        return EXIT_SKIP
    if not args.bootstrap and not os.path.exists(args.broker):
        print(f"hostile: no broker binary at {args.broker}", flush=True)
        return 2
    requests, responses = load_specs(args.specs)

    replay = None
    if args.replay:
        replay = load_sequence(args.replay)
        seed = replay["seed"]
    else:
        seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    print(f"hostile: seed {seed}" + (f", replaying {args.replay}" if replay else ""), flush=True)

    if args.minimise:
        if not replay or args.bootstrap:
            print("hostile: --minimise needs --replay FILE and a broker started here")
            return 2
        steps = minimise(args, requests, responses, replay)
        if steps is None:
            return 1
        out = re.sub(r"\.json(\.gz)?$", "", args.replay) + ".min.json.gz"
        with gzip.open(out, "wt") as f:
            json.dump(dict(replay, steps=[s.to_json() for s in steps], minimised=True), f)
        print("hostile: minimal sequence:")
        for st in steps:
            print(describe_step(st, limit=4096))
        print(f"hostile: written to {out}")
        return 0

    steps = None
    deadline = None
    if replay:
        steps = [Step.from_json(s) for s in replay["steps"]]
        if args.only_step is not None:
            steps = [s for s in steps if s.n == args.only_step]
    elif not args.steps:
        deadline = time.monotonic() + args.seconds
    started = time.monotonic()
    res = execute(args, requests, responses, seed, steps, deadline)
    sess = res.sess
    print(f"hostile: broker at {sess.host}:{sess.port}" + (f" pid {sess.pid}" if sess.pid else "")
          + f", {len(sess.h.advertised)} APIs advertised"
          + (f", descriptors after start-up {dict(sess.fd_base)}" if sess.fd_base else ""), flush=True)
    failure, fstep, count, history = res.failure, res.fstep, res.count, res.history
    if failure is None and args.strict and sess.runner.soft:
        f0 = sess.runner.soft[0]
        failure = Failure(f0.kind, f0.message, f0.conn, f0.action)
        fstep = next((s for s in history if s.n == f0.step), None)

    soft = soft_summary(sess.runner.soft)
    if args.stats or args.verbose:
        print_stats(sess.runner, sess.h.advertised)

    if failure is not None:
        report_failure(args, sess, seed, fstep, failure, history)
        if soft:
            print("hostile: also seen:\n" + "\n".join(soft))
        sess.close()
        print(f"hostile: {count} steps, {sess.runner.requests} requests, seed {seed}, 1 failures")
        return 1
    if soft:
        print("hostile: findings that are not failures (see --strict):\n" + "\n".join(soft))
    rc = sess.close()
    if sess.broker is not None and rc not in (0, None):
        print(f"hostile: FAILURE: the broker exited with status {rc} after SIGTERM\n{sess.broker.tail(20)}")
        print(f"hostile: {count} steps, {sess.runner.requests} requests, seed {seed}, 1 failures")
        return 1
    if sess.broker is not None:
        import shutil
        shutil.rmtree(sess.broker.dir, ignore_errors=True)
    print(f"hostile: {time.monotonic() - started:.0f} s, {sess.runner.responses} responses checked, "
          f"{len(sess.runner.soft)} soft findings")
    print(f"hostile: {count} steps, {sess.runner.requests} requests, seed {seed}, 0 failures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
