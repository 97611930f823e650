// OffsetDelete (KIP-496): removes a group's committed offsets for partitions
// it no longer consumes. An Empty group loses any of them; a consumer group
// with members keeps those of topics a member subscribes to
// (GROUP_SUBSCRIBED_TO_TOPIC); a non-consumer group with members refuses
// (NON_EMPTY_GROUP). Unknown topics get UNKNOWN_TOPIC_OR_PARTITION.
#include "net/protocol/api/offset_delete.h"

#include <algorithm>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "broker/group/group_records.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "controller/controller.h"
#include "engine/runtime/invoke.h"

namespace ringlog::broker {
namespace {

task<kafka_error> delete_local(broker& b, const protocol::offset_delete_request& request,
                               protocol::offset_delete_response& response) {
  group_coordinator& gc = b.groups();
  if (gc.stopped()) co_return kafka_error::coordinator_not_available;
  if (gc.loading()) co_return kafka_error::coordinator_load_in_progress;
  group* g = gc.find(request.group_id);
  if (g == nullptr || g->state() == group_state::dead) co_return kafka_error::group_id_not_found;
  const bool empty = g->state() == group_state::empty;
  if (!empty && g->protocol_type() != "consumer") co_return kafka_error::non_empty_group;
  std::vector<group_record> records;
  const std::vector<std::string> subscribed =
      empty ? std::vector<std::string>{} : g->subscribed_topics();
  for (size_t t = 0; t < request.topics.size(); ++t) {
    const auto& topic = request.topics[t];
    const bool in_use =
        std::find(subscribed.begin(), subscribed.end(), topic.name) != subscribed.end();
    for (size_t p = 0; p < topic.partitions.size(); ++p) {
      auto& po = response.topics[t].partitions[p];
      if (po.error_code != 0) continue;
      if (in_use) {
        po.error_code = protocol::code(kafka_error::group_subscribed_to_topic);
        continue;
      }
      if (g->offsets().find(topic.name, topic.partitions[p].partition_index) == nullptr) continue;
      offset_key key;
      key.group = request.group_id;
      key.topic = topic.name;
      key.partition = topic.partitions[p].partition_index;
      records.emplace_back().key = encode_offset_key(key);
    }
  }
  if (records.empty()) co_return kafka_error::none;
  // Tombstones first; the offsets go once they are durable.
  const kafka_error stored = co_await gc.append(request.group_id, std::move(records));
  if (stored != kafka_error::none) co_return stored;
  if (group* now = gc.find(request.group_id)) {
    for (size_t t = 0; t < request.topics.size(); ++t) {
      const auto& topic = request.topics[t];
      for (size_t p = 0; p < topic.partitions.size(); ++p) {
        if (response.topics[t].partitions[p].error_code != 0) continue;
        now->offsets().erase(topic.name, topic.partitions[p].partition_index);
      }
    }
  }
  co_return kafka_error::none;
}

}  // namespace

task<net::reply> handle_offset_delete(broker& b, net::request_context& ctx,
                                      protocol::wire_writer& out) {
  protocol::offset_delete_request request;
  if (!decode_request(ctx, request, "OffsetDelete")) co_return net::reply::close;

  auto image = b.ctl().image();
  protocol::offset_delete_response response;
  for (const auto& topic : request.topics) {
    auto& to = response.topics.emplace_back();
    to.name = topic.name;
    const controller::topic* known = image->find_topic(topic.name);
    for (const auto& p : topic.partitions) {
      auto& po = to.partitions.emplace_back();
      po.partition_index = p.partition_index;
      if (known == nullptr) po.error_code = protocol::code(kafka_error::unknown_topic_or_partition);
    }
  }
  kafka_error e = kafka_error::invalid_group_id;
  if (!request.group_id.empty()) {
    e = co_await invoke_on(b.group_shard(request.group_id),
                           [&] { return delete_local(b, request, response); });
  }
  response.error_code = protocol::code(e);
  if (e != kafka_error::none) response.topics.clear();
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
