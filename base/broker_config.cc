// The broker key table, and broker_config built from it. One table binds each
// key to its broker_config member, so filling the struct and rendering it back
// cannot disagree with the schema. docs/config.md mirrors the table (checked by
// tests/unit/base/config_test.cc).
#include "base/broker_config.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <charconv>
#include <limits>
#include <variant>

#include "base/assert.h"

namespace ringlog {
namespace {

using config::errc;
using config::key_spec;
using config::key_type;

constexpr int64_t int32_max = std::numeric_limits<int32_t>::max();
constexpr int64_t int64_max = std::numeric_limits<int64_t>::max();
// Kafka stores replication factors as int16.
constexpr int64_t int16_max = std::numeric_limits<int16_t>::max();

constexpr std::string_view process_roles_allowed[] = {"broker", "controller"};
constexpr std::string_view cleanup_policy_allowed[] = {"delete", "compact"};
// The levels an operator picks; log.h also knows critical and off, which are
// not useful as a broker's threshold.
constexpr std::string_view log_levels_allowed[] = {"trace", "debug", "info", "warn", "error"};
// Indexed by log_level, for rendering.
constexpr std::string_view log_level_names[] = {"trace", "debug",    "info", "warn",
                                                "error", "critical", "off"};

bool is_power_of_two(const config::value& v) {
  int64_t n = std::get<int64_t>(v);
  return n > 0 && (n & (n - 1)) == 0;
}

// The member a key fills; monostate for alias keys, which fold into another
// key's member.
using member = std::variant<std::monostate, int32_t broker_config::*, int64_t broker_config::*,
                            bool broker_config::*, std::vector<std::string> broker_config::*,
                            log_level broker_config::*>;

struct binding {
  key_spec spec;
  member field;
};

// The schema, in the order docs/config.md lists it. Defaults are Kafka's
// unless the doc says otherwise.
const std::vector<binding>& bindings() {
  static const std::vector<binding> table = {
      {{.name = "node.id",
        .type = key_type::int32,
        .default_text = "1",
        .min = 0,
        .doc = "The id of this node in the cluster. Kafka has no default (it must be set); "
               "Ringlog defaults to 1 so a single node starts without a config file."},
       &broker_config::node_id},
      {{.name = "process.roles",
        .type = key_type::list,
        .default_text = "broker,controller",
        .allowed = process_roles_allowed,
        .doc = "The roles this node plays: broker, controller, or both (combined mode, the "
               "single-node default). Must not be empty or name a role twice."},
       &broker_config::process_roles},
      {{.name = "listeners",
        .type = key_type::list,
        .default_text = "PLAINTEXT://127.0.0.1:9092",
        .doc = "Addresses to accept connections on, each NAME://host:port. An empty host "
               "listens on all interfaces; an IPv6 host is bracketed ([::1]); port 0 picks a "
               "free port. Names must be unique; so must non-zero ports (except one IPv4 and "
               "one IPv6 listener sharing a port)."},
       &broker_config::listeners},
      {{.name = "advertised.listeners",
        .type = key_type::list,
        .default_text = "",
        .doc = "Addresses given to clients in metadata, each NAME://host:port with a NAME "
               "from listeners and a non-zero port. Empty: the same as listeners."},
       &broker_config::advertised_listeners},
      {{.name = "log.dirs",
        .type = key_type::list,
        .default_text = "./ringlog-data",
        .doc = "Directories holding partition data. Must not be empty or name a directory "
               "twice. Kafka's default is /tmp/kafka-logs (through log.dir, which Ringlog "
               "does not have)."},
       &broker_config::log_dirs},
      {{.name = "num.partitions",
        .type = key_type::int32,
        .default_text = "1",
        .min = 1,
        .doc = "Partitions of an auto-created topic, and of a created topic that does not say."},
       &broker_config::num_partitions},
      {{.name = "default.replication.factor",
        .type = key_type::int32,
        .default_text = "1",
        .min = 1,
        .max = int16_max,
        .doc = "Replication factor of an auto-created topic, and of a created topic that does "
               "not say (an int16 on the wire)."},
       &broker_config::default_replication_factor},
      {{.name = "auto.create.topics.enable",
        .type = key_type::boolean,
        .default_text = "true",
        .doc = "Create a topic when a client asks for metadata of, or produces to, a topic "
               "that does not exist."},
       &broker_config::auto_create_topics_enable},
      {{.name = "log.segment.bytes",
        .type = key_type::int32,
        .default_text = "1073741824",
        .min = 14,
        .doc = "Size at which a partition's active segment is closed and a new one started. "
               "The minimum 14 is Kafka's (the smallest legacy record)."},
       &broker_config::log_segment_bytes},
      {{.name = "log.roll.ms",
        .type = key_type::int64,
        .default_text = "604800000",
        .min = 1,
        .doc = "Age at which the active segment is closed even if not full. Takes precedence "
               "over log.roll.hours; the default is 168 hours."},
       &broker_config::log_roll_ms},
      {{.name = "log.roll.hours",
        .type = key_type::int32,
        .min = 1,
        .doc = "log.roll.ms in hours, used when log.roll.ms is not set."},
       std::monostate{}},
      {{.name = "log.retention.ms",
        .type = key_type::int64,
        .default_text = "604800000",
        .min = -1,
        .doc = "Age after which closed segments are deleted; -1 keeps them forever. Takes "
               "precedence over log.retention.minutes and log.retention.hours; the default is "
               "168 hours."},
       &broker_config::log_retention_ms},
      {{.name = "log.retention.minutes",
        .type = key_type::int32,
        .min = -1,
        .doc = "log.retention.ms in minutes, used when log.retention.ms is not set; -1 keeps "
               "segments forever."},
       std::monostate{}},
      {{.name = "log.retention.hours",
        .type = key_type::int32,
        .min = -1,
        .doc = "log.retention.ms in hours, used when neither log.retention.ms nor "
               "log.retention.minutes is set; -1 keeps segments forever."},
       std::monostate{}},
      {{.name = "log.retention.bytes",
        .type = key_type::int64,
        .default_text = "-1",
        .min = -1,
        .doc = "Size a partition may grow to before its oldest segments are deleted; -1 is no "
               "limit."},
       &broker_config::log_retention_bytes},
      {{.name = "log.retention.check.interval.ms",
        .type = key_type::int64,
        .default_text = "300000",
        .min = 1,
        .doc = "How often segments are checked against the retention limits."},
       &broker_config::log_retention_check_interval_ms},
      {{.name = "log.index.size.max.bytes",
        .type = key_type::int32,
        .default_text = "10485760",
        .min = 4,
        .doc = "Largest size of a segment's offset and time indexes; a full index closes "
               "the segment."},
       &broker_config::log_index_size_max_bytes},
      {{.name = "log.index.interval.bytes",
        .type = key_type::int32,
        .default_text = "4096",
        .min = 0,
        .doc = "Bytes of records between two offset index entries."},
       &broker_config::log_index_interval_bytes},
      {{.name = "log.flush.interval.messages",
        .type = key_type::int64,
        .default_text = "9223372036854775807",
        .min = 1,
        .doc = "With log.flush.interval.ms set (not -1): fsync a partition after this many "
               "messages."},
       &broker_config::log_flush_interval_messages},
      {{.name = "log.flush.interval.ms",
        .type = key_type::int64,
        .default_text = "-1",
        .min = -1,
        .doc = "-1 (the default): fsync every batch before acknowledging it, so an "
               "acknowledged write survives power loss. 0 or more: Kafka's behaviour, fsync "
               "at most this long after a write (or after log.flush.interval.messages) and "
               "rely on replication. Kafka's default leaves flushing to the OS."},
       &broker_config::log_flush_interval_ms},
      {{.name = "log.segment.delete.delay.ms",
        .type = key_type::int64,
        .default_text = "60000",
        .min = 0,
        .doc = "Delay between a segment leaving the log and its files being deleted, so "
               "in-flight reads finish."},
       &broker_config::log_segment_delete_delay_ms},
      {{.name = "log.cleanup.policy",
        .type = key_type::list,
        .default_text = "delete",
        .allowed = cleanup_policy_allowed,
        .doc = "Default cleanup of a topic's old segments: delete (by retention), compact "
               "(keep the last record of each key), or both."},
       &broker_config::log_cleanup_policy},
      {{.name = "log.cleaner.dedupe.buffer.size",
        .type = key_type::int64,
        .default_text = "134217728",
        .min = 1048576,
        .doc = "Memory for the compaction key map. The 1 MiB minimum is Ringlog's own, so "
               "the cleaner always has room for a useful map."},
       &broker_config::log_cleaner_dedupe_buffer_size},
      {{.name = "log.cleaner.backoff.ms",
        .type = key_type::int64,
        .default_text = "15000",
        .min = 0,
        .doc = "How long a shard's log cleaner sleeps when no compacted log needs cleaning."},
       &broker_config::log_cleaner_backoff_ms},
      {{.name = "log.cleaner.io.max.bytes.per.second",
        .type = key_type::int64,
        .default_text = "9223372036854775807",
        .min = 1,
        .doc = "Reads and writes of each shard's log cleaner, in bytes per second; the default "
               "is no limit. Lower it so compaction never competes with producers for the disk. "
               "An integer (Kafka's is a double)."},
       &broker_config::log_cleaner_io_max_bytes_per_second},
      {{.name = "message.max.bytes",
        .type = key_type::int32,
        .default_text = "1048588",
        .min = 0,
        .doc = "Largest record batch the broker accepts (after compression)."},
       &broker_config::message_max_bytes},
      {{.name = "socket.request.max.bytes",
        .type = key_type::int32,
        .default_text = "104857600",
        .min = 1,
        .doc = "Largest request the broker reads; a larger size prefix closes the connection."},
       &broker_config::socket_request_max_bytes},
      {{.name = "queued.max.request.bytes",
        .type = key_type::int64,
        .default_text = "536870912",
        .min = -1,
        .doc = "Bytes of requests the broker holds in memory at once, over all connections "
               "(each shard gets an equal share; bytes count as they arrive); past it, "
               "connections start no new request until responses are sent. -1: no bound "
               "(Kafka's default; ours is 512 MiB)."},
       &broker_config::queued_max_request_bytes},
      {{.name = "connections.max.idle.ms",
        .type = key_type::int64,
        .default_text = "600000",
        .min = -1,
        .doc = "Idle time after which a client connection is closed; -1 never closes one."},
       &broker_config::connections_max_idle_ms},
      {{.name = "offsets.topic.num.partitions",
        .type = key_type::int32,
        .default_text = "50",
        .min = 1,
        .doc = "Partitions of the __consumer_offsets topic, fixed when it is created."},
       &broker_config::offsets_topic_num_partitions},
      {{.name = "group.initial.rebalance.delay.ms",
        .type = key_type::int32,
        .default_text = "3000",
        .min = 0,
        .doc = "How long an empty consumer group waits for more members before its first "
               "rebalance."},
       &broker_config::group_initial_rebalance_delay_ms},
      {{.name = "group.min.session.timeout.ms",
        .type = key_type::int32,
        .default_text = "6000",
        .min = 0,
        .doc = "Shortest session timeout a consumer may ask for; a shorter one gets "
               "INVALID_SESSION_TIMEOUT."},
       &broker_config::group_min_session_timeout_ms},
      {{.name = "group.max.session.timeout.ms",
        .type = key_type::int32,
        .default_text = "1800000",
        .min = 0,
        .doc = "Longest session timeout a consumer may ask for; a longer one gets "
               "INVALID_SESSION_TIMEOUT."},
       &broker_config::group_max_session_timeout_ms},
      {{.name = "group.max.size",
        .type = key_type::int32,
        .default_text = "2147483647",
        .min = 1,
        .doc = "Members one consumer group may have; a join beyond it gets "
               "GROUP_MAX_SIZE_REACHED."},
       &broker_config::group_max_size},
      {{.name = "offsets.retention.minutes",
        .type = key_type::int32,
        .default_text = "10080",
        .min = 1,
        .doc = "How long the committed offsets of a group stay after the group became empty "
               "(or, for a group that only commits, after the commit)."},
       &broker_config::offsets_retention_minutes},
      {{.name = "offsets.retention.check.interval.ms",
        .type = key_type::int64,
        .default_text = "600000",
        .min = 1,
        .doc = "How often expired committed offsets are looked for."},
       &broker_config::offsets_retention_check_interval_ms},
      {{.name = "offset.metadata.max.bytes",
        .type = key_type::int32,
        .default_text = "4096",
        .min = 0,
        .doc = "Largest metadata string of a committed offset; a larger one gets "
               "OFFSET_METADATA_TOO_LARGE."},
       &broker_config::offset_metadata_max_bytes},
      {{.name = "ringlog.shards",
        .type = key_type::int32,
        .default_text = "0",
        .min = 0,
        .max = 256,
        .doc = "Shards (one thread and io_uring each); 0 runs one per available core.",
        .kafka_name = false},
       &broker_config::ringlog_shards},
      {{.name = "ringlog.shards.pin",
        .type = key_type::boolean,
        .default_text = "false",
        .doc = "Pin shard i to the i-th allowed core. Off by default: on shared or virtual "
               "hosts a pinned shard waits whenever another process holds its core (see "
               "BENCHMARKS.md); on a dedicated host, pinning avoids migrations.",
        .kafka_name = false},
       &broker_config::ringlog_shards_pin},
      {{.name = "ringlog.log.level",
        .type = key_type::string,
        .default_text = "info",
        .allowed = log_levels_allowed,
        .doc = "Lowest level of log lines written to stderr.",
        .kafka_name = false},
       &broker_config::ringlog_log_level},
      {{.name = "ringlog.io_uring.entries",
        .type = key_type::int32,
        .default_text = "4096",
        .min = 64,
        .max = 32768,
        .check = &is_power_of_two,
        .check_text = "a power of two",
        .doc = "Submission queue entries of each shard's io_uring (the kernel caps it at "
               "32768).",
        .kafka_name = false},
       &broker_config::ringlog_io_uring_entries},
      {{.name = "ringlog.flush.syncfs.min.files",
        .type = key_type::int32,
        .default_text = "16",
        .min = 0,
        .doc = "A flush round with at least this many files to sync on one filesystem makes "
               "them durable with one syncfs instead of one fdatasync each (many partitions: "
               "one journal commit and cache flush, not one per file). It also writes back "
               "other dirty files of that filesystem; 0 never uses syncfs.",
        .kafka_name = false},
       &broker_config::ringlog_flush_syncfs_min_files},
  };
  return table;
}

std::vector<key_spec> specs_of(const std::vector<binding>& table) {
  std::vector<key_spec> out;
  out.reserve(table.size());
  for (const binding& b : table) out.push_back(b.spec);
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append(items[i]);
  }
  return out;
}

bool is_listener_name_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

bool is_host_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

bool is_ipv6_char(char c) noexcept {
  // Hex digits, ':' and '.' (embedded IPv4), and '%' with a zone name (fe80::1%eth0).
  return is_host_char(c) || c == ':' || c == '%';
}

// Kafka's precedence for a key with unit aliases: the ms key if set, then the
// minutes key, then the hours key, then the ms key's default. The alias keys
// have no default, so "set" means set in the file or by an override.
int64_t resolve_time_ms(const config::config_values& values, std::string_view ms_key,
                        std::optional<std::string_view> minutes_key, std::string_view hours_key) {
  constexpr int64_t ms_per_minute = 60 * 1000;
  constexpr int64_t ms_per_hour = 60 * ms_per_minute;
  // An int32 count of hours times ms_per_hour stays far inside int64.
  static_assert(int32_max * ms_per_hour < int64_max / 2);
  if (values.is_set(ms_key)) return values.get_int(ms_key);
  if (minutes_key && values.is_set(*minutes_key)) {
    return values.get_int(*minutes_key) * ms_per_minute;
  }
  if (values.is_set(hours_key)) return values.get_int(hours_key) * ms_per_hour;
  return values.get_int(ms_key);
}

const std::string_view listener_form =
    "NAME://host:port with NAME of letters, digits and '_', host empty, a name, an IPv4 address "
    "or a bracketed IPv6 address, and port in [0, 65535]";

// Cross-key rules on the listener lists; adds a problem per bad item.
void check_listeners(const config::config_values& values, broker_config& out,
                     config::error_list& problems) {
  std::vector<listener> parsed;
  const std::string& origin = values.origin("listeners");
  if (out.listeners.empty()) {
    problems.add(errc::missing_value, fmt::format("listeners: \"\" is empty (from {}); expected "
                                                  "at least one {}",
                                                  origin, listener_form));
  }
  for (const std::string& text : out.listeners) {
    auto l = parse_listener(text);
    if (!l) {
      problems.add(errc::bad_value, fmt::format("listeners: {} (from {}); expected {}",
                                                l.error().detail(), origin, listener_form));
      continue;
    }
    for (const listener& other : parsed) {
      if (other.name == l->name) {
        problems.add(errc::bad_value,
                     fmt::format("listeners: {} repeats the listener name {} (from {}); "
                                 "expected each listener to have its own name",
                                 config::quote(text), l->name, origin));
      }
      // Two listeners on one port fail to bind, unless one is IPv4 and the
      // other IPv6 (Kafka allows that pair since KIP-797).
      bool one_ipv6 =
          (other.host.find(':') != std::string::npos) != (l->host.find(':') != std::string::npos);
      if (l->port != 0 && other.port == l->port && !one_ipv6) {
        problems.add(errc::bad_value,
                     fmt::format("listeners: {} repeats port {} (from {}); expected each "
                                 "listener to have its own port",
                                 config::quote(text), l->port, origin));
      }
    }
    parsed.push_back(std::move(l).value());
  }

  if (out.advertised_listeners.empty()) {
    out.advertised_listeners = out.listeners;
    return;
  }
  const std::string& advertised_origin = values.origin("advertised.listeners");
  for (const std::string& text : out.advertised_listeners) {
    auto l = parse_listener(text);
    if (!l) {
      problems.add(errc::bad_value,
                   fmt::format("advertised.listeners: {} (from {}); expected {}",
                               l.error().detail(), advertised_origin, listener_form));
      continue;
    }
    if (l->port == 0) {
      problems.add(errc::bad_value,
                   fmt::format("advertised.listeners: {} has port 0, which clients cannot "
                               "connect to (from {}); expected a port in [1, 65535]",
                               config::quote(text), advertised_origin));
    }
    bool known = std::any_of(parsed.begin(), parsed.end(),
                             [&](const listener& p) { return p.name == l->name; });
    // Only judge names when listeners itself parsed, to report one root cause.
    if (!known && parsed.size() == out.listeners.size()) {
      problems.add(errc::bad_value,
                   fmt::format("advertised.listeners: {} names listener {}, which is not in "
                               "listeners (from {}); expected a name from listeners",
                               config::quote(text), l->name, advertised_origin));
    }
  }
}

// A non-empty list without repeats; adds a problem otherwise.
void check_unique_nonempty(const config::config_values& values, std::string_view key,
                           const std::vector<std::string>& items, config::error_list& problems) {
  if (items.empty()) {
    problems.add(errc::missing_value,
                 fmt::format("{}: \"\" is empty (from {}); expected at least one item", key,
                             values.origin(key)));
    return;
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (items[i] == items[j]) {
        problems.add(errc::bad_value,
                     fmt::format("{}: {} appears twice (from {}); expected distinct items", key,
                                 config::quote(items[i]), values.origin(key)));
        break;
      }
    }
  }
}

}  // namespace

const config::schema& broker_schema() {
  static const config::schema keys(specs_of(bindings()));
  return keys;
}

result<broker_config> make_broker_config(const config::properties& props) {
  auto resolved = config::resolve(broker_schema(), props);
  if (!resolved) return std::move(resolved).error();
  const config::config_values& values = *resolved;

  broker_config out;
  for (const binding& b : bindings()) {
    std::string_view key = b.spec.name;
    std::visit(
        [&](auto field) {
          using field_type = decltype(field);
          if constexpr (std::is_same_v<field_type, int32_t broker_config::*>) {
            // The schema's int32 range check makes the narrowing exact.
            out.*field = static_cast<int32_t>(values.get_int(key));
          } else if constexpr (std::is_same_v<field_type, int64_t broker_config::*>) {
            out.*field = values.get_int(key);
          } else if constexpr (std::is_same_v<field_type, bool broker_config::*>) {
            out.*field = values.get_bool(key);
          } else if constexpr (std::is_same_v<field_type,
                                              std::vector<std::string> broker_config::*>) {
            out.*field = values.get_list(key);
          } else if constexpr (std::is_same_v<field_type, log_level broker_config::*>) {
            bool known = parse_log_level(values.get_string(key), out.*field);
            RINGLOG_ASSERT(known, "{}: allowed value {} is not a log level", key,
                           values.get_string(key));
          }
        },
        b.field);
  }

  out.log_retention_ms =
      resolve_time_ms(values, "log.retention.ms", "log.retention.minutes", "log.retention.hours");
  // Kafka treats any negative retention as unlimited; keep one spelling.
  if (out.log_retention_ms < 0) out.log_retention_ms = -1;
  out.log_roll_ms = resolve_time_ms(values, "log.roll.ms", std::nullopt, "log.roll.hours");
  RINGLOG_ASSERT(out.log_roll_ms >= 1, "log.roll.ms resolved to {}", out.log_roll_ms);

  config::error_list problems;
  check_listeners(values, out, problems);
  check_unique_nonempty(values, "log.dirs", out.log_dirs, problems);
  check_unique_nonempty(values, "process.roles", out.process_roles, problems);
  if (auto st = problems.to_status(); !st) return std::move(st).error();
  return out;
}

result<broker_config> load_broker_config(const std::optional<std::string>& path,
                                         std::span<const std::string> overrides) {
  config::properties props;
  if (path) {
    auto loaded = config::load_properties_file(*path);
    if (!loaded) return std::move(loaded).error();
    props = std::move(loaded).value();
  }
  if (auto st = config::apply_overrides(props, overrides); !st) return std::move(st).error();
  return make_broker_config(props);
}

std::string render_broker_config(const broker_config& config) {
  std::vector<const binding*> sorted;
  for (const binding& b : bindings()) {
    if (!std::holds_alternative<std::monostate>(b.field)) sorted.push_back(&b);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const binding* a, const binding* b) { return a->spec.name < b->spec.name; });

  std::string out;
  for (const binding* b : sorted) {
    std::string text = std::visit(
        [&](auto field) -> std::string {
          using field_type = decltype(field);
          if constexpr (std::is_same_v<field_type, std::monostate>) {
            return {};
          } else if constexpr (std::is_same_v<field_type, bool broker_config::*>) {
            return config.*field ? "true" : "false";
          } else if constexpr (std::is_same_v<field_type,
                                              std::vector<std::string> broker_config::*>) {
            return join(config.*field);
          } else if constexpr (std::is_same_v<field_type, log_level broker_config::*>) {
            auto level = static_cast<std::size_t>(config.*field);
            RINGLOG_ASSERT(level < std::size(log_level_names), "log level {} out of range", level);
            return std::string(log_level_names[level]);
          } else {
            return fmt::format("{}", config.*field);
          }
        },
        b->field);
    out.append(config::to_properties_line(b->spec.name, text));
  }
  return out;
}

result<listener> parse_listener(std::string_view text) {
  auto fail = [&](std::string_view problem) -> error {
    return error(config::domain_of(errc::bad_value), static_cast<int>(errc::bad_value), "config",
                 fmt::format("{} {}", config::quote(text), problem));
  };
  std::size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return fail("has no \"://\"");
  listener out;
  std::string_view name = text.substr(0, scheme_end);
  if (name.empty()) return fail("has no listener name before \"://\"");
  if (!std::all_of(name.begin(), name.end(), is_listener_name_char)) {
    return fail("has a listener name with a character other than a letter, digit or '_'");
  }
  out.name = std::string(name);

  std::string_view rest = text.substr(scheme_end + 3);
  std::string_view host;
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    std::size_t close = rest.find(']');
    if (close == std::string_view::npos) return fail("has a '[' without a ']'");
    host = rest.substr(1, close - 1);
    if (host.empty() || !std::all_of(host.begin(), host.end(), is_ipv6_char) ||
        host.find(':') == std::string_view::npos) {
      return fail("has a bracketed host that is not an IPv6 address");
    }
    rest.remove_prefix(close + 1);
    if (rest.empty() || rest.front() != ':') return fail("has no ':port' after the ']'");
    port_text = rest.substr(1);
  } else {
    std::size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return fail("has no ':port'");
    host = rest.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      return fail("has an IPv6 host without brackets (write [::1])");
    }
    if (!std::all_of(host.begin(), host.end(), is_host_char)) {
      return fail("has a host with a character other than a letter, digit, '.', '-' or '_'");
    }
    port_text = rest.substr(colon + 1);
  }
  out.host = std::string(host);

  if (port_text.empty() || !std::all_of(port_text.begin(), port_text.end(),
                                        [](char c) { return c >= '0' && c <= '9'; })) {
    return fail("has a port that is not a number");
  }
  uint64_t port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || port > 65535) {
    return fail(fmt::format("has port {}, outside [0, 65535]", port_text));
  }
  out.port = static_cast<uint16_t>(port);
  return out;
}

command_line_outcome load_broker_command_line(int argc, char** argv, std::string_view tool,
                                              std::string_view usage, std::string_view version) {
  std::optional<std::string> config_path;
  std::vector<std::string> overrides;
  bool print_config = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      fmt::print("{}", usage);
      return {std::nullopt, 0};
    } else if (arg == "--version") {
      fmt::print("{} {}\n", tool, version);
      return {std::nullopt, 0};
    } else if (arg == "--override") {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{}: --override needs KEY=VALUE\n", tool);
        return {std::nullopt, 2};
      }
      overrides.emplace_back(argv[++i]);
    } else if (arg.rfind("--override=", 0) == 0) {
      overrides.push_back(arg.substr(11));
    } else if (arg == "--print-config") {
      print_config = true;
    } else if (!arg.empty() && arg[0] != '-' && !config_path) {
      config_path = arg;
    } else {
      fmt::print(stderr, "{}: unexpected argument \"{}\" (see --help)\n", tool, arg);
      return {std::nullopt, 2};
    }
  }
  auto config = load_broker_config(config_path, overrides);
  if (!config) {
    // Config errors are self-describing lines, one per problem.
    fmt::print(stderr, "{}: bad configuration:\n{}\n", tool, config.error().detail());
    return {std::nullopt, 2};
  }
  if (print_config) {
    fmt::print("{}", render_broker_config(*config));
    return {std::nullopt, 0};
  }
  return {std::move(*config), 0};
}

}  // namespace ringlog
