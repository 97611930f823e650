"""Admin APIs against ringlog-broker, through the admin clients users have:
kafka-python 2.0.2's KafkaAdminClient and confluent-kafka 1.7.0's AdminClient
(librdkafka 2.0.2) for CreatePartitions, DescribeConfigs and AlterConfigs.
Neither client sends DeleteRecords, DescribeCluster or
IncrementalAlterConfigs, so those go out as raw requests encoded by hand, and
their effects are checked through the clients' consumers."""
import glob
import os
import socket
import struct
import subprocess
import time

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource as CkConfigResource, ConfigSource
from confluent_kafka.admin import NewPartitions as CkNewPartitions, NewTopic as CkNewTopic
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import (InvalidPartitionsError, MessageSizeTooLargeError,
                          UnknownTopicOrPartitionError)
from kafka.protocol.admin import DescribeConfigsRequest_v0, DescribeConfigsResponse_v0
from kafka.protocol.api import Request, Response
from kafka.protocol.types import Array, Boolean, Int8, Int16, Int32, Int64, Schema, String

from conftest import unique_topic

# Kafka error codes the tests expect.
NONE = 0
OFFSET_OUT_OF_RANGE = 1
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_PARTITIONS = 37
INVALID_CONFIG = 40
INVALID_REQUEST = 42
POLICY_VIOLATION = 44
MISMATCHED_ENDPOINT_TYPE = 114
UNSUPPORTED_ENDPOINT_TYPE = 115

# DescribeConfigs ConfigSource ids.
TOPIC_CONFIG = 1
STATIC_BROKER_CONFIG = 4
DEFAULT_CONFIG = 5

# Every topic key Ringlog knows (controller/topic_config.cc).
TOPIC_KEYS = {
    "cleanup.policy", "compression.type", "delete.retention.ms", "file.delete.delay.ms",
    "flush.messages", "flush.ms", "index.interval.bytes", "max.compaction.lag.ms",
    "max.message.bytes", "message.timestamp.after.max.ms", "message.timestamp.before.max.ms",
    "message.timestamp.type", "min.cleanable.dirty.ratio", "min.compaction.lag.ms",
    "min.insync.replicas", "preallocate", "retention.bytes", "retention.ms", "segment.bytes",
    "segment.index.bytes", "segment.jitter.ms", "segment.ms", "unclean.leader.election.enable",
}


def kp_admin(broker):
    return KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10000)


def ck_admin(broker):
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def node_id(broker):
    md = ck_admin(broker).list_topics(timeout=10)
    assert len(md.brokers) == 1, f"one broker expected, got {md.brokers}"
    return next(iter(md.brokers))


def ck_source(entry):
    """A confluent ConfigEntry's source as its Kafka id (an int or a ConfigSource)."""
    return int(getattr(entry.source, "value", entry.source))


def create_topic(broker, topic, partitions=1, configs=None):
    a = kp_admin(broker)
    a.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1,
                              topic_configs=configs or {})])
    a.close()


def kp_describe_topic(broker, topic, names=None, synonyms=True):
    """{name: (value, read_only, source, is_sensitive, [(name, value, source)])} of one topic,
    through KafkaAdminClient (DescribeConfigs v2 against us)."""
    a = kp_admin(broker)
    [response] = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic, names)],
                                    include_synonyms=synonyms)
    a.close()
    [(error, message, _type, name, entries)] = response.resources
    assert (error, name) == (NONE, topic), f"describe {topic}: error {error} {message}"
    # v1+: the fourth field is config_source (kafka-python still calls it is_default).
    return {e[0]: (e[1], e[2], e[3], e[4], list(e[5])) for e in entries}


def produce(broker, topic, values, partition=None):
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5,
                             max_request_size=2 * 1024 * 1024)
    futures = [producer.send(topic, value=v, partition=partition) for v in values]
    producer.flush()
    offsets = [f.get(timeout=30) for f in futures]
    producer.close()
    return offsets


# ---------------------------------------------------------------------------
# Raw requests: kafka-python's struct encoders with a request header v1; the
# flexible versions (DescribeCluster) by hand.


class DeleteRecordsResponse_v0(Response):
    API_KEY = 21
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("topics", Array(
            ("name", String("utf-8")),
            ("partitions", Array(
                ("partition_index", Int32),
                ("low_watermark", Int64),
                ("error_code", Int16))))))


class DeleteRecordsRequest_v0(Request):
    API_KEY = 21
    API_VERSION = 0
    RESPONSE_TYPE = DeleteRecordsResponse_v0
    SCHEMA = Schema(
        ("topics", Array(
            ("name", String("utf-8")),
            ("partitions", Array(
                ("partition_index", Int32),
                ("offset", Int64))))),
        ("timeout_ms", Int32))


class DeleteRecordsResponse_v1(Response):
    API_KEY = 21
    API_VERSION = 1
    SCHEMA = DeleteRecordsResponse_v0.SCHEMA


class DeleteRecordsRequest_v1(Request):
    API_KEY = 21
    API_VERSION = 1
    RESPONSE_TYPE = DeleteRecordsResponse_v1
    SCHEMA = DeleteRecordsRequest_v0.SCHEMA


class DescribeConfigsResponse_v3(Response):
    API_KEY = 32
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("results", Array(
            ("error_code", Int16),
            ("error_message", String("utf-8")),
            ("resource_type", Int8),
            ("resource_name", String("utf-8")),
            ("configs", Array(
                ("name", String("utf-8")),
                ("value", String("utf-8")),
                ("read_only", Boolean),
                ("config_source", Int8),
                ("is_sensitive", Boolean),
                ("synonyms", Array(
                    ("name", String("utf-8")),
                    ("value", String("utf-8")),
                    ("source", Int8))),
                ("config_type", Int8),
                ("documentation", String("utf-8")))))))


class DescribeConfigsRequest_v3(Request):
    API_KEY = 32
    API_VERSION = 3
    RESPONSE_TYPE = DescribeConfigsResponse_v3
    SCHEMA = Schema(
        ("resources", Array(
            ("resource_type", Int8),
            ("resource_name", String("utf-8")),
            ("configuration_keys", Array(String("utf-8"))))),
        ("include_synonyms", Boolean),
        ("include_documentation", Boolean))


def exchange(broker, frame_body, timeout=10):
    """Sends one request frame and returns the body of its response frame
    (after the correlation id)."""
    s = socket.create_connection(("127.0.0.1", broker.port), timeout=timeout)
    try:
        s.sendall(struct.pack(">i", len(frame_body)) + frame_body)
        def read(n):
            data = b""
            while len(data) < n:
                chunk = s.recv(n - len(data))
                assert chunk, f"connection closed after {len(data)} of {n} bytes"
                data += chunk
            return data
        (size,) = struct.unpack(">i", read(4))
        reply = read(size)
    finally:
        s.close()
    (correlation_id,) = struct.unpack(">i", reply[:4])
    assert correlation_id == 99
    return reply[4:]


def header_v1(api_key, version, client_id=b"admin-test"):
    return struct.pack(">hhih", api_key, version, 99, len(client_id)) + client_id


def send_struct(broker, request):
    """A non-flexible request object of kafka-python's protocol module."""
    body = exchange(broker, header_v1(request.API_KEY, request.API_VERSION) + request.encode())
    return request.RESPONSE_TYPE.decode(body)


def delete_records(broker, topic_partitions, version=0):
    """{(topic, partition): offset} -> {(topic, partition): (error, low_watermark)}."""
    by_topic = {}
    for (topic, partition), offset in topic_partitions.items():
        by_topic.setdefault(topic, []).append((partition, offset))
    request_type = DeleteRecordsRequest_v0 if version == 0 else DeleteRecordsRequest_v1
    response = send_struct(broker, request_type(topics=list(by_topic.items()), timeout_ms=5000))
    out = {}
    for name, partitions in response.topics:
        for index, low_watermark, error in partitions:
            out[(name, index)] = (error, low_watermark)
    return out


def uvarint(n):
    out = b""
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return values[0] if len(values) == 1 else values

    def uvarint(self):
        shift = value = 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7

    def compact_string(self):
        n = self.uvarint()
        if n == 0:
            return None
        s = self.data[self.pos:self.pos + n - 1].decode()
        self.pos += n - 1
        return s

    def skip_tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.pos += self.uvarint()


def describe_cluster(broker, version, include_operations=False, endpoint_type=1):
    # Request header v2: header v1 and an empty tagged-field section.
    body = struct.pack(">?", include_operations)
    if version >= 1:
        body += struct.pack(">b", endpoint_type)
    body += uvarint(0)
    r = Reader(exchange(broker, header_v1(60, version) + uvarint(0) + body))
    r.skip_tags()  # response header v1
    out = {"throttle_time_ms": r.take(">i"), "error_code": r.take(">h"),
           "error_message": r.compact_string()}
    if version >= 1:
        out["endpoint_type"] = r.take(">b")
    out["cluster_id"] = r.compact_string()
    out["controller_id"] = r.take(">i")
    brokers = []
    for _ in range(r.uvarint() - 1):
        broker_id = r.take(">i")
        host = r.compact_string()
        port = r.take(">i")
        rack = r.compact_string()
        r.skip_tags()
        brokers.append((broker_id, host, port, rack))
    out["brokers"] = brokers
    out["cluster_authorized_operations"] = r.take(">i")
    r.skip_tags()
    assert r.pos == len(r.data), "bytes left after the DescribeCluster response"
    return out


def incremental_alter_configs(broker, resources, validate_only=False):
    """IncrementalAlterConfigs v0: [(type, name, [(key, op, value)])] -> [(error, message)]."""
    body = struct.pack(">i", len(resources))
    for rtype, name, ops in resources:
        body += struct.pack(">bh", rtype, len(name)) + name.encode()
        body += struct.pack(">i", len(ops))
        for key, op, value in ops:
            body += struct.pack(">h", len(key)) + key.encode() + struct.pack(">b", op)
            body += struct.pack(">h", -1) if value is None else \
                struct.pack(">h", len(value)) + value.encode()
    body += struct.pack(">?", validate_only)
    r = Reader(exchange(broker, header_v1(44, 0) + body))
    r.take(">i")  # throttle
    out = []
    for _ in range(r.take(">i")):
        error = r.take(">h")
        n = r.take(">h")
        message = None if n < 0 else r.data[r.pos:r.pos + n].decode()
        r.pos += max(n, 0)
        r.take(">b")  # resource type
        n = r.take(">h")
        r.pos += n
        out.append((error, message))
    return out


# ---------------------------------------------------------------------------
# CreatePartitions


def test_kafka_python_grows_a_topic_and_the_new_partition_takes_records(broker):
    topic = unique_topic("grow")
    create_topic(broker, topic, partitions=1)
    a = kp_admin(broker)
    response = a.create_partitions({topic: NewPartitions(4)}, validate_only=True)
    assert [tuple(e[:2]) for e in response.topic_errors] == [(topic, NONE)]
    assert len(a.describe_topics([topic])[0]["partitions"]) == 1, \
        "validate_only must not create partitions"

    response = a.create_partitions({topic: NewPartitions(4)})
    assert [tuple(e[:2]) for e in response.topic_errors] == [(topic, NONE)]
    assert len(a.describe_topics([topic])[0]["partitions"]) == 4

    [md] = produce(broker, topic, [b"on partition three"], partition=3)
    assert (md.partition, md.offset) == (3, 0)
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None,
                             auto_offset_reset="earliest", consumer_timeout_ms=2000)
    consumer.assign([TopicPartition(topic, 3)])
    got = []
    deadline = time.monotonic() + 20
    while not got and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=1000).values():
            got.extend(r.value for r in batch)
    consumer.close()
    assert got == [b"on partition three"]

    with pytest.raises(InvalidPartitionsError):
        a.create_partitions({topic: NewPartitions(2)})
    with pytest.raises(InvalidPartitionsError):
        a.create_partitions({topic: NewPartitions(4)})
    with pytest.raises(InvalidPartitionsError):
        a.create_partitions({topic: NewPartitions(-1)})
    with pytest.raises(UnknownTopicOrPartitionError):
        a.create_partitions({unique_topic("missing"): NewPartitions(2)})
    assert len(a.describe_topics([topic])[0]["partitions"]) == 4
    a.close()


def test_create_partitions_errors_carry_messages_and_duplicates_are_invalid_request(broker):
    from kafka.protocol.admin import CreatePartitionsRequest_v1
    topic = unique_topic("cpdup")
    create_topic(broker, topic, partitions=2)
    response = send_struct(broker, CreatePartitionsRequest_v1(
        topic_partitions=[(topic, (3, None)), (topic, (5, None))], timeout=5000,
        validate_only=False))
    assert [(t, e) for t, e, _ in response.topic_errors] == \
        [(topic, INVALID_REQUEST), (topic, INVALID_REQUEST)]
    response = send_struct(broker, CreatePartitionsRequest_v1(
        topic_partitions=[(topic, (1, None))], timeout=5000, validate_only=False))
    [(name, error, message)] = response.topic_errors
    assert error == INVALID_PARTITIONS and "2" in message and "1" in message, message


def test_confluent_create_partitions(broker):
    topic = unique_topic("ckgrow")
    a = ck_admin(broker)
    a.create_topics([CkNewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(30)
    a.create_partitions([CkNewPartitions(topic, 5)])[topic].result(30)
    assert len(a.list_topics(topic, timeout=10).topics[topic].partitions) == 5
    with pytest.raises(KafkaException) as shrink:
        a.create_partitions([CkNewPartitions(topic, 3)])[topic].result(30)
    assert shrink.value.args[0].code() == KafkaError.INVALID_PARTITIONS


# ---------------------------------------------------------------------------
# DescribeConfigs


def test_kafka_python_describes_a_topic_override_and_the_defaults(broker):
    topic = unique_topic("descr")
    create_topic(broker, topic, configs={"retention.ms": "3600000"})
    configs = kp_describe_topic(broker, topic)
    assert set(configs) == TOPIC_KEYS
    value, read_only, source, sensitive, synonyms = configs["retention.ms"]
    assert (value, read_only, source, sensitive) == ("3600000", False, TOPIC_CONFIG, False)
    # The override, then the broker key it overrides (conftest leaves it at its default).
    assert synonyms == [("retention.ms", "3600000", TOPIC_CONFIG),
                        ("log.retention.ms", "604800000", DEFAULT_CONFIG)]
    assert configs["segment.bytes"][:3] == ("1073741824", False, DEFAULT_CONFIG)
    assert configs["segment.bytes"][4] == [("log.segment.bytes", "1073741824", DEFAULT_CONFIG)]
    assert configs["cleanup.policy"][:3] == ("delete", False, DEFAULT_CONFIG)
    # A key without a broker counterpart here has no synonym.
    assert configs["compression.type"][2:] == (DEFAULT_CONFIG, False, [])
    # The first synonym of a key the topic does not override is where its value
    # comes from: the pairs of topic and broker keys agree.
    for name, (value, _, source, _, syns) in configs.items():
        if syns:
            assert (syns[0][1], syns[0][2]) == (value, source), f"{name}: {syns}"

    only = kp_describe_topic(broker, topic, names={"retention.ms": None, "no.such.key": None},
                             synonyms=False)
    assert list(only) == ["retention.ms"] and only["retention.ms"][4] == []


def test_describe_configs_v0_reports_is_default(broker):
    topic = unique_topic("descr0")
    create_topic(broker, topic, configs={"retention.ms": "3600000"})
    response = send_struct(broker, DescribeConfigsRequest_v0(resources=[(2, topic, None)]))
    assert isinstance(response, DescribeConfigsResponse_v0)
    [(error, _, _, name, entries)] = response.resources
    assert (error, name) == (NONE, topic)
    by_name = {e[0]: e for e in entries}
    assert by_name["retention.ms"][1:] == ("3600000", False, False, False)
    assert by_name["segment.bytes"][1:] == ("1073741824", False, True, False)


def test_describe_configs_v3_types_and_documentation(broker):
    topic = unique_topic("descr3")
    create_topic(broker, topic)
    node = str(node_id(broker))
    keys = ["retention.ms", "cleanup.policy", "preallocate", "min.cleanable.dirty.ratio",
            "segment.bytes"]
    for documented in (False, True):
        response = send_struct(broker, DescribeConfigsRequest_v3(
            resources=[(2, topic, keys), (4, node, ["log.dirs", "num.partitions"])],
            include_synonyms=False, include_documentation=documented))
        [topic_result, broker_result] = response.results
        assert topic_result[0] == NONE and broker_result[0] == NONE
        types = {c[0]: c[6] for c in topic_result[4]}
        # ConfigType ids: BOOLEAN 1, STRING 2, INT 3, LONG 5, DOUBLE 6, LIST 7.
        assert types == {"retention.ms": 5, "cleanup.policy": 7, "preallocate": 1,
                         "min.cleanable.dirty.ratio": 6, "segment.bytes": 3}
        assert {c[0]: c[6] for c in broker_result[4]} == {"log.dirs": 7, "num.partitions": 3}
        docs = [c[7] for c in topic_result[4] + broker_result[4]]
        if documented:
            assert all(docs), docs
        else:
            assert docs == [None] * len(docs), "documentation only when asked"


def test_describe_configs_of_bad_resources(broker):
    missing = unique_topic("nosuch")
    response = send_struct(broker, DescribeConfigsRequest_v0(resources=[
        (2, missing, None), (4, "77", None), (4, "one", None), (8, "1", None), (4, "", None)]))
    got = [(r[0], r[2], r[3], len(r[4])) for r in response.resources]
    assert got == [(UNKNOWN_TOPIC_OR_PARTITION, 2, missing, 0), (INVALID_REQUEST, 4, "77", 0),
                   (INVALID_REQUEST, 4, "one", 0), (INVALID_REQUEST, 8, "1", 0),
                   # "" is the cluster-wide dynamic default; this broker has none.
                   (NONE, 4, "", 0)]
    assert all(r[1] for r in response.resources[:4]), "every error has a message"

    a = ck_admin(broker)
    with pytest.raises(KafkaException) as err:
        a.describe_configs([CkConfigResource("topic", missing)])[
            CkConfigResource("topic", missing)].result(30)
    assert err.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_kafka_python_describes_the_broker(broker):
    node = node_id(broker)
    a = kp_admin(broker)
    [response] = a.describe_configs([ConfigResource(ConfigResourceType.BROKER, str(node))],
                                    include_synonyms=True)
    a.close()
    [(error, _, rtype, name, entries)] = response.resources
    assert (error, rtype, name) == (NONE, 4, str(node))
    configs = {e[0]: (e[1], e[2], e[3], list(e[5])) for e in entries}
    assert all(read_only for _, read_only, _, _ in configs.values()), \
        "broker keys change only through the config file"
    # conftest sets ringlog.shards=2 (default 0) and the listener; the rest are defaults.
    assert configs["ringlog.shards"] == ("2", True, STATIC_BROKER_CONFIG,
                                         [("ringlog.shards", "2", STATIC_BROKER_CONFIG),
                                          ("ringlog.shards", "0", DEFAULT_CONFIG)])
    assert configs["listeners"][0] == "PLAINTEXT://127.0.0.1:0"
    assert configs["listeners"][2] == STATIC_BROKER_CONFIG
    assert configs["log.segment.bytes"] == ("1073741824", True, DEFAULT_CONFIG,
                                            [("log.segment.bytes", "1073741824",
                                              DEFAULT_CONFIG)])
    assert configs["node.id"][0] == str(node)


def test_confluent_describes_topic_and_broker(broker):
    topic = unique_topic("ckdescr")
    a = ck_admin(broker)
    a.create_topics([CkNewTopic(topic, num_partitions=1, replication_factor=1,
                                config={"segment.ms": "3600000"})])[topic].result(30)
    resource = CkConfigResource("topic", topic)
    configs = a.describe_configs([resource])[resource].result(30)
    assert set(configs) == TOPIC_KEYS
    assert configs["segment.ms"].value == "3600000"
    assert ck_source(configs["segment.ms"]) == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert not configs["segment.ms"].is_default
    assert ck_source(configs["retention.ms"]) == ConfigSource.DEFAULT_CONFIG.value
    assert configs["retention.ms"].value == "604800000"

    node = node_id(broker)
    resource = CkConfigResource("broker", str(node))
    configs = a.describe_configs([resource])[resource].result(30)
    assert configs["ringlog.shards"].value == "2"
    assert ck_source(configs["ringlog.shards"]) == ConfigSource.STATIC_BROKER_CONFIG.value
    assert configs["ringlog.shards"].is_read_only


# ---------------------------------------------------------------------------
# AlterConfigs and IncrementalAlterConfigs


def test_kafka_python_alter_configs_replaces_the_overrides(broker):
    topic = unique_topic("alter")
    create_topic(broker, topic, configs={"retention.ms": "3600000"})
    a = kp_admin(broker)
    response = a.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                               {"segment.bytes": "2097152",
                                                "cleanup.policy": "compact,delete"})])
    assert [(r[0], r[2], r[3]) for r in response.resources] == [(NONE, 2, topic)]
    a.close()
    configs = kp_describe_topic(broker, topic)
    assert configs["segment.bytes"][:3] == ("2097152", False, TOPIC_CONFIG)
    assert configs["cleanup.policy"][:3] == ("compact,delete", False, TOPIC_CONFIG)
    # AlterConfigs sets the whole set: retention.ms, left out, is back to the default.
    assert configs["retention.ms"][:3] == ("604800000", False, DEFAULT_CONFIG)


def test_alter_configs_bad_input_is_reported_per_resource(broker):
    topic = unique_topic("alterbad")
    create_topic(broker, topic)
    a = kp_admin(broker)
    response = a.alter_configs([
        ConfigResource(ConfigResourceType.TOPIC, topic, {"retention.msx": "1"}),
        ConfigResource(ConfigResourceType.TOPIC, unique_topic("gone"), {"retention.ms": "1"}),
        ConfigResource(ConfigResourceType.BROKER, "1", {"log.retention.ms": "1"}),
    ])
    a.close()
    errors = [(r[0], r[1]) for r in response.resources]
    assert errors[0][0] == INVALID_CONFIG and "retention.msx" in errors[0][1], errors[0]
    assert errors[1][0] == UNKNOWN_TOPIC_OR_PARTITION, errors[1]
    assert errors[2][0] == INVALID_REQUEST and "Dynamic broker configs" in errors[2][1], errors[2]
    assert kp_describe_topic(broker, topic)["retention.ms"][2] == DEFAULT_CONFIG


def test_confluent_alter_configs(broker):
    topic = unique_topic("ckalter")
    a = ck_admin(broker)
    a.create_topics([CkNewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    resource = CkConfigResource("topic", topic, set_config={"retention.bytes": "123456789"})
    a.alter_configs([resource], validate_only=True)[resource].result(30)
    assert kp_describe_topic(broker, topic)["retention.bytes"][2] == DEFAULT_CONFIG
    a.alter_configs([resource])[resource].result(30)
    described = a.describe_configs([CkConfigResource("topic", topic)])
    configs = list(described.values())[0].result(30)
    assert configs["retention.bytes"].value == "123456789"
    assert ck_source(configs["retention.bytes"]) == ConfigSource.DYNAMIC_TOPIC_CONFIG.value

    bad = CkConfigResource("topic", topic, set_config={"retention.bytes": "lots"})
    with pytest.raises(KafkaException) as err:
        a.alter_configs([bad])[bad].result(30)
    assert err.value.args[0].code() == KafkaError.INVALID_CONFIG
    unknown = CkConfigResource("topic", topic, set_config={"no.such.key": "1"})
    with pytest.raises(KafkaException) as err:
        a.alter_configs([unknown])[unknown].result(30)
    assert err.value.args[0].code() == KafkaError.INVALID_CONFIG
    assert "no.such.key" in err.value.args[0].str()


def test_incremental_alter_configs_set_delete_append_subtract(broker):
    topic = unique_topic("incr")
    create_topic(broker, topic, configs={"retention.ms": "3600000"})
    SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
    assert incremental_alter_configs(broker, [(2, topic, [("segment.ms", SET, "7200000")])],
                                     validate_only=True) == [(NONE, None)]
    assert kp_describe_topic(broker, topic)["segment.ms"][2] == DEFAULT_CONFIG
    assert incremental_alter_configs(broker, [(2, topic, [
        ("segment.ms", SET, "7200000"), ("cleanup.policy", APPEND, "compact")])]) == [(NONE, None)]
    configs = kp_describe_topic(broker, topic)
    # Incremental: retention.ms, not named, keeps its override.
    assert configs["retention.ms"][:3] == ("3600000", False, TOPIC_CONFIG)
    assert configs["segment.ms"][:3] == ("7200000", False, TOPIC_CONFIG)
    assert configs["cleanup.policy"][:3] == ("delete,compact", False, TOPIC_CONFIG)
    assert incremental_alter_configs(broker, [(2, topic, [
        ("retention.ms", DELETE, None), ("cleanup.policy", SUBTRACT, "delete")])]) == [(NONE, None)]
    configs = kp_describe_topic(broker, topic)
    assert configs["retention.ms"][:3] == ("604800000", False, DEFAULT_CONFIG)
    assert configs["cleanup.policy"][0] == "compact"

    [bad_key, missing_topic, broker_resource] = incremental_alter_configs(broker, [
        (2, topic, [("segment.msx", SET, "1")]),
        (2, unique_topic("other"), [("segment.ms", SET, "1")]),
        (4, "1", [("log.retention.ms", SET, "1")])])
    assert bad_key[0] == INVALID_CONFIG and "segment.msx" in bad_key[1]
    assert missing_topic[0] == UNKNOWN_TOPIC_OR_PARTITION
    assert broker_resource[0] == INVALID_REQUEST and "Dynamic broker configs" in broker_resource[1]
    [bad_op] = incremental_alter_configs(broker, [(2, topic, [("segment.ms", 9, "1")])])
    assert bad_op[0] == INVALID_REQUEST
    [twice] = incremental_alter_configs(broker, [(2, topic, [("segment.ms", SET, "1"),
                                                             ("segment.ms", DELETE, None)])])
    assert twice[0] == INVALID_REQUEST
    [append_to_scalar] = incremental_alter_configs(
        broker, [(2, topic, [("segment.ms", APPEND, "1")])])
    assert append_to_scalar[0] == INVALID_CONFIG and "LIST" in append_to_scalar[1]


def test_altered_configs_take_effect_on_the_live_log(fresh_broker):
    # A retention pass every 200 ms, so an altered retention.bytes shows at once.
    fresh_broker.extra = ["log.retention.check.interval.ms=200"]
    broker = fresh_broker.start()
    topic = unique_topic("effect")
    create_topic(broker, topic, configs={"segment.bytes": "1048576"})
    value = b"x" * (100 * 1024)
    produce(broker, topic, [value] * 40)  # 4 MiB: at least 4 segments of 1 MiB
    partition_dir = os.path.join(broker.data_dir, "data", f"{topic}-0")
    segments = sorted(glob.glob(os.path.join(partition_dir, "*.log")))
    assert len(segments) >= 4, f"segment.bytes=1 MiB should have rolled: {segments}"

    a = kp_admin(broker)
    response = a.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                               {"segment.bytes": "1048576",
                                                "retention.bytes": "1048576",
                                                "max.message.bytes": "10000"})])
    a.close()
    assert response.resources[0][0] == NONE, response

    # retention.bytes: the oldest segments go in the next retention pass.
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None)
    tp = TopicPartition(topic, 0)
    deadline = time.monotonic() + 15
    while consumer.beginning_offsets([tp])[tp] == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    start = consumer.beginning_offsets([tp])[tp]
    consumer.close()
    assert start > 0, "retention.bytes did not delete any segment"
    remaining = glob.glob(os.path.join(partition_dir, "*.log"))
    assert len(remaining) < len(segments), (segments, remaining)

    # max.message.bytes: from the next append on.
    with pytest.raises(MessageSizeTooLargeError):
        produce(broker, topic, [b"y" * 20000])
    produce(broker, topic, [b"small"])


# ---------------------------------------------------------------------------
# DeleteRecords


def test_delete_records_moves_the_log_start(broker):
    topic = unique_topic("delrec")
    create_topic(broker, topic, partitions=2)
    produce(broker, topic, [f"v{i}".encode() for i in range(100)], partition=0)
    produce(broker, topic, [f"w{i}".encode() for i in range(10)], partition=1)

    result = delete_records(broker, {(topic, 0): 40, (topic, 1): -1})
    assert result == {(topic, 0): (NONE, 40), (topic, 1): (NONE, 10)}
    # Below the current start changes nothing; v1 has the same layout.
    assert delete_records(broker, {(topic, 0): 20}, version=1) == {(topic, 0): (NONE, 40)}

    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None,
                             auto_offset_reset="earliest", consumer_timeout_ms=2000)
    tp = TopicPartition(topic, 0)
    assert consumer.beginning_offsets([tp])[tp] == 40
    assert consumer.end_offsets([tp])[tp] == 100
    # A fetch below the start is OFFSET_OUT_OF_RANGE: the consumer resets to
    # the earliest offset, which is now 40.
    consumer.assign([tp])
    consumer.seek(tp, 10)
    got = []
    deadline = time.monotonic() + 20
    while len(got) < 60 and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=1000).values():
            got.extend(batch)
    consumer.close()
    assert [r.offset for r in got] == list(range(40, 100))
    assert got[0].value == b"v40"


def test_delete_records_errors(broker):
    topic = unique_topic("delbad")
    create_topic(broker, topic)
    compacted = unique_topic("delcompact")
    create_topic(broker, compacted, configs={"cleanup.policy": "compact"})
    produce(broker, topic, [b"a", b"b", b"c"])
    missing = unique_topic("delmissing")
    result = delete_records(broker, {(topic, 0): 4, (topic, 7): 1, (missing, 0): 1,
                                     (compacted, 0): -1})
    assert result == {(topic, 0): (OFFSET_OUT_OF_RANGE, -1),
                      (topic, 7): (UNKNOWN_TOPIC_OR_PARTITION, -1),
                      (missing, 0): (UNKNOWN_TOPIC_OR_PARTITION, -1),
                      (compacted, 0): (POLICY_VIOLATION, -1)}
    assert delete_records(broker, {(topic, 0): -7}) == {(topic, 0): (OFFSET_OUT_OF_RANGE, -1)}
    # Up to the high watermark exactly is allowed: every record goes.
    assert delete_records(broker, {(topic, 0): 3}) == {(topic, 0): (NONE, 3)}


# ---------------------------------------------------------------------------
# DescribeCluster and kcat


def test_describe_cluster_names_this_node(broker):
    node = node_id(broker)
    cluster_id = ck_admin(broker).list_topics(timeout=10).cluster_id
    for version in (0, 1):
        d = describe_cluster(broker, version)
        assert d["error_code"] == NONE and d["error_message"] is None
        assert d["cluster_id"] == cluster_id and d["controller_id"] == node
        assert d["brokers"] == [(node, "127.0.0.1", broker.port, None)]
        assert d["cluster_authorized_operations"] == -2**31, "not asked for"
        if version == 1:
            assert d["endpoint_type"] == 1
    d = describe_cluster(broker, 1, include_operations=True)
    assert d["cluster_authorized_operations"] == sum(1 << op for op in (5, 7, 8, 9, 10, 11, 12))
    assert describe_cluster(broker, 1, endpoint_type=2)["error_code"] == MISMATCHED_ENDPOINT_TYPE
    assert describe_cluster(broker, 1, endpoint_type=9)["error_code"] == UNSUPPORTED_ENDPOINT_TYPE


def test_kcat_still_lists_metadata(broker):
    r = subprocess.run(["kcat", "-b", broker.bootstrap, "-L"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    assert f"broker {node_id(broker)} at {broker.bootstrap}" in r.stdout.decode()
