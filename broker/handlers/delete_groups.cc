// DeleteGroups: removes groups without members, and their committed offsets,
// on each group's shard. A group with members gets NON_EMPTY_GROUP, an
// unknown one GROUP_ID_NOT_FOUND (Kafka's answers).
#include "net/protocol/api/delete_groups.h"

#include <string>
#include <vector>

#include "broker/broker.h"
#include "broker/group/group_records.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "engine/runtime/invoke.h"

namespace ringlog::broker {
namespace {

// Tombstones for the group and each of its offsets go to __consumer_offsets
// first; the group is forgotten once they are durable.
task<kafka_error> delete_local(broker& b, const std::string& id) {
  group_coordinator& gc = b.groups();
  if (gc.stopped()) co_return kafka_error::coordinator_not_available;
  if (gc.loading()) co_return kafka_error::coordinator_load_in_progress;
  group* g = gc.find(id);
  if (g == nullptr || g->state() == group_state::dead) co_return kafka_error::group_id_not_found;
  if (g->state() != group_state::empty) co_return kafka_error::non_empty_group;
  std::vector<group_record> records;
  for (const auto& [topic, parts] : g->offsets().topics()) {
    for (const auto& [partition, c] : parts) {
      offset_key key;
      key.group = id;
      key.topic = topic;
      key.partition = partition;
      records.emplace_back().key = encode_offset_key(key);
    }
  }
  records.emplace_back().key = encode_group_key(id);
  const kafka_error stored = co_await gc.append(id, std::move(records));
  if (stored != kafka_error::none) co_return stored;
  gc.erase(id, kafka_error::coordinator_not_available);
  co_return kafka_error::none;
}

}  // namespace

task<net::reply> handle_delete_groups(broker& b, net::request_context& ctx,
                                      protocol::wire_writer& out) {
  protocol::delete_groups_request request;
  if (!decode_request(ctx, request, "DeleteGroups")) co_return net::reply::close;

  protocol::delete_groups_response response;
  for (const auto& id : request.groups_names) {
    kafka_error e = co_await invoke_on(b.group_shard(id), [&] { return delete_local(b, id); });
    auto& r = response.results.emplace_back();
    r.group_id = id;
    r.error_code = protocol::code(e);
  }
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
