// The topic key table. Types, ranges and allowed values are Kafka's
// (LogConfig/TopicConfig); the one deliberate difference is flush.ms, which
// also takes -1 because Ringlog's default (log.flush.interval.ms = -1) is
// "fsync every batch before acknowledging it" and a topic must be able to say
// so explicitly.
#include "controller/topic_config.h"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <limits>

#include "base/assert.h"
#include "base/log.h"
#include "controller/errc.h"

namespace ringlog::controller {
namespace {

using config::key_spec;
using config::key_type;

constexpr std::string_view cleanup_policies[] = {"compact", "delete"};
constexpr std::string_view compression_types[] = {"uncompressed", "zstd", "lz4",
                                                  "snappy",       "gzip", "producer"};
constexpr std::string_view timestamp_types[] = {"CreateTime", "LogAppendTime"};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append(items[i]);
  }
  return out;
}

struct topic_key {
  key_spec spec;
  // The broker's value of the key this one derives from, as config text;
  // nullptr when the broker has no such key and Kafka's default applies.
  std::string (*from_broker)(const broker_config&) = nullptr;
};

// Sorted by name: DescribeConfigs lists keys in this order. Defaults of keys
// derived from a broker key are that key's default in base/broker_config.cc,
// so "the broker sets it" can be told from "nobody set it".
const std::vector<topic_key>& table() {
  static const std::vector<topic_key> keys = {
      {{.name = "cleanup.policy",
        .type = key_type::list,
        .default_text = "delete",
        .allowed = cleanup_policies,
        .doc = "delete: drop old segments by retention; compact: keep the latest record of each "
               "key; both may be given."},
       +[](const broker_config& b) { return join(b.log_cleanup_policy); }},
      {{.name = "compression.type",
        .type = key_type::string,
        .default_text = "producer",
        .allowed = compression_types,
        .doc = "Codec of stored batches; producer keeps what the producer sent."}},
      {{.name = "delete.retention.ms",
        .type = key_type::int64,
        .default_text = "86400000",
        .min = 0,
        .doc = "How long tombstones are kept in a compacted topic."}},
      {{.name = "file.delete.delay.ms",
        .type = key_type::int64,
        .default_text = "60000",
        .min = 0,
        .doc = "Delay before a deleted segment's files are removed."},
       +[](const broker_config& b) { return fmt::format("{}", b.log_segment_delete_delay_ms); }},
      {{.name = "flush.messages",
        .type = key_type::int64,
        .default_text = "9223372036854775807",
        .min = 1,
        .doc = "With flush.ms set: fsync after this many messages."},
       +[](const broker_config& b) { return fmt::format("{}", b.log_flush_interval_messages); }},
      {{.name = "flush.ms",
        .type = key_type::int64,
        .default_text = "-1",
        .min = -1,
        .doc = "-1: fsync every batch before acknowledging it (Ringlog's default). 0 or more: "
               "acknowledge once written and fsync at most this long after."},
       +[](const broker_config& b) { return fmt::format("{}", b.log_flush_interval_ms); }},
      {{.name = "index.interval.bytes",
        .type = key_type::int32,
        .default_text = "4096",
        .min = 0,
        .doc = "Bytes of records between two offset index entries."},
       +[](const broker_config& b) { return fmt::format("{}", b.log_index_interval_bytes); }},
      {{.name = "max.compaction.lag.ms",
        .type = key_type::int64,
        .default_text = "9223372036854775807",
        .min = 1,
        .doc = "Longest time a record stays uncompacted."}},
      {{.name = "max.message.bytes",
        .type = key_type::int32,
        .default_text = "1048588",
        .min = 0,
        .doc = "Largest record batch accepted (after compression)."},
       +[](const broker_config& b) { return fmt::format("{}", b.message_max_bytes); }},
      {{.name = "message.timestamp.after.max.ms",
        .type = key_type::int64,
        .default_text = "9223372036854775807",
        .min = 0,
        .doc = "How far in the future a CreateTime timestamp may be."}},
      {{.name = "message.timestamp.before.max.ms",
        .type = key_type::int64,
        .default_text = "9223372036854775807",
        .min = 0,
        .doc = "How far in the past a CreateTime timestamp may be."}},
      {{.name = "message.timestamp.type",
        .type = key_type::string,
        .default_text = "CreateTime",
        .allowed = timestamp_types,
        .doc = "CreateTime keeps the producer's timestamps; LogAppendTime stamps the broker's."}},
      {{.name = "min.cleanable.dirty.ratio",
        .type = key_type::float64,
        .default_text = "0.5",
        .min_double = 0,
        .max_double = 1,
        .doc = "Share of a compacted log that must be uncompacted before the cleaner runs."}},
      {{.name = "min.compaction.lag.ms",
        .type = key_type::int64,
        .default_text = "0",
        .min = 0,
        .doc = "Shortest time a record stays uncompacted."}},
      {{.name = "min.insync.replicas",
        .type = key_type::int32,
        .default_text = "1",
        .min = 1,
        .doc = "Replicas that must hold an acks=all write."}},
      {{.name = "preallocate",
        .type = key_type::boolean,
        .default_text = "false",
        .doc = "Preallocate a new segment's file whole (Ringlog grows it in small steps)."}},
      {{.name = "retention.bytes",
        .type = key_type::int64,
        .default_text = "-1",
        .doc = "Size a partition may reach before its oldest segments go; negative: no limit."},
       +[](const broker_config& b) { return fmt::format("{}", b.log_retention_bytes); }},
      {{.name = "retention.ms",
        .type = key_type::int64,
        .default_text = "604800000",
        .min = -1,
        .doc = "Age after which old segments go; -1: no limit."},
       +[](const broker_config& b) { return fmt::format("{}", b.log_retention_ms); }},
      {{.name = "segment.bytes",
        .type = key_type::int32,
        .default_text = "1073741824",
        .min = 14,
        .doc = "Size at which the active segment rolls (from the next segment on when altered)."},
       +[](const broker_config& b) { return fmt::format("{}", b.log_segment_bytes); }},
      {{.name = "segment.index.bytes",
        .type = key_type::int32,
        .default_text = "10485760",
        .min = 4,
        .doc = "Largest size of a segment's offset and time indexes."},
       +[](const broker_config& b) { return fmt::format("{}", b.log_index_size_max_bytes); }},
      {{.name = "segment.jitter.ms",
        .type = key_type::int64,
        .default_text = "0",
        .min = 0,
        .doc = "Random time subtracted from segment.ms, so segments do not roll together."}},
      {{.name = "segment.ms",
        .type = key_type::int64,
        .default_text = "604800000",
        .min = 1,
        .doc = "Age at which the active segment rolls even if not full."},
       +[](const broker_config& b) { return fmt::format("{}", b.log_roll_ms); }},
      {{.name = "unclean.leader.election.enable",
        .type = key_type::boolean,
        .default_text = "false",
        .doc = "Allow a replica outside the ISR to become leader (and lose data)."}},
  };
  return keys;
}

const topic_key* find_key(std::string_view name) {
  const auto& keys = table();
  auto it =
      std::lower_bound(keys.begin(), keys.end(), name,
                       [](const topic_key& k, std::string_view n) { return k.spec.name < n; });
  return it != keys.end() && it->spec.name == name ? &*it : nullptr;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// One spelling per value, so the image and DescribeConfigs agree whatever
// the client sent.
std::string normalise(const key_spec& spec, const config::value& v, std::string_view text) {
  switch (spec.type) {
    case key_type::int32:
    case key_type::int64:
      return fmt::format("{}", std::get<int64_t>(v));
    case key_type::boolean:
      return std::get<bool>(v) ? "true" : "false";
    case key_type::list:
      return join(std::get<std::vector<std::string>>(v));
    case key_type::string:
      return std::get<std::string>(v);
    case key_type::float64:
      // Java renders doubles its own way (1.0E-5); the trimmed text the
      // client sent is what Kafka keeps too.
      return std::string(trim(text));
  }
  return std::string(text);
}

std::string default_of(const topic_key& k, const broker_config& broker) {
  return k.from_broker != nullptr ? k.from_broker(broker) : std::string(*k.spec.default_text);
}

config_type type_of(key_type t) noexcept {
  switch (t) {
    case key_type::int32:
      return config_type::int32;
    case key_type::int64:
      return config_type::int64;
    case key_type::boolean:
      return config_type::boolean;
    case key_type::string:
      return config_type::string;
    case key_type::list:
      return config_type::list;
    case key_type::float64:
      return config_type::float64;
  }
  return config_type::string;
}

}  // namespace

const config::schema& topic_config_schema() {
  static const config::schema schema = [] {
    std::vector<key_spec> specs;
    for (const auto& k : table()) specs.push_back(k.spec);
    return config::schema(std::move(specs));
  }();
  return schema;
}

bool is_list_config(std::string_view key) noexcept {
  const topic_key* k = find_key(key);
  return k != nullptr && k->spec.type == key_type::list;
}

result<std::string> check_topic_config(std::string_view key, std::string_view value) {
  const topic_key* k = find_key(key);
  if (k == nullptr) {
    std::string message = fmt::format("Unknown topic config name: {}", key);
    if (auto near = topic_config_schema().suggest(key)) {
      message += fmt::format(" (did you mean {}?)", *near);
    }
    return make_error(errc::invalid_config, "topic_config", std::move(message));
  }
  auto parsed = config::parse_value(k->spec, value, "the request");
  if (!parsed) return make_error(errc::invalid_config, "topic_config", parsed.error().detail());
  return normalise(k->spec, *parsed, value);
}

std::string effective_topic_config(const broker_config& broker,
                                   const std::map<std::string, std::string>& overrides,
                                   std::string_view key) {
  const topic_key* k = find_key(key);
  RINGLOG_ASSERT(k != nullptr, "{} is not a topic config", key);
  auto it = overrides.find(std::string(key));
  return it != overrides.end() ? it->second : default_of(*k, broker);
}

std::vector<config_description> describe_topic_configs(
    const broker_config& broker, const std::map<std::string, std::string>& overrides) {
  std::vector<config_description> out;
  out.reserve(table().size());
  for (const topic_key& k : table()) {
    config_description d;
    d.name = std::string(k.spec.name);
    d.type = type_of(k.spec.type);
    d.documentation = k.spec.doc;
    if (auto it = overrides.find(d.name); it != overrides.end()) {
      d.value = it->second;
      d.source = config_source::topic_config;
    } else {
      d.value = default_of(k, broker);
      // A broker value other than the default was configured: Kafka reports
      // STATIC_BROKER_CONFIG for it. (One set to exactly the default reads as
      // DEFAULT_CONFIG: broker_config does not remember which keys were set.)
      d.source = k.from_broker != nullptr && d.value != *k.spec.default_text
                     ? config_source::static_broker_config
                     : config_source::default_config;
    }
    out.push_back(std::move(d));
  }
  return out;
}

storage::log_config topic_log_config(const broker_config& broker,
                                     const std::map<std::string, std::string>& overrides) {
  auto number = [&](std::string_view key) -> int64_t {
    const std::string text = effective_topic_config(broker, overrides, key);
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc() && end == text.data() + text.size()) return v;
    // Overrides are checked before they are written; one that does not parse
    // came from a build with other rules. The broker default still applies.
    const std::string fallback = default_of(*find_key(key), broker);
    RINGLOG_WARN("topic config {}={} is not a number; using {}", key, text, fallback);
    auto [fend, fec] = std::from_chars(fallback.data(), fallback.data() + fallback.size(), v);
    RINGLOG_ASSERT(fec == std::errc() && fend == fallback.data() + fallback.size(),
                   "broker default of {} is {}", key, fallback);
    return v;
  };
  storage::log_config c;
  c.segment_bytes = number("segment.bytes");
  c.segment_ms = number("segment.ms");
  c.index_max_bytes = static_cast<int32_t>(number("segment.index.bytes"));
  c.index_interval_bytes = static_cast<int32_t>(number("index.interval.bytes"));
  c.max_message_bytes = static_cast<int32_t>(number("max.message.bytes"));
  // Kafka reads any negative retention as "no limit"; the log wants -1.
  c.retention_ms = std::max<int64_t>(-1, number("retention.ms"));
  c.retention_bytes = std::max<int64_t>(-1, number("retention.bytes"));
  c.flush_interval_ms = std::max<int64_t>(-1, number("flush.ms"));
  c.flush_interval_messages = number("flush.messages");
  // cleanup.policy is a list: "compact", "delete", or both in any order.
  const std::string policy = effective_topic_config(broker, overrides, "cleanup.policy");
  const bool compact = policy.find("compact") != std::string::npos;
  const bool del = policy.find("delete") != std::string::npos;
  c.cleanup = compact && del ? storage::cleanup_policy::compact_delete
              : compact      ? storage::cleanup_policy::compact
                             : storage::cleanup_policy::delete_;
  c.delete_retention_ms = number("delete.retention.ms");
  c.min_compaction_lag_ms = number("min.compaction.lag.ms");
  c.max_compaction_lag_ms = number("max.compaction.lag.ms");
  const std::string ratio = effective_topic_config(broker, overrides, "min.cleanable.dirty.ratio");
  char* end = nullptr;
  const double r = std::strtod(ratio.c_str(), &end);
  if (end != nullptr && *end == '\0' && r >= 0 && r <= 1) c.min_cleanable_dirty_ratio = r;
  return c;
}

}  // namespace ringlog::controller
