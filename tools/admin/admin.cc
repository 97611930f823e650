#include "tools/admin/admin.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

#include "base/assert.h"
#include "bench/perf/cluster.h"
#include "bench/perf/kafka_connection.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/task.h"
#include "engine/runtime/timer.h"
#include "net/protocol/api/api_versions.h"
#include "net/protocol/api/delete_groups.h"
#include "net/protocol/api/describe_groups.h"
#include "net/protocol/api/find_coordinator.h"
#include "net/protocol/api/list_groups.h"
#include "net/protocol/api/list_offsets.h"
#include "net/protocol/api/metadata.h"
#include "net/protocol/api/offset_commit.h"
#include "net/protocol/api/offset_fetch.h"
#include "net/protocol/errors.h"
#include "tools/admin/assignment.h"
#include "tools/dump/json.h"

namespace ringlog::admin {
namespace {

using dump::json_string;
using perf::kafka_connection;
using perf::kafka_error_text;
using perf::perf_error;
using perf::pick_version;

const std::string k_client_id = "ringlog-admin";
constexpr int16_t k_unsupported_version = 35;
constexpr int16_t k_coordinator_not_available = 15;
constexpr int16_t k_coordinator_load_in_progress = 14;
constexpr int16_t k_not_coordinator = 16;
// FindCoordinator retries while the coordinator loads or is being elected:
// 50 x 200 ms = 10 s, Kafka's usual worst case on a fresh cluster.
constexpr int k_coordinator_attempts = 50;

std::string json_int_or_null(int64_t v) { return v < 0 ? "null" : std::to_string(v); }
std::string text_int_or_dash(int64_t v) { return v < 0 ? "-" : std::to_string(v); }

// Left-aligned columns separated by two spaces, like kafka-consumer-groups.sh.
std::string render_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

// The version of each API we use: the newest both sides speak, within the
// range whose request shape we fill (single-group forms).
struct versions {
  perf::api_versions_in_use perf;  // metadata and list_offsets
  int16_t find_coordinator = -1;
  int16_t list_groups = -1;
  int16_t describe_groups = -1;
  int16_t offset_fetch = -1;
  int16_t offset_commit = -1;
  int16_t delete_groups = -1;
};

task<result<versions>> negotiate(kafka_connection* c, int32_t wait_ms) {
  protocol::api_versions_request req;
  req.client_software_name = "ringlog-admin";
  req.client_software_version = "1";
  protocol::api_versions_response resp;
  // As ringlog-perf: v3 first, v0 when the broker does not know v3.
  auto s =
      co_await perf::round_trip("ApiVersions", *c, req, int16_t{3}, k_client_id, resp, wait_ms);
  if (!s || resp.error_code == k_unsupported_version) {
    resp = protocol::api_versions_response();
    s = co_await perf::round_trip("ApiVersions", *c, req, int16_t{0}, k_client_id, resp, wait_ms);
  }
  if (!s) co_return s.error();
  if (resp.error_code != 0) co_return perf_error("ApiVersions", kafka_error_text(resp.error_code));
  versions v;
  for (const auto& k : resp.api_keys) {
    const int16_t lo = k.min_version;
    const int16_t hi = k.max_version;
    switch (k.api_key) {
      case protocol::metadata_request::api_key:
        v.perf.metadata = pick_version(1, protocol::metadata_request::max_version, lo, hi);
        break;
      case protocol::list_offsets_request::api_key:
        v.perf.list_offsets = pick_version(1, protocol::list_offsets_request::max_version, lo, hi);
        break;
      case protocol::find_coordinator_request::api_key:
        v.find_coordinator = pick_version(0, 3, lo, hi);  // 4+: the batched form
        break;
      case protocol::list_groups_request::api_key:
        v.list_groups = pick_version(0, protocol::list_groups_request::max_version, lo, hi);
        break;
      case protocol::describe_groups_request::api_key:
        v.describe_groups = pick_version(0, protocol::describe_groups_request::max_version, lo, hi);
        break;
      case protocol::offset_fetch_request::api_key:
        v.offset_fetch = pick_version(1, 7, lo, hi);  // 8+: the multi-group form
        break;
      case protocol::offset_commit_request::api_key:
        v.offset_commit = pick_version(2, 8, lo, hi);  // 9: the new consumer protocol
        break;
      case protocol::delete_groups_request::api_key:
        v.delete_groups = pick_version(0, protocol::delete_groups_request::max_version, lo, hi);
        break;
      default:
        break;
    }
  }
  co_return v;
}

status need(int16_t version, const char* api) {
  if (version < 0) return perf_error("ApiVersions", std::string("broker does not offer ") + api);
  return ok();
}

// A session: the bootstrap connection, the versions, and the coordinator's
// connection when that is another broker.
struct session {
  const admin_options* o = nullptr;
  kafka_connection bootstrap;
  versions v;
  std::unique_ptr<kafka_connection> other_coordinator;
};

task<status> open_session(session* s) {
  auto connected = co_await s->bootstrap.connect(s->o->bootstrap_host, s->o->bootstrap_port);
  if (!connected) co_return connected;
  auto v = co_await negotiate(&s->bootstrap, s->o->timeout_ms);
  if (!v) co_return v.error();
  s->v = *v;
  co_return ok();
}

// The connection to `group`'s coordinator (the bootstrap one when it is the same broker).
task<result<kafka_connection*>> coordinator_of(session* s, const std::string& group) {
  if (auto n = need(s->v.find_coordinator, "FindCoordinator"); !n) co_return n.error();
  protocol::find_coordinator_response resp;
  for (int attempt = 0;; ++attempt) {
    protocol::find_coordinator_request req;
    req.key = group;
    req.key_type = 0;  // a group
    resp = protocol::find_coordinator_response();
    auto rt = co_await perf::round_trip("FindCoordinator", s->bootstrap, req, s->v.find_coordinator,
                                        k_client_id, resp, s->o->timeout_ms);
    if (!rt) co_return rt.error();
    const bool retriable = resp.error_code == k_coordinator_not_available ||
                           resp.error_code == k_coordinator_load_in_progress ||
                           resp.error_code == k_not_coordinator;
    if (!retriable || attempt + 1 >= k_coordinator_attempts) break;
    auto slept = co_await sleep_for(std::chrono::milliseconds(200));
    (void)slept;
  }
  if (resp.error_code != 0) {
    co_return perf_error("FindCoordinator", group + ": " + kafka_error_text(resp.error_code) +
                                                (resp.error_message && !resp.error_message->empty()
                                                     ? ": " + *resp.error_message
                                                     : std::string()));
  }
  const bool same = resp.port == s->o->bootstrap_port &&
                    (resp.host == s->o->bootstrap_host ||
                     (resp.host == "127.0.0.1" && s->o->bootstrap_host == "localhost") ||
                     (resp.host == "localhost" && s->o->bootstrap_host == "127.0.0.1"));
  if (same) co_return &s->bootstrap;
  if (resp.port <= 0 || resp.port > 65535) {
    co_return perf_error("FindCoordinator", "bad coordinator port " + std::to_string(resp.port));
  }
  s->other_coordinator = std::make_unique<kafka_connection>();
  const auto port = static_cast<uint16_t>(resp.port);
  auto connected = co_await s->other_coordinator->connect(resp.host, port);
  if (!connected) {
    co_return perf_error("connect", "coordinator " + resp.host + ":" + std::to_string(resp.port) +
                                        ": " + connected.error().message());
  }
  co_return s->other_coordinator.get();
}

// ListOffsets at `timestamp` for each partition; -1 where the broker has no
// offset (a timestamp after the last record).
task<result<std::vector<int64_t>>> offsets_at(session* s, const std::string& topic,
                                              const std::vector<int32_t>& partitions,
                                              int64_t timestamp) {
  if (auto n = need(s->v.perf.list_offsets, "ListOffsets"); !n) co_return n.error();
  protocol::list_offsets_request req;
  req.replica_id = -1;
  req.topics.emplace_back();
  req.topics.back().name = topic;
  for (const int32_t p : partitions) {
    req.topics.back().partitions.emplace_back();
    req.topics.back().partitions.back().partition_index = p;
    req.topics.back().partitions.back().timestamp = timestamp;
  }
  req.timeout_ms = s->o->timeout_ms;
  protocol::list_offsets_response resp;
  auto rt = co_await perf::round_trip("ListOffsets", s->bootstrap, req, s->v.perf.list_offsets,
                                      k_client_id, resp, s->o->timeout_ms);
  if (!rt) co_return rt.error();
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
  co_return out;
}

struct group_description {
  std::string state;
  std::string protocol_type;
  std::string protocol;
  std::vector<protocol::describe_groups_response::described_group_member> members;
};

task<result<group_description>> describe_one(session* s, kafka_connection* coord,
                                             const std::string& group) {
  if (auto n = need(s->v.describe_groups, "DescribeGroups"); !n) co_return n.error();
  protocol::describe_groups_request req;
  req.groups.push_back(group);
  protocol::describe_groups_response resp;
  auto rt = co_await perf::round_trip("DescribeGroups", *coord, req, s->v.describe_groups,
                                      k_client_id, resp, s->o->timeout_ms);
  if (!rt) co_return rt.error();
  for (auto& g : resp.groups) {
    if (g.group_id != group) continue;
    if (g.error_code != 0) {
      co_return perf_error("DescribeGroups", group + ": " + kafka_error_text(g.error_code));
    }
    group_description d;
    d.state = g.group_state;
    d.protocol_type = g.protocol_type;
    d.protocol = g.protocol_data;
    d.members = std::move(g.members);
    co_return d;
  }
  co_return perf_error("DescribeGroups", group + ": not in the response");
}

// Committed offsets: (topic, partition) -> offset (-1: none). `topics` is used
// only by OffsetFetch v1, which cannot ask for "all topics".
task<result<std::map<std::pair<std::string, int32_t>, int64_t>>> committed_offsets(
    session* s, kafka_connection* coord, const std::string& group,
    const std::map<std::string, std::vector<int32_t>>* topics) {
  if (auto n = need(s->v.offset_fetch, "OffsetFetch"); !n) co_return n.error();
  protocol::offset_fetch_request req;
  req.group_id = group;
  if (s->v.offset_fetch >= 2) {
    req.topics.reset();  // null: every topic with a committed offset
  } else {
    for (const auto& [name, parts] : *topics) {
      req.topics->emplace_back();
      req.topics->back().name = name;
      req.topics->back().partition_indexes = parts;
    }
  }
  protocol::offset_fetch_response resp;
  auto rt = co_await perf::round_trip("OffsetFetch", *coord, req, s->v.offset_fetch, k_client_id,
                                      resp, s->o->timeout_ms);
  if (!rt) co_return rt.error();
  if (resp.error_code != 0) {
    co_return perf_error("OffsetFetch", group + ": " + kafka_error_text(resp.error_code));
  }
  std::map<std::pair<std::string, int32_t>, int64_t> out;
  for (const auto& t : resp.topics) {
    for (const auto& p : t.partitions) {
      if (p.error_code != 0) {
        co_return perf_error("OffsetFetch", group + " " + t.name + "-" +
                                                std::to_string(p.partition_index) + ": " +
                                                kafka_error_text(p.error_code));
      }
      out[{t.name, p.partition_index}] = p.committed_offset;
    }
  }
  co_return out;
}

// ---- groups list ----

task<status> groups_list(session* s, std::string* out) {
  if (auto n = need(s->v.list_groups, "ListGroups"); !n) co_return n;
  protocol::list_groups_request req;
  protocol::list_groups_response resp;
  auto rt = co_await perf::round_trip("ListGroups", s->bootstrap, req, s->v.list_groups,
                                      k_client_id, resp, s->o->timeout_ms);
  if (!rt) co_return rt;
  if (resp.error_code != 0) co_return perf_error("ListGroups", kafka_error_text(resp.error_code));
  auto groups = std::move(resp.groups);
  std::sort(groups.begin(), groups.end(),
            [](const auto& a, const auto& b) { return a.group_id < b.group_id; });
  if (s->o->json) {
    std::string j = "{\"groups\":[";
    for (size_t i = 0; i < groups.size(); ++i) {
      if (i > 0) j += ",";
      j += "{\"group_id\":" + json_string(groups[i].group_id) +
           ",\"state\":" + json_string(groups[i].group_state) +
           ",\"protocol_type\":" + json_string(groups[i].protocol_type) + "}";
    }
    *out += j + "]}\n";
  } else {
    std::vector<std::vector<std::string>> rows = {{"GROUP", "STATE", "PROTOCOL-TYPE"}};
    for (const auto& g : groups) {
      rows.push_back({g.group_id, g.group_state.empty() ? "-" : g.group_state,
                      g.protocol_type.empty() ? "-" : g.protocol_type});
    }
    *out += render_table(rows);
  }
  co_return ok();
}

// ---- groups describe ----

struct partition_row {
  int64_t current = -1;
  int64_t log_end = -1;
  const protocol::describe_groups_response::described_group_member* member = nullptr;
};

task<status> groups_describe(session* s, std::string* out) {
  const std::string& group = s->o->groups.front();
  auto coord = co_await coordinator_of(s, group);
  if (!coord) co_return coord.error();
  auto desc = co_await describe_one(s, *coord, group);
  if (!desc) co_return desc.error();

  std::map<std::pair<std::string, int32_t>, partition_row> rows;
  std::map<std::string, std::vector<int32_t>> assigned;
  std::vector<const protocol::describe_groups_response::described_group_member*> unassigned;
  const bool consumer = desc->protocol_type == "consumer" || desc->protocol_type.empty();
  for (const auto& m : desc->members) {
    std::optional<consumer_assignment> a;
    if (consumer) a = decode_consumer_assignment(m.member_assignment);
    if (consumer && !a) {
      co_return perf_error("DescribeGroups",
                           group + ": member " + m.member_id + ": malformed consumer assignment");
    }
    bool any = false;
    if (a) {
      for (const auto& t : a->topics) {
        for (const int32_t p : t.partitions) {
          rows[{t.topic, p}].member = &m;
          assigned[t.topic].push_back(p);
          any = true;
        }
      }
    }
    if (!any) unassigned.push_back(&m);
  }
  auto committed = co_await committed_offsets(s, *coord, group, &assigned);
  if (!committed) co_return committed.error();
  for (const auto& [tp, offset] : *committed) {
    if (offset < 0 && !rows.contains(tp)) continue;  // nothing committed there
    rows[tp].current = offset;
  }
  if (desc->state == "Dead" && rows.empty() && desc->members.empty()) {
    co_return perf_error("describe", "consumer group '" + group + "' does not exist");
  }
  // Log end offsets, one ListOffsets per topic.
  std::map<std::string, std::vector<int32_t>> by_topic;
  for (const auto& [tp, row] : rows) by_topic[tp.first].push_back(tp.second);
  for (const auto& [topic, parts] : by_topic) {
    auto ends = co_await offsets_at(s, topic, parts, perf::k_latest_offset);
    if (!ends) co_return ends.error();
    for (size_t i = 0; i < parts.size(); ++i) rows[{topic, parts[i]}].log_end = (*ends)[i];
  }
  int64_t total_lag = 0;
  auto lag_of = [](const partition_row& r) -> int64_t {
    if (r.current < 0 || r.log_end < 0) return -1;
    return std::max<int64_t>(0, r.log_end - r.current);
  };
  for (const auto& [tp, r] : rows) total_lag += std::max<int64_t>(0, lag_of(r));

  if (s->o->json) {
    std::string j = "{\"group\":" + json_string(group) + ",\"state\":" + json_string(desc->state) +
                    ",\"protocol_type\":" + json_string(desc->protocol_type) +
                    ",\"protocol\":" + json_string(desc->protocol) + ",\"members\":[";
    for (size_t i = 0; i < desc->members.size(); ++i) {
      const auto& m = desc->members[i];
      if (i > 0) j += ",";
      j += "{\"member_id\":" + json_string(m.member_id) + ",\"group_instance_id\":" +
           (m.group_instance_id ? json_string(*m.group_instance_id) : std::string("null")) +
           ",\"client_id\":" + json_string(m.client_id) +
           ",\"host\":" + json_string(m.client_host) + ",\"assignment\":[";
      std::optional<consumer_assignment> a;
      if (consumer) a = decode_consumer_assignment(m.member_assignment);
      if (a) {
        for (size_t t = 0; t < a->topics.size(); ++t) {
          if (t > 0) j += ",";
          j += "{\"topic\":" + json_string(a->topics[t].topic) + ",\"partitions\":[";
          for (size_t p = 0; p < a->topics[t].partitions.size(); ++p) {
            if (p > 0) j += ",";
            j += std::to_string(a->topics[t].partitions[p]);
          }
          j += "]}";
        }
      }
      j += "]}";
    }
    j += "],\"partitions\":[";
    bool first = true;
    for (const auto& [tp, r] : rows) {
      if (!first) j += ",";
      first = false;
      j += "{\"topic\":" + json_string(tp.first) + ",\"partition\":" + std::to_string(tp.second) +
           ",\"current_offset\":" + json_int_or_null(r.current) +
           ",\"log_end_offset\":" + json_int_or_null(r.log_end) +
           ",\"lag\":" + json_int_or_null(lag_of(r)) + ",\"consumer_id\":" +
           (r.member ? json_string(r.member->member_id) : std::string("null")) +
           ",\"host\":" + (r.member ? json_string(r.member->client_host) : std::string("null")) +
           ",\"client_id\":" + (r.member ? json_string(r.member->client_id) : std::string("null")) +
           "}";
    }
    j += "],\"total_lag\":" + std::to_string(total_lag) + "}\n";
    *out += j;
    co_return ok();
  }
  *out += "GROUP " + group + "  STATE " + desc->state + "  PROTOCOL-TYPE " +
          (desc->protocol_type.empty() ? "-" : desc->protocol_type) + "  PROTOCOL " +
          (desc->protocol.empty() ? "-" : desc->protocol) + "  MEMBERS " +
          std::to_string(desc->members.size()) + "\n\n";
  std::vector<std::vector<std::string>> table = {{"TOPIC", "PARTITION", "CURRENT-OFFSET",
                                                  "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST",
                                                  "CLIENT-ID"}};
  for (const auto& [tp, r] : rows) {
    table.push_back({tp.first, std::to_string(tp.second), text_int_or_dash(r.current),
                     text_int_or_dash(r.log_end), text_int_or_dash(lag_of(r)),
                     r.member ? r.member->member_id : "-", r.member ? r.member->client_host : "-",
                     r.member ? r.member->client_id : "-"});
  }
  for (const auto* m : unassigned) {
    table.push_back({"-", "-", "-", "-", "-", m->member_id, m->client_host, m->client_id});
  }
  *out += render_table(table);
  *out += "\nTOTAL-LAG " + std::to_string(total_lag) + "\n";
  co_return ok();
}

// ---- groups delete ----

task<status> groups_delete(session* s, std::string* out, std::string* err) {
  if (auto n = need(s->v.delete_groups, "DeleteGroups"); !n) co_return n;
  int failed = 0;
  std::string j = "{\"results\":[";
  std::vector<std::vector<std::string>> table = {{"GROUP", "RESULT"}};
  for (size_t i = 0; i < s->o->groups.size(); ++i) {
    const std::string& group = s->o->groups[i];
    int16_t code = 0;
    std::string problem;
    auto coord = co_await coordinator_of(s, group);
    if (!coord) {
      problem = coord.error().message();
    } else {
      protocol::delete_groups_request req;
      req.groups_names.push_back(group);
      protocol::delete_groups_response resp;
      auto rt = co_await perf::round_trip("DeleteGroups", **coord, req, s->v.delete_groups,
                                          k_client_id, resp, s->o->timeout_ms);
      if (!rt) {
        problem = rt.error().message();
      } else {
        bool found = false;
        for (const auto& r : resp.results) {
          if (r.group_id == group) {
            code = r.error_code;
            found = true;
          }
        }
        if (!found) problem = "DeleteGroups: " + group + ": not in the response";
        if (code != 0) problem = kafka_error_text(code);
      }
    }
    if (!problem.empty()) ++failed;
    if (i > 0) j += ",";
    j += "{\"group\":" + json_string(group) +
         ",\"deleted\":" + (problem.empty() ? "true" : "false") +
         ",\"error_code\":" + std::to_string(code) +
         ",\"error\":" + (problem.empty() ? std::string("null") : json_string(problem)) + "}";
    table.push_back({group, problem.empty() ? "deleted" : "error: " + problem});
    if (!problem.empty() && !s->o->json) {
      *err += "ringlog-admin: group '" + group + "' not deleted: " + problem + "\n";
    }
  }
  *out += s->o->json ? j + "]}\n" : render_table(table);
  if (failed > 0) {
    co_return perf_error("DeleteGroups", std::to_string(failed) + " of " +
                                             std::to_string(s->o->groups.size()) +
                                             " group(s) not deleted");
  }
  co_return ok();
}

// ---- groups reset-offsets ----

task<status> groups_reset_offsets(session* s, std::string* out) {
  const admin_options& o = *s->o;
  const std::string& group = o.groups.front();
  if (auto n = need(s->v.perf.metadata, "Metadata"); !n) co_return n;
  auto parts = co_await perf::topic_partitions(s->bootstrap, s->v.perf, o.topic, k_client_id);
  if (!parts) co_return parts.error();
  if (parts->empty()) co_return perf_error("Metadata", "topic '" + o.topic + "' does not exist");
  auto earliest = co_await offsets_at(s, o.topic, *parts, perf::k_earliest_offset);
  if (!earliest) co_return earliest.error();
  auto latest = co_await offsets_at(s, o.topic, *parts, perf::k_latest_offset);
  if (!latest) co_return latest.error();
  std::vector<int64_t> plan(parts->size(), -1);
  if (o.to == reset_to::datetime) {
    auto at = co_await offsets_at(s, o.topic, *parts, o.to_timestamp_ms);
    if (!at) co_return at.error();
    plan = std::move(*at);
  }
  for (size_t i = 0; i < plan.size(); ++i) {
    const int64_t lo = (*earliest)[i];
    const int64_t hi = (*latest)[i];
    if (lo < 0 || hi < 0) {
      co_return perf_error("ListOffsets",
                           o.topic + "-" + std::to_string((*parts)[i]) + ": no offsets returned");
    }
    switch (o.to) {
      case reset_to::earliest:
        plan[i] = lo;
        break;
      case reset_to::latest:
        plan[i] = hi;
        break;
      case reset_to::offset:
        plan[i] = std::clamp(o.to_offset, lo, hi);
        break;
      case reset_to::datetime:
        if (plan[i] < 0) plan[i] = hi;  // no record that recent: the log end
        break;
      case reset_to::none:
        RINGLOG_ASSERT(false, "reset-offsets without a target passed parsing");
    }
  }
  auto coord = co_await coordinator_of(s, group);
  if (!coord) co_return coord.error();
  if (o.execute) {
    if (auto n = need(s->v.offset_commit, "OffsetCommit"); !n) co_return n;
    protocol::offset_commit_request req;
    req.group_id = group;
    req.generation_id_or_member_epoch = -1;  // an admin commit: no generation, no member
    req.member_id = "";
    req.topics.emplace_back();
    req.topics.back().name = o.topic;
    for (size_t i = 0; i < plan.size(); ++i) {
      req.topics.back().partitions.emplace_back();
      req.topics.back().partitions.back().partition_index = (*parts)[i];
      req.topics.back().partitions.back().committed_offset = plan[i];
    }
    protocol::offset_commit_response resp;
    auto rt = co_await perf::round_trip("OffsetCommit", **coord, req, s->v.offset_commit,
                                        k_client_id, resp, o.timeout_ms);
    if (!rt) co_return rt;
    for (const auto& t : resp.topics) {
      for (const auto& p : t.partitions) {
        if (p.error_code == 0) continue;
        // Say why the usual refusal happens: the group still has members.
        std::string state;
        auto desc = co_await describe_one(s, *coord, group);
        if (desc) state = desc->state;
        co_return perf_error(
            "OffsetCommit",
            "group '" + group + "'" + (state.empty() ? "" : " (state " + state + ")") +
                " refused the new offsets: " + t.name + "-" + std::to_string(p.partition_index) +
                ": " + kafka_error_text(p.error_code) +
                "; offsets can be reset only while the group has no active members");
      }
    }
  }
  if (o.json) {
    std::string j = "{\"group\":" + json_string(group) + ",\"topic\":" + json_string(o.topic) +
                    ",\"executed\":" + (o.execute ? "true" : "false") + ",\"partitions\":[";
    for (size_t i = 0; i < plan.size(); ++i) {
      if (i > 0) j += ",";
      j += "{\"topic\":" + json_string(o.topic) + ",\"partition\":" + std::to_string((*parts)[i]) +
           ",\"new_offset\":" + std::to_string(plan[i]) + "}";
    }
    *out += j + "]}\n";
  } else {
    std::vector<std::vector<std::string>> table = {{"TOPIC", "PARTITION", "NEW-OFFSET"}};
    for (size_t i = 0; i < plan.size(); ++i) {
      table.push_back({o.topic, std::to_string((*parts)[i]), std::to_string(plan[i])});
    }
    *out += render_table(table);
    *out += o.execute ? "\nCommitted the new offsets of group '" + group + "'.\n"
                      : "\nDry run: nothing committed (give --execute to commit).\n";
  }
  co_return ok();
}

task<int> run_on_shard(const admin_options* o, std::string* out, std::string* err) {
  session s;
  s.o = o;
  status st = co_await open_session(&s);
  if (st) {
    switch (o->cmd) {
      case command::groups_list:
        st = co_await groups_list(&s, out);
        break;
      case command::groups_describe:
        st = co_await groups_describe(&s, out);
        break;
      case command::groups_delete:
        st = co_await groups_delete(&s, out, err);
        break;
      case command::groups_reset_offsets:
        st = co_await groups_reset_offsets(&s, out);
        break;
      case command::none:
        RINGLOG_ASSERT(false, "no command after parsing");
    }
  }
  if (!st) {
    *err += "ringlog-admin: " + st.error().message() + "\n";
    co_return k_exit_error;
  }
  co_return k_exit_ok;
}

}  // namespace

int run_command(const admin_options& o, std::ostream& out, std::ostream& err) {
  runtime_options ro;
  ro.shards = 1;
  runtime rt(ro);
  if (auto s = rt.start(); !s) {
    err << "ringlog-admin: runtime: " << s.error().message() << "\n";
    return k_exit_error;
  }
  std::string out_text;
  std::string err_text;
  const int status = rt.block_on(0, run_on_shard(&o, &out_text, &err_text));
  rt.stop();
  out << out_text;
  err << err_text;
  return status;
}

int run(const std::vector<std::string_view>& args, std::ostream& out, std::ostream& err) {
  const parse_result parsed = parse_args(args);
  const command cmd = parsed.options.cmd;
  if (!parsed.ok()) {
    err << "ringlog-admin: " << parsed.error << "\nRun 'ringlog-admin"
        << (cmd == command::groups_list            ? " groups list"
            : cmd == command::groups_describe      ? " groups describe"
            : cmd == command::groups_delete        ? " groups delete"
            : cmd == command::groups_reset_offsets ? " groups reset-offsets"
                                                   : "")
        << " --help' for usage.\n";
    return k_exit_usage;
  }
  if (parsed.options.help) {
    out << help_text(cmd);
    return k_exit_ok;
  }
  return run_command(parsed.options, out, err);
}

}  // namespace ringlog::admin
