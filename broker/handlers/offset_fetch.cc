// OffsetFetch: a group's committed offsets, read on the group's shard. A
// partition without a commit (or a group that does not exist) answers offset
// -1 with no error, as Kafka does; a null topic list (v2+) means every
// committed partition. v8+ ask for several groups at once, each on its shard.
// require_stable (v7+) has nothing to wait for without transactions.
#include "net/protocol/api/offset_fetch.h"

#include <optional>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "engine/runtime/invoke.h"

namespace ringlog::broker {
namespace {

// One partition's answer, whatever the response layout.
struct fetched_partition {
  int32_t partition = 0;
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::optional<std::string> metadata = "";
};
struct fetched_topic {
  std::string name;
  std::vector<fetched_partition> partitions;
};
struct fetched_group {
  kafka_error error = kafka_error::none;
  std::vector<fetched_topic> topics;
};

// `topics` null: every committed partition.
fetched_group fetch_local(broker& b, const std::string& group_id,
                          const std::optional<std::vector<fetched_topic>>& topics) {
  fetched_group out;
  group_coordinator& gc = b.groups();
  if (gc.stopped() || gc.loading()) {
    out.error = gc.stopped() ? kafka_error::coordinator_not_available
                             : kafka_error::coordinator_load_in_progress;
    return out;
  }
  const group* g = gc.find(group_id);
  auto fill = [](fetched_partition& p, const committed_offset* c) {
    if (c == nullptr) return;
    p.offset = c->offset;
    p.leader_epoch = c->leader_epoch;
    p.metadata = c->metadata;
  };
  if (topics) {
    out.topics = *topics;
    for (auto& t : out.topics) {
      for (auto& p : t.partitions) {
        fill(p, g != nullptr ? g->offsets().find(t.name, p.partition) : nullptr);
      }
    }
  } else if (g != nullptr) {
    for (const auto& [name, parts] : g->offsets().topics()) {
      auto& t = out.topics.emplace_back();
      t.name = name;
      for (const auto& [index, c] : parts) {
        auto& p = t.partitions.emplace_back();
        p.partition = index;
        fill(p, &c);
      }
    }
  }
  return out;
}

task<fetched_group> fetch_group(broker& b, std::string group_id,
                                std::optional<std::vector<fetched_topic>> topics) {
  co_return co_await invoke_on(b.group_shard(group_id),
                               [&] { return fetch_local(b, group_id, topics); });
}

template <class RequestTopic>
std::optional<std::vector<fetched_topic>> asked(
    const std::optional<std::vector<RequestTopic>>& in) {
  if (!in) return std::nullopt;
  std::vector<fetched_topic> out;
  for (const auto& t : *in) {
    auto& ft = out.emplace_back();
    ft.name = t.name;
    for (int32_t p : t.partition_indexes) ft.partitions.emplace_back().partition = p;
  }
  return out;
}

}  // namespace

task<net::reply> handle_offset_fetch(broker& b, net::request_context& ctx,
                                     protocol::wire_writer& out) {
  protocol::offset_fetch_request request;
  if (!decode_request(ctx, request, "OffsetFetch")) co_return net::reply::close;
  const int16_t version = ctx.header.api_version;

  protocol::offset_fetch_response response;
  if (version < 8) {
    // v0-1 always name their topics (a null list decodes as empty there).
    auto topics = asked(request.topics);
    if (version < 2 && !topics) topics.emplace();
    fetched_group g = co_await fetch_group(b, request.group_id, std::move(topics));
    if (version >= 2) response.error_code = protocol::code(g.error);
    for (auto& t : g.topics) {
      auto& to = response.topics.emplace_back();
      to.name = std::move(t.name);
      for (auto& p : t.partitions) {
        auto& po = to.partitions.emplace_back();
        po.partition_index = p.partition;
        po.committed_offset = p.offset;
        po.committed_leader_epoch = p.leader_epoch;
        po.metadata = std::move(p.metadata);
        po.error_code = protocol::code(version < 2 ? g.error : kafka_error::none);
      }
    }
    co_return send_response(ctx, response, out);
  }
  for (const auto& rg : request.groups) {
    auto topics = asked(rg.topics);
    fetched_group g = co_await fetch_group(b, rg.group_id, std::move(topics));
    auto& go = response.groups.emplace_back();
    go.group_id = rg.group_id;
    go.error_code = protocol::code(g.error);
    for (auto& t : g.topics) {
      auto& to = go.topics.emplace_back();
      to.name = std::move(t.name);
      for (auto& p : t.partitions) {
        auto& po = to.partitions.emplace_back();
        po.partition_index = p.partition;
        po.committed_offset = p.offset;
        po.committed_leader_epoch = p.leader_epoch;
        po.metadata = std::move(p.metadata);
      }
    }
  }
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
