// The error codes of controller/: why a metadata change was refused (bad
// topic name, partition count, config, ...), why it could not be made durable,
// and what can be wrong with the metadata log found on disk. Each code maps to
// one Kafka error code through to_kafka_error (the protocol edge); the
// controller itself never speaks Kafka codes.
//
// To add a code: append it to the enum (values are never reused or renumbered)
// and give it a line in describe_code and to_kafka_error (errc.cc).
//
// Thread safety: constants and pure functions only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"

namespace ringlog::controller {

enum class errc {
  // CreateTopics of a name that exists. Kafka: TOPIC_ALREADY_EXISTS (36).
  topic_already_exists = 1,
  // A name that breaks Kafka's topic name rules or collides with an existing
  // topic once '.' and '_' are taken as equal. Kafka: INVALID_TOPIC_EXCEPTION (17).
  invalid_topic,
  // A partition count below 1, above our cap, or (CreatePartitions) not above
  // the current count. Kafka: INVALID_PARTITIONS (37).
  invalid_partitions,
  // A replication factor this cluster cannot place (anything but 1 on one
  // node). Kafka: INVALID_REPLICATION_FACTOR (38).
  invalid_replication_factor,
  // A manual assignment naming a broker that is not registered, a replica
  // twice, or partitions that are not 0..n-1. Kafka: INVALID_REPLICA_ASSIGNMENT (39).
  invalid_replica_assignment,
  // An unknown config key, a value of the wrong type or range, APPEND to a
  // non-list key. Kafka: INVALID_CONFIG (40).
  invalid_config,
  // A topic named in a request that does not exist. Kafka:
  // UNKNOWN_TOPIC_OR_PARTITION (3).
  unknown_topic_or_partition,
  // A topic id named in a request that does not exist. Kafka: UNKNOWN_TOPIC_ID (100).
  unknown_topic_id,
  // A request that is malformed as a whole: a name twice in one request, a
  // reserved internal topic, an unsupported resource. Kafka: INVALID_REQUEST (42).
  invalid_request,
  // The metadata log could not be written or synced, or a partition log could
  // not be created. Kafka: KAFKA_STORAGE_ERROR (56).
  storage_error,
  // A metadata record that does not decode: truncated, a bad length, bytes
  // after its body. Found at replay only (we wrote the log). Kafka:
  // UNKNOWN_SERVER_ERROR (-1), never sent in practice.
  corrupt_metadata_record,
  // A metadata record of a type or version this build does not implement: a
  // newer build wrote it. Replay refuses rather than drop it. Kafka: -1.
  unsupported_metadata_record,
  // A record that does not apply to the image before it: a partition of an
  // unknown topic, a topic created twice. Kafka: -1.
  inconsistent_metadata,
  // No producer id block is left below INT64_MAX. Kafka: -1 (its controller
  // answers UNKNOWN_SERVER_ERROR, "Exhausted all producerIds").
  producer_ids_exhausted,
};

const error_domain& domain_of(errc) noexcept;
std::string_view describe(errc code) noexcept;

// An error of this domain; `op` must have static storage ("create_topics").
ringlog::error make_error(errc code, std::string_view op, std::string detail);

// The Kafka error code (Errors.java, FORMATS.md §8) a client receives for `code`.
int16_t to_kafka_error(errc code) noexcept;

}  // namespace ringlog::controller
