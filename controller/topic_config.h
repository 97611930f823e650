// Topic configs: the keys a topic may override (Kafka's names, types and
// ranges), their validation, what DescribeConfigs shows for a topic, and the
// storage::log_config a topic's partitions run with.
//
// The effective value of a key is the topic's override when it has one,
// otherwise the broker default: the broker key it derives from (retention.ms
// from log.retention.ms, segment.bytes from log.segment.bytes, ...) or, for
// keys without a broker counterpart here, Kafka's default. Overrides are
// stored normalised (check_topic_config's output), so the image holds one
// spelling of each value.
//
// Thread safety: pure functions over an immutable schema built once.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/broker_config.h"
#include "base/config.h"
#include "base/result.h"
#include "engine/log/log_config.h"

namespace ringlog::controller {

// DescribeConfigs' ConfigSource ids (v1+).
enum class config_source : int8_t {
  topic_config = 1,          // DYNAMIC_TOPIC_CONFIG: the topic overrides it
  static_broker_config = 4,  // the broker's config file sets the key it derives from
  default_config = 5,        // nobody set it
};

// DescribeConfigs' ConfigType ids (v3+).
enum class config_type : int8_t {
  boolean = 1,
  string = 2,
  int32 = 3,
  int64 = 5,
  float64 = 6,
  list = 7,
};

struct config_description {
  std::string name;
  std::string value;
  config_source source = config_source::default_config;
  config_type type = config_type::string;
  bool read_only = false;  // every topic key can be altered
  bool sensitive = false;  // no topic key holds a secret
  std::string_view documentation;
  bool operator==(const config_description&) const = default;
};

// Every topic key, sorted by name.
const config::schema& topic_config_schema();

// Whether APPEND/SUBTRACT (IncrementalAlterConfigs) apply: list keys only.
bool is_list_config(std::string_view key) noexcept;

// Checks one override. Ok: the value normalised (trimmed; integers in
// decimal; booleans "true"/"false"; list items trimmed and joined by ",").
// Error errc::invalid_config whose detail names the key: an unknown key
// (with the nearest known key when one is close), or a value of the wrong
// type, out of range or not allowed.
result<std::string> check_topic_config(std::string_view key, std::string_view value);

// Every topic key with its effective value and source, sorted by name.
std::vector<config_description> describe_topic_configs(
    const broker_config& broker, const std::map<std::string, std::string>& overrides);

// The effective value of one key (the override, else the broker default).
// Precondition: `key` is a topic key.
std::string effective_topic_config(const broker_config& broker,
                                   const std::map<std::string, std::string>& overrides,
                                   std::string_view key);

// The log settings of a topic's partitions. With no overrides, the broker's
// defaults: what log_manager_config::defaults should hold.
storage::log_config topic_log_config(const broker_config& broker,
                                     const std::map<std::string, std::string>& overrides);

}  // namespace ringlog::controller
