#include "controller/errc.h"

namespace ringlog::controller {
namespace {

std::string_view describe_code(int code) noexcept {
  switch (static_cast<errc>(code)) {
    case errc::topic_already_exists:
      return "topic already exists";
    case errc::invalid_topic:
      return "invalid topic";
    case errc::invalid_partitions:
      return "invalid partitions";
    case errc::invalid_replication_factor:
      return "invalid replication factor";
    case errc::invalid_replica_assignment:
      return "invalid replica assignment";
    case errc::invalid_config:
      return "invalid config";
    case errc::unknown_topic_or_partition:
      return "unknown topic or partition";
    case errc::unknown_topic_id:
      return "unknown topic id";
    case errc::invalid_request:
      return "invalid request";
    case errc::storage_error:
      return "storage error";
    case errc::corrupt_metadata_record:
      return "corrupt metadata record";
    case errc::unsupported_metadata_record:
      return "unsupported metadata record";
    case errc::inconsistent_metadata:
      return "inconsistent metadata";
    case errc::producer_ids_exhausted:
      return "producer ids exhausted";
  }
  return "unknown controller error";
}

const error_domain k_domain{"controller", &describe_code};

}  // namespace

const error_domain& domain_of(errc) noexcept { return k_domain; }

std::string_view describe(errc code) noexcept { return describe_code(static_cast<int>(code)); }

ringlog::error make_error(errc code, std::string_view op, std::string detail) {
  return ringlog::error(k_domain, static_cast<int>(code), op, std::move(detail));
}

int16_t to_kafka_error(errc code) noexcept {
  // Numbers from Kafka's Errors.java (FORMATS.md §8).
  switch (code) {
    case errc::topic_already_exists:
      return 36;  // TOPIC_ALREADY_EXISTS
    case errc::invalid_topic:
      return 17;  // INVALID_TOPIC_EXCEPTION
    case errc::invalid_partitions:
      return 37;  // INVALID_PARTITIONS
    case errc::invalid_replication_factor:
      return 38;  // INVALID_REPLICATION_FACTOR
    case errc::invalid_replica_assignment:
      return 39;  // INVALID_REPLICA_ASSIGNMENT
    case errc::invalid_config:
      return 40;  // INVALID_CONFIG
    case errc::unknown_topic_or_partition:
      return 3;  // UNKNOWN_TOPIC_OR_PARTITION
    case errc::unknown_topic_id:
      return 100;  // UNKNOWN_TOPIC_ID
    case errc::invalid_request:
      return 42;  // INVALID_REQUEST
    case errc::storage_error:
      return 56;  // KAFKA_STORAGE_ERROR
    case errc::corrupt_metadata_record:
    case errc::unsupported_metadata_record:
    case errc::inconsistent_metadata:
      return -1;  // UNKNOWN_SERVER_ERROR: replay problems, never a client's answer
    case errc::producer_ids_exhausted:
      return -1;  // UNKNOWN_SERVER_ERROR, as Kafka
  }
  return -1;
}

}  // namespace ringlog::controller
