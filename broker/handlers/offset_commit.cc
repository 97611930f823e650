// OffsetCommit: checks each partition against the metadata image on the
// connection's shard (UNKNOWN_TOPIC_OR_PARTITION, OFFSET_METADATA_TOO_LARGE),
// then on the group's shard checks the member and generation (Kafka's
// validateOffsetCommit) and stores the offsets. A commit with generation -1
// and no member id to a group that does not exist creates a "simple" group,
// as Kafka does; any other commit to an unknown group gets ILLEGAL_GENERATION.
// The offsets are answered once their OffsetCommit records are fsync'd in
// the group's __consumer_offsets partition.
#include "net/protocol/api/offset_commit.h"

#include <string>
#include <vector>

#include "base/clock.h"
#include "base/saturating.h"
#include "broker/broker.h"
#include "broker/group/group_call.h"
#include "broker/group/group_records.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "controller/controller.h"
#include "engine/runtime/invoke.h"

namespace ringlog::broker {
namespace {

task<void> commit_local(broker& b, const protocol::offset_commit_request& request, int16_t version,
                        protocol::offset_commit_response& response) {
  group_coordinator& gc = b.groups();
  kafka_error e = kafka_error::none;
  group* g = gc.stopped() ? nullptr : gc.find(request.group_id);
  if (gc.stopped()) {
    e = kafka_error::coordinator_not_available;
  } else if (gc.loading()) {
    e = kafka_error::coordinator_load_in_progress;
  } else if (g == nullptr) {
    if (request.generation_id_or_member_epoch < 0) {
      g = &gc.get_or_create(request.group_id);
    } else {
      e = kafka_error::illegal_generation;
    }
  }
  if (g != nullptr && e == kafka_error::none) {
    e = g->validate_commit(request.generation_id_or_member_epoch, request.member_id,
                           request.group_instance_id, monotonic_ns() / 1'000'000);
  }
  // The accepted partitions, in request order, with their records.
  struct accepted {
    const std::string* topic;
    int32_t partition;
    committed_offset c;
    protocol::offset_commit_response::offset_commit_response_partition* out;
  };
  std::vector<accepted> commits;
  std::vector<group_record> records;
  const int64_t now = wall_ms();
  for (size_t t = 0; t < request.topics.size(); ++t) {
    const auto& topic = request.topics[t];
    auto& topic_out = response.topics[t];
    for (size_t p = 0; p < topic.partitions.size(); ++p) {
      auto& part_out = topic_out.partitions[p];
      if (part_out.error_code != 0) continue;
      if (e != kafka_error::none) {
        part_out.error_code = protocol::code(e);
        continue;
      }
      const auto& part = topic.partitions[p];
      committed_offset c;
      c.offset = part.committed_offset;
      c.leader_epoch = part.committed_leader_epoch;
      c.metadata = part.committed_metadata.value_or("");
      c.commit_timestamp_ms =
          version == 1 && part.commit_timestamp >= 0 ? part.commit_timestamp : now;
      if (version >= 2 && version <= 4 && request.retention_time_ms >= 0) {
        c.expire_timestamp_ms = add_saturating(c.commit_timestamp_ms, request.retention_time_ms);
      }
      group_record& r = records.emplace_back();
      offset_key key;
      key.group = request.group_id;
      key.topic = topic.name;
      key.partition = part.partition_index;
      r.key = encode_offset_key(key);
      r.value = encode_offset_value(c);
      commits.push_back(accepted{&topic.name, part.partition_index, std::move(c), &part_out});
    }
  }
  if (commits.empty()) co_return;
  // Acknowledged only once durable; memory follows the log.
  const kafka_error stored = co_await gc.append(request.group_id, std::move(records));
  group* now_group = gc.find(request.group_id);
  for (auto& a : commits) {
    if (stored != kafka_error::none || now_group == nullptr) {
      a.out->error_code = protocol::code(
          stored != kafka_error::none ? stored : kafka_error::coordinator_not_available);
      continue;
    }
    now_group->offsets().commit(*a.topic, a.partition, std::move(a.c));
  }
}

}  // namespace

task<net::reply> handle_offset_commit(broker& b, net::request_context& ctx,
                                      protocol::wire_writer& out) {
  protocol::offset_commit_request request;
  if (!decode_request(ctx, request, "OffsetCommit")) co_return net::reply::close;
  const int16_t version = ctx.header.api_version;

  auto image = b.ctl().image();
  protocol::offset_commit_response response;
  for (const auto& topic : request.topics) {
    auto& topic_out = response.topics.emplace_back();
    topic_out.name = topic.name;
    const controller::topic* known = image->find_topic(topic.name);
    for (const auto& part : topic.partitions) {
      auto& part_out = topic_out.partitions.emplace_back();
      part_out.partition_index = part.partition_index;
      if (known == nullptr || part.partition_index < 0 ||
          static_cast<size_t>(part.partition_index) >= known->partitions.size()) {
        part_out.error_code = protocol::code(kafka_error::unknown_topic_or_partition);
      } else if (part.committed_metadata &&
                 part.committed_metadata->size() >
                     static_cast<size_t>(b.config().offset_metadata_max_bytes)) {
        part_out.error_code = protocol::code(kafka_error::offset_metadata_too_large);
      }
    }
  }
  if (const kafka_error e = co_await ensure_offsets_topic(b); e != kafka_error::none) {
    for (auto& t : response.topics) {
      for (auto& p : t.partitions) {
        if (p.error_code == 0) p.error_code = protocol::code(e);
      }
    }
    co_return send_response(ctx, response, out);
  }
  co_await invoke_on(b.group_shard(request.group_id),
                     [&] { return commit_local(b, request, version, response); });
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
