// The records of the cluster metadata log (__cluster_metadata-0), in KRaft's
// framing, and their codecs. docs/formats/metadata_log.md describes the log.
//
// Each record is the value of one Kafka record (key null) in a RecordBatch v2:
//
//   uvarint frame_version (1) | uvarint record_type | uvarint record_version | body
//
// The body is the record's message in Kafka's flexible encoding (compact
// strings and arrays: uvarint length + 1; uuid: 16 bytes; fixed-width ints
// big-endian; a tagged-field section at the end of every struct). Field order
// and types follow Kafka's metadata schemas (kafka-protocol/metadata-records/).
//
// We write the lowest record version that carries what we need (table in
// metadata_log.md) and decode exactly the versions we write plus older ones
// of the same layout. A record type or version we do not implement is an
// error, never skipped: a newer build wrote it, and replaying without it would
// build a different image. Unknown tagged fields are skipped, as the flexible
// encoding intends (that is what tags are for).
//
// Thread safety: values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.h"
#include "controller/uuid.h"

namespace ringlog::controller {

// Kafka's MetadataRecordType ids (the apiKey of each metadata schema).
enum class metadata_record_type : int16_t {
  register_broker = 0,
  topic = 2,
  partition = 3,
  config = 4,
  remove_topic = 9,
  feature_level = 12,
  producer_ids = 15,
};

// The metadata.version we finalize: 3.3-IV3 (level 7), the first level at
// which a broker registration carries InControlledShutdown; its record
// versions are the ones we write (RegisterBrokerRecord v1, PartitionRecord v0).
// Later levels add JBOD directories (PartitionRecord v1, 3.7-IV2) and ZK
// migration (RegisterBrokerRecord v2, 3.4-IV0), which a single node lacks.
inline constexpr std::string_view k_metadata_version_feature = "metadata.version";
inline constexpr int16_t k_metadata_version_level = 7;

// Kafka's SecurityProtocol ids, for broker endpoints.
enum class security_protocol : int16_t {
  plaintext = 0,
  ssl = 1,
  sasl_plaintext = 2,
  sasl_ssl = 3,
};

struct broker_endpoint {
  std::string name;  // the listener name, e.g. PLAINTEXT
  std::string host;
  uint16_t port = 0;
  int16_t security_protocol = 0;
  bool operator==(const broker_endpoint&) const = default;
};

struct broker_feature {
  std::string name;
  int16_t min_supported = 0;
  int16_t max_supported = 0;
  bool operator==(const broker_feature&) const = default;
};

// RegisterBrokerRecord (type 0), written as v1.
struct register_broker_record {
  int32_t broker_id = -1;
  incarnation_id incarnation;
  int64_t broker_epoch = -1;
  std::vector<broker_endpoint> endpoints;
  std::vector<broker_feature> features;
  std::optional<std::string> rack;
  bool fenced = true;
  bool in_controlled_shutdown = false;  // v1+
  bool operator==(const register_broker_record&) const = default;
};

// TopicRecord (type 2), v0.
struct topic_record {
  std::string name;
  topic_id id;
  bool operator==(const topic_record&) const = default;
};

// PartitionRecord (type 3), v0. A record for an existing partition replaces it.
struct partition_record {
  int32_t partition_id = -1;
  topic_id topic;
  std::vector<int32_t> replicas;
  std::vector<int32_t> isr;
  std::vector<int32_t> removing_replicas;
  std::vector<int32_t> adding_replicas;
  int32_t leader = -1;
  // Tagged field 0: 1 after an unclean leader election, until recovered.
  int8_t leader_recovery_state = 0;
  int32_t leader_epoch = -1;
  int32_t partition_epoch = -1;
  bool operator==(const partition_record&) const = default;
};

// Kafka's ConfigResource.Type ids.
enum class config_resource_type : int8_t {
  topic = 2,
  broker = 4,
};

// ConfigRecord (type 4), v0. A null value deletes the key.
struct config_record {
  config_resource_type resource_type = config_resource_type::topic;
  std::string resource_name;  // topic name; broker id, or "" for the cluster default
  std::string name;
  std::optional<std::string> value;
  bool operator==(const config_record&) const = default;
};

// RemoveTopicRecord (type 9), v0: the topic, its partitions and its configs go.
struct remove_topic_record {
  topic_id id;
  bool operator==(const remove_topic_record&) const = default;
};

// FeatureLevelRecord (type 12), v0. Level 0 removes the feature.
struct feature_level_record {
  std::string name;
  int16_t feature_level = 0;
  bool operator==(const feature_level_record&) const = default;
};

// ProducerIdsRecord (type 15), v0: a block of producer ids was handed out.
// Every id below next_producer_id is taken, so none is given twice, across
// restarts too. broker_id and broker_epoch name the broker that asked (here:
// this node and its registration's epoch); replay does not check them.
struct producer_ids_record {
  int32_t broker_id = -1;
  int64_t broker_epoch = -1;
  int64_t next_producer_id = 0;  // the first id of the next block
  bool operator==(const producer_ids_record&) const = default;
};

using metadata_record =
    std::variant<register_broker_record, topic_record, partition_record, config_record,
                 remove_topic_record, feature_level_record, producer_ids_record>;

metadata_record_type type_of(const metadata_record& record) noexcept;
// Kafka's schema name: "TopicRecord", "PartitionRecord", ...
std::string_view name_of(metadata_record_type type) noexcept;
// The record version encode() writes for this type.
int16_t version_written(metadata_record_type type) noexcept;

// Appends the framed record (the Kafka record's value) to `out`.
void encode(const metadata_record& record, std::vector<std::byte>& out);
std::vector<std::byte> encode(const metadata_record& record);

// Decodes one framed record. Errors: errc::corrupt_metadata_record (a bad
// frame version, a length past the end, a malformed varint, bytes after the
// body) and errc::unsupported_metadata_record (a type or version we do not
// implement); the detail names the record type and version and the byte
// position within `value`, e.g. "PartitionRecord v0: truncated at byte 23".
result<metadata_record> decode(std::span<const std::byte> value);

}  // namespace ringlog::controller
