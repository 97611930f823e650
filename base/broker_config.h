// The broker's configuration: its key schema (Kafka key names and defaults,
// plus Ringlog-only `ringlog.*` keys) and the typed `broker_config` the rest of
// the broker reads. docs/config.md documents every key; a unit test keeps the
// two in step.
//
// Loaded once by main() before the runtime starts; afterwards broker_config is
// a plain value, copied to whoever needs it (shards read their own copy).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/config.h"
#include "base/log.h"
#include "base/result.h"

namespace ringlog {

// Every member is named after its key with '.' -> '_'. Time keys resolve
// Kafka's aliases: log_retention_ms and log_roll_ms hold the effective value
// whichever of the ms / minutes / hours keys set it.
struct broker_config {
  int32_t node_id = 0;
  std::vector<std::string> process_roles;
  std::vector<std::string> listeners;
  // Never empty after loading: when the key is empty, a copy of listeners.
  std::vector<std::string> advertised_listeners;
  std::vector<std::string> log_dirs;
  int32_t num_partitions = 0;
  int32_t default_replication_factor = 0;
  bool auto_create_topics_enable = false;
  int32_t log_segment_bytes = 0;
  int64_t log_roll_ms = 0;
  int64_t log_retention_ms = 0;     // -1: no time limit
  int64_t log_retention_bytes = 0;  // -1: no size limit
  int64_t log_retention_check_interval_ms = 0;
  int32_t log_index_size_max_bytes = 0;
  int32_t log_index_interval_bytes = 0;
  int64_t log_flush_interval_messages = 0;
  int64_t log_flush_interval_ms = 0;  // -1: fsync every batch before acknowledging it
  int64_t log_segment_delete_delay_ms = 0;
  int32_t message_max_bytes = 0;
  int32_t socket_request_max_bytes = 0;
  int64_t connections_max_idle_ms = 0;  // -1: never close idle connections
  int64_t queued_max_request_bytes = 0;  // -1: no bound on requests in memory
  int32_t offsets_topic_num_partitions = 0;
  int32_t group_initial_rebalance_delay_ms = 0;
  int32_t group_min_session_timeout_ms = 0;
  int32_t group_max_session_timeout_ms = 0;
  int32_t group_max_size = 0;
  int32_t offsets_retention_minutes = 0;
  int64_t offsets_retention_check_interval_ms = 0;
  int32_t offset_metadata_max_bytes = 0;
  int64_t log_cleaner_dedupe_buffer_size = 0;
  int64_t log_cleaner_backoff_ms = 0;
  int64_t log_cleaner_io_max_bytes_per_second = 0;
  std::vector<std::string> log_cleanup_policy;
  int32_t ringlog_shards = 0;  // 0: one shard per available core (the runtime decides)
  bool ringlog_shards_pin = false;
  log_level ringlog_log_level = log_level::info;
  int32_t ringlog_io_uring_entries = 0;
  int32_t ringlog_flush_syncfs_min_files = 0;

  bool operator==(const broker_config&) const = default;
};

// The schema of every broker key, including the alias keys
// (log.retention.hours, log.retention.minutes, log.roll.hours). Built once.
const config::schema& broker_schema();

// Builds a broker_config from parsed properties (file and overrides already
// merged): checks every key, resolves aliases, then the cross-key rules
// (listeners parse, listener names and ports are unique, advertised listener
// names appear in listeners, log.dirs is non-empty without duplicates,
// process.roles is non-empty without duplicates).
result<broker_config> make_broker_config(const config::properties& props);

// Reads `path` (when given), applies `overrides` ("KEY=VALUE" each, in order)
// on top, and builds the config. Without a path every key takes its default
// unless overridden.
result<broker_config> load_broker_config(const std::optional<std::string>& path,
                                         std::span<const std::string> overrides);

// The effective config as `key=value` lines sorted by key, one per primary key
// (alias keys are folded into the ms keys), escaped so that reading the text
// back with parse_properties gives the same broker_config. For the start-up log
// and `--print-config`.
std::string render_broker_config(const broker_config& config);

// The command line every tool that runs with the broker's config shares:
//   TOOL [CONFIG_FILE] [--override KEY=VALUE]... [--print-config] [--help] [--version]
// Loads the config, or handles the argument itself and says how to exit:
// --help, --version and --print-config print to stdout (exit 0); a bad
// argument or config prints why to stderr, prefixed with `tool` (exit 2).
struct command_line_outcome {
  std::optional<broker_config> config;  // set: go on running
  int exit_code = 0;                    // otherwise: exit with this
};
command_line_outcome load_broker_command_line(int argc, char** argv, std::string_view tool,
                                              std::string_view usage, std::string_view version);

// One listener, `NAME://host:port`.
struct listener {
  std::string name;  // e.g. PLAINTEXT
  std::string host;  // empty: all interfaces; an IPv6 address without brackets
  uint16_t port = 0;

  bool operator==(const listener&) const = default;
};

// Parses `NAME://host:port`: NAME is letters, digits and '_'; host is empty,
// a host name or IPv4 address, or a bracketed IPv6 address ("[::1]"); port is
// decimal in [0, 65535]. On failure a bad_value error whose detail starts with
// the quoted text and says what is wrong with it.
result<listener> parse_listener(std::string_view text);

}  // namespace ringlog
