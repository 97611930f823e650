#include "bench/perf/cluster.h"

#include <algorithm>
#include <chrono>

#include "engine/runtime/timer.h"
#include "net/protocol/api/api_versions.h"
#include "net/protocol/api/create_topics.h"
#include "net/protocol/api/fetch.h"
#include "net/protocol/api/list_offsets.h"
#include "net/protocol/api/metadata.h"
#include "net/protocol/api/produce.h"
#include "net/protocol/errors.h"

namespace ringlog::perf {
namespace {

constexpr int32_t k_create_timeout_ms = 60000;
// Kafka's UNKNOWN_TOPIC_OR_PARTITION and TOPIC_ALREADY_EXISTS.
constexpr int16_t k_unknown_topic = 3;
constexpr int16_t k_topic_exists = 36;
constexpr int16_t k_unsupported_version = 35;

}  // namespace

std::string kafka_error_text(int16_t code) {
  return std::string(protocol::name_of(static_cast<protocol::kafka_error>(code))) + " (" +
         std::to_string(code) + ")";
}

int16_t pick_version(int16_t ours_min, int16_t ours_max, int16_t theirs_min, int16_t theirs_max) {
  const int16_t hi = std::min(ours_max, theirs_max);
  const int16_t lo = std::max(ours_min, theirs_min);
  return hi >= lo ? hi : int16_t{-1};
}

task<result<api_versions_in_use>> negotiate_versions(kafka_connection& c,
                                                     const std::string& client_id) {
  protocol::api_versions_request req;
  req.client_software_name = "ringlog-perf";
  req.client_software_version = "1";
  protocol::api_versions_response resp;
  // v3 is flexible; a broker that does not know it answers UNSUPPORTED_VERSION
  // with its ranges in a v0 body, which v3 decoding would misread, so fall
  // back to v0 on any failure there.
  auto s = co_await round_trip("ApiVersions", c, req, int16_t{3}, client_id, resp);
  if (!s || resp.error_code == k_unsupported_version) {
    resp = protocol::api_versions_response();
    s = co_await round_trip("ApiVersions", c, req, int16_t{0}, client_id, resp);
  }
  if (!s) co_return s.error();
  if (resp.error_code != 0) co_return perf_error("ApiVersions", kafka_error_text(resp.error_code));
  api_versions_in_use v;
  std::string missing;
  for (const auto& k : resp.api_keys) {
    switch (k.api_key) {
      case protocol::produce_request::api_key:
        v.produce =
            pick_version(7, protocol::produce_request::max_version, k.min_version, k.max_version);
        break;
      case protocol::fetch_request::api_key:
        // 11 and 12 name topics; 13+ need topic ids, which we do not track.
        v.fetch = pick_version(11, 12, k.min_version, k.max_version);
        break;
      case protocol::metadata_request::api_key:
        v.metadata =
            pick_version(1, protocol::metadata_request::max_version, k.min_version, k.max_version);
        break;
      case protocol::list_offsets_request::api_key:
        v.list_offsets = pick_version(1, protocol::list_offsets_request::max_version, k.min_version,
                                      k.max_version);
        break;
      case protocol::create_topics_request::api_key:
        v.create_topics = pick_version(2, protocol::create_topics_request::max_version,
                                       k.min_version, k.max_version);
        break;
      default:
        break;
    }
  }
  if (v.produce < 0) missing += " Produce v7+";
  if (v.fetch < 0) missing += " Fetch v11-12";
  if (v.metadata < 0) missing += " Metadata v1+";
  if (v.list_offsets < 0) missing += " ListOffsets v1+";
  if (!missing.empty()) co_return perf_error("ApiVersions", "broker lacks" + missing);
  co_return v;
}

task<result<std::vector<int32_t>>> topic_partitions(kafka_connection& c,
                                                    const api_versions_in_use& v,
                                                    const std::string& topic,
                                                    const std::string& client_id) {
  protocol::metadata_request req;
  req.topics.emplace();
  req.topics->emplace_back();
  req.topics->back().name = topic;
  req.allow_auto_topic_creation = false;
  protocol::metadata_response resp;
  if (auto s = co_await round_trip("Metadata", c, req, v.metadata, client_id, resp); !s)
    co_return s.error();
  std::vector<int32_t> ids;
  for (const auto& t : resp.topics) {
    if (t.name != topic) continue;
    if (t.error_code == k_unknown_topic) co_return ids;
    if (t.error_code != 0) {
      co_return perf_error("Metadata", topic + ": " + kafka_error_text(t.error_code));
    }
    for (const auto& p : t.partitions) {
      if (p.error_code != 0) {
        co_return perf_error("Metadata", topic + "-" + std::to_string(p.partition_index) + ": " +
                                             kafka_error_text(p.error_code));
      }
      ids.push_back(p.partition_index);
    }
  }
  std::sort(ids.begin(), ids.end());
  co_return ids;
}

task<status> create_topic(kafka_connection& c, const api_versions_in_use& v,
                          const std::string& topic, int32_t partitions,
                          const std::string& client_id) {
  if (v.create_topics < 0) co_return perf_error("CreateTopics", "not offered by the broker");
  protocol::create_topics_request req;
  req.topics.emplace_back();
  req.topics.back().name = topic;
  req.topics.back().num_partitions = partitions;
  // -1 (the broker's default) needs v4+.
  req.topics.back().replication_factor = v.create_topics >= 4 ? int16_t{-1} : int16_t{1};
  // Creating many partitions takes a while (ringlog: about 30 s for 1,000
  // on a shared 2-core host): give the broker a minute, and wait longer.
  req.timeout_ms = k_create_timeout_ms;
  protocol::create_topics_response resp;
  if (auto s = co_await round_trip("CreateTopics", c, req, v.create_topics, client_id, resp,
                                   k_create_timeout_ms + k_request_timeout_ms);
      !s) {
    co_return s;
  }
  for (const auto& t : resp.topics) {
    if (t.error_code != 0 && t.error_code != k_topic_exists) {
      co_return perf_error("CreateTopics",
                           topic + ": " + kafka_error_text(t.error_code) +
                               (t.error_message ? ": " + *t.error_message : std::string()));
    }
  }
  // Creation is asynchronous in Kafka: wait until Metadata has the partitions.
  for (int attempt = 0; attempt < 300; ++attempt) {
    auto ids = co_await topic_partitions(c, v, topic, client_id);
    if (ids && static_cast<int32_t>(ids->size()) >= partitions) co_return ok();
    auto slept = co_await sleep_for(std::chrono::milliseconds(100));
    (void)slept;
  }
  co_return perf_error("CreateTopics", topic + ": partitions not in Metadata after 10 s");
}

task<result<std::vector<int64_t>>> list_offsets(kafka_connection& c, const api_versions_in_use& v,
                                                const std::string& topic,
                                                const std::vector<int32_t>& partitions,
                                                int64_t timestamp, const std::string& client_id) {
  protocol::list_offsets_request req;
  req.replica_id = -1;
  req.topics.emplace_back();
  req.topics.back().name = topic;
  for (const int32_t p : partitions) {
    req.topics.back().partitions.emplace_back();
    req.topics.back().partitions.back().partition_index = p;
    req.topics.back().partitions.back().timestamp = timestamp;
  }
  req.timeout_ms = k_request_timeout_ms;
  protocol::list_offsets_response resp;
  if (auto s = co_await round_trip("ListOffsets", c, req, v.list_offsets, client_id, resp); !s) {
    co_return s.error();
  }
  std::vector<int64_t> out(partitions.size(), -1);
  for (const auto& t : resp.topics) {
    for (const auto& p : t.partitions) {
      if (p.error_code != 0) {
        co_return perf_error("ListOffsets", topic + "-" + std::to_string(p.partition_index) + ": " +
                                                kafka_error_text(p.error_code));
      }
      const auto it = std::find(partitions.begin(), partitions.end(), p.partition_index);
      if (it != partitions.end()) out[static_cast<size_t>(it - partitions.begin())] = p.offset;
    }
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] < 0) {
      co_return perf_error("ListOffsets",
                           topic + "-" + std::to_string(partitions[i]) + ": no offset returned");
    }
  }
  co_return out;
}

task<result<topic_setup>> prepare_topic(const perf_options* o, int32_t create_partitions,
                                        int64_t offsets_at) {
  const std::string& topic = o->common.topic;
  const std::string& client_id = o->common.client_id;
  kafka_connection c;
  auto connected = co_await c.connect(o->common.bootstrap_host, o->common.bootstrap_port);
  if (!connected) co_return connected.error();
  auto v = co_await negotiate_versions(c, client_id);
  if (!v) co_return v.error();
  auto parts = co_await topic_partitions(c, *v, topic, client_id);
  if (!parts) co_return parts.error();
  if (parts->empty()) {
    if (create_partitions <= 0) {
      co_return perf_error(
          "Metadata",
          "topic " + topic + " does not exist" +
              (o->cmd == command::consume ? std::string() : " (give --partitions N to create it)"));
    }
    auto created = co_await create_topic(c, *v, topic, create_partitions, client_id);
    if (!created) co_return created.error();
    parts = co_await topic_partitions(c, *v, topic, client_id);
    if (!parts) co_return parts.error();
  }
  topic_setup out;
  out.versions = *v;
  out.partitions = std::move(*parts);
  if (offsets_at != k_no_offsets) {
    auto offsets = co_await list_offsets(c, *v, topic, out.partitions, offsets_at, client_id);
    if (!offsets) co_return offsets.error();
    out.offsets = std::move(*offsets);
  }
  co_return out;
}

}  // namespace ringlog::perf
