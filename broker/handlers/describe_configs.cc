// DescribeConfigs: the configs of topics (resource type 2) and of this
// broker (type 4), each resource answered on its own, in request order.
//
// Topics: every topic key with its effective value (the override, else the
// broker default it derives from, else Kafka's default), from the image on
// this shard through controller/topic_config.h. A topic that does not exist
// is UNKNOWN_TOPIC_OR_PARTITION for that resource only.
//
// The broker: its effective static config (base/broker_config.h renders it),
// every key read-only because broker keys change only through the config
// file and a restart. Kafka answers the resource name "" with the cluster-wide
// dynamic defaults, of which this broker has none, so that is an empty list;
// a node id that is not ours, or a name that is not a number, is
// INVALID_REQUEST as in Kafka.
//
// Kafka semantics kept: a null or empty key list means every key, unknown
// names are left out silently; config_source (v1+) is TOPIC_CONFIG (1) for an
// override, STATIC_BROKER_CONFIG (4) for a value the broker's config sets
// and DEFAULT_CONFIG (5) otherwise, and v0's is_default is "source is
// DEFAULT_CONFIG"; synonyms (v1+, when asked) run from the highest
// precedence down: the topic's override, then the broker key it derives from
// as the config file sets it, then that key's default. config_type (v3+) is
// always filled, documentation (v3+) only when asked. Any other resource type
// (broker loggers, client metrics, groups) is INVALID_REQUEST for that
// resource; Kafka fails the whole request for an unknown type, which helps
// nobody.
#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "base/assert.h"
#include "base/broker_config.h"
#include "base/config.h"
#include "broker/broker.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "controller/controller.h"
#include "controller/topic_config.h"
#include "net/protocol/api/describe_configs.h"

namespace ringlog::broker {
namespace {

using controller::config_source;
using controller::config_type;
using protocol::kafka_error;
using result_entry = protocol::describe_configs_response::describe_configs_resource_result;
using synonym = protocol::describe_configs_response::describe_configs_synonym;
using resource_request = protocol::describe_configs_request::describe_configs_resource;
using resource_result = protocol::describe_configs_response::describe_configs_result;

// Kafka's ConfigResource.Type ids.
constexpr int8_t k_resource_topic = 2;
constexpr int8_t k_resource_broker = 4;

// The broker key whose value is a topic key's default: the same pairs as the
// from_broker functions of controller/topic_config.cc (Kafka's
// ServerTopicConfigSynonyms). Only synonyms read it; a pair that went stale
// shows as a synonym whose value differs from the topic default, which the
// admin integration test checks for every key.
struct topic_synonym {
  std::string_view topic_key;
  std::string_view broker_key;
};
constexpr topic_synonym k_topic_synonyms[] = {
    {"cleanup.policy", "log.cleanup.policy"},
    {"file.delete.delay.ms", "log.segment.delete.delay.ms"},
    {"flush.messages", "log.flush.interval.messages"},
    {"flush.ms", "log.flush.interval.ms"},
    {"index.interval.bytes", "log.index.interval.bytes"},
    {"max.message.bytes", "message.max.bytes"},
    {"retention.bytes", "log.retention.bytes"},
    {"retention.ms", "log.retention.ms"},
    {"segment.bytes", "log.segment.bytes"},
    {"segment.index.bytes", "log.index.size.max.bytes"},
    {"segment.ms", "log.roll.ms"},
};

// One broker key as DescribeConfigs shows it: read-only, because broker keys
// change only through the config file and a restart; none holds a secret.
struct broker_entry {
  controller::config_description d;
  std::optional<std::string> default_value;  // the schema's default, when it has one
};

config_type type_of(config::key_type t) noexcept {
  switch (t) {
    case config::key_type::int32:
      return config_type::int32;
    case config::key_type::int64:
      return config_type::int64;
    case config::key_type::boolean:
      return config_type::boolean;
    case config::key_type::string:
      return config_type::string;
    case config::key_type::list:
      return config_type::list;
    case config::key_type::float64:
      return config_type::float64;
  }
  return config_type::string;
}

// Every primary broker key with its effective value, sorted by name. The
// source compares typed values, not text, so "a, b" set in the file for a
// list whose default is "a,b" still reads as the default. broker_config does
// not remember which keys the file named, so a key set to exactly its
// default reads as DEFAULT_CONFIG (as topic_config.h does for topics).
std::vector<broker_entry> describe_broker(const broker_config& settings) {
  auto parsed = config::parse_properties(render_broker_config(settings), "broker config");
  RINGLOG_ASSERT(parsed.has_value(), "render_broker_config gave text that does not parse: {}",
                 parsed.error().message());
  std::vector<broker_entry> out;
  out.reserve(parsed->size());
  for (const config::property& p : parsed->entries()) {
    const config::key_spec* spec = broker_schema().find(p.key);
    RINGLOG_ASSERT(spec != nullptr, "render_broker_config gave unknown key {}", p.key);
    broker_entry e;
    e.d.name = p.key;
    e.d.value = p.value;
    e.d.type = type_of(spec->type);
    e.d.read_only = true;
    e.d.documentation = spec->doc;
    e.d.source = config_source::static_broker_config;
    if (spec->default_text.has_value()) {
      e.default_value = std::string(*spec->default_text);
      auto value = config::parse_value(*spec, p.value, "broker config");
      auto fallback = config::parse_value(*spec, *spec->default_text, "default");
      if (value && fallback && *value == *fallback) e.d.source = config_source::default_config;
    }
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(),
            [](const broker_entry& a, const broker_entry& b) { return a.d.name < b.d.name; });
  return out;
}

const broker_entry* find_broker_entry(const std::vector<broker_entry>& entries,
                                      std::string_view name) {
  auto it = std::lower_bound(
      entries.begin(), entries.end(), name,
      [](const broker_entry& e, std::string_view n) { return std::string_view(e.d.name) < n; });
  return it != entries.end() && it->d.name == name ? &*it : nullptr;
}

// The broker's own precedence chain for a key: the config file's value, then
// the default (Kafka's configSynonyms without the dynamic levels, which this
// broker does not have).
void add_broker_synonyms(const broker_entry& e, std::vector<synonym>& out) {
  if (e.d.source == config_source::static_broker_config) {
    auto& s = out.emplace_back();
    s.name = e.d.name;
    s.value = e.d.value;
    s.source = static_cast<int8_t>(config_source::static_broker_config);
  }
  if (e.default_value.has_value()) {
    auto& s = out.emplace_back();
    s.name = e.d.name;
    s.value = *e.default_value;
    s.source = static_cast<int8_t>(config_source::default_config);
  }
}

bool wanted(const resource_request& r, std::string_view name) {
  if (!r.configuration_keys.has_value() || r.configuration_keys->empty()) return true;
  return std::find(r.configuration_keys->begin(), r.configuration_keys->end(), name) !=
         r.configuration_keys->end();
}

struct describe_options {
  bool synonyms = false;
  bool documentation = false;
};

result_entry make_entry(const controller::config_description& d, std::vector<synonym> synonyms,
                        const describe_options& options) {
  result_entry e;
  e.name = d.name;
  // Kafka never sends a secret's value, not even to say it is the default.
  if (d.sensitive)
    e.value.reset();
  else
    e.value = d.value;
  e.read_only = d.read_only;
  e.is_default = d.source == config_source::default_config;
  e.config_source = static_cast<int8_t>(d.source);
  e.is_sensitive = d.sensitive;
  e.synonyms = std::move(synonyms);
  e.config_type = static_cast<int8_t>(d.type);
  if (options.documentation)
    e.documentation = std::string(d.documentation);
  else
    e.documentation.reset();
  return e;
}

void describe_topic(broker& b, const std::vector<broker_entry>& broker_entries,
                    const resource_request& request, const describe_options& options,
                    resource_result& out) {
  auto image = b.ctl().image();
  const controller::topic* t = image->find_topic(request.resource_name);
  if (t == nullptr) {
    out.error_code = protocol::code(kafka_error::unknown_topic_or_partition);
    out.error_message = "Topic '" + request.resource_name + "' does not exist.";
    return;
  }
  for (const controller::config_description& d : b.ctl().describe_configs(*t)) {
    if (!wanted(request, d.name)) continue;
    std::vector<synonym> synonyms;
    if (options.synonyms) {
      if (d.source == config_source::topic_config) {
        auto& s = synonyms.emplace_back();
        s.name = d.name;
        s.value = d.value;
        s.source = static_cast<int8_t>(config_source::topic_config);
      }
      for (const topic_synonym& ts : k_topic_synonyms) {
        if (ts.topic_key != d.name) continue;
        if (const broker_entry* be = find_broker_entry(broker_entries, ts.broker_key)) {
          add_broker_synonyms(*be, synonyms);
        }
      }
    }
    out.configs.push_back(make_entry(d, std::move(synonyms), options));
  }
}

void describe_this_broker(const broker& b, const std::vector<broker_entry>& broker_entries,
                          const resource_request& request, const describe_options& options,
                          resource_result& out) {
  const std::string& name = request.resource_name;
  // Kafka: "" names the cluster-wide dynamic defaults; there are none here.
  if (name.empty()) return;
  int32_t id = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
  if (ec != std::errc() || end != name.data() + name.size()) {
    out.error_code = protocol::code(kafka_error::invalid_request);
    out.error_message = "Broker id must be an integer, but it is: " + name;
    return;
  }
  if (id != b.config().node_id) {
    out.error_code = protocol::code(kafka_error::invalid_request);
    out.error_message = "Unexpected broker id, expected " + std::to_string(b.config().node_id) +
                        " or empty string, but received " + name;
    return;
  }
  for (const broker_entry& be : broker_entries) {
    if (!wanted(request, be.d.name)) continue;
    std::vector<synonym> synonyms;
    if (options.synonyms) add_broker_synonyms(be, synonyms);
    out.configs.push_back(make_entry(be.d, std::move(synonyms), options));
  }
}

}  // namespace

task<net::reply> handle_describe_configs(broker& b, net::request_context& ctx,
                                         protocol::wire_writer& out) {
  protocol::describe_configs_request request;
  if (!decode_request(ctx, request, "DescribeConfigs")) co_return net::reply::close;
  const int16_t version = ctx.header.api_version;
  const describe_options options{.synonyms = version >= 1 && request.include_synonyms,
                                 .documentation = version >= 3 && request.include_documentation};
  // The broker's keys are needed for broker resources and for synonyms only.
  const bool any_broker =
      std::any_of(request.resources.begin(), request.resources.end(),
                  [](const resource_request& r) { return r.resource_type == k_resource_broker; });
  const std::vector<broker_entry> broker_entries =
      any_broker || options.synonyms ? describe_broker(b.config()) : std::vector<broker_entry>{};

  protocol::describe_configs_response response;
  response.results.reserve(request.resources.size());
  for (const auto& res : request.resources) {
    auto& r = response.results.emplace_back();
    r.resource_type = res.resource_type;
    r.resource_name = res.resource_name;
    r.error_message.reset();
    switch (res.resource_type) {
      case k_resource_topic:
        describe_topic(b, broker_entries, res, options, r);
        break;
      case k_resource_broker:
        describe_this_broker(b, broker_entries, res, options, r);
        break;
      default:
        r.error_code = protocol::code(kafka_error::invalid_request);
        r.error_message = "Config resource type " + std::to_string(res.resource_type) +
                          " is not supported; only topics (2) and brokers (4) are.";
        break;
    }
  }
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
