// SyncGroup: on the group's shard; a member's answer waits there until the
// leader's assignment arrives (or the rebalance restarts). Every member's
// answer also waits for the group's metadata record (GroupMetadataValue) to
// be durable in __consumer_offsets.
#include "net/protocol/api/sync_group.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "broker/broker.h"
#include "broker/group/group_call.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "engine/runtime/invoke.h"

namespace ringlog::broker {
namespace {

task<sync_result> sync_local(broker& b, protocol::sync_group_request& request) {
  group_coordinator& gc = b.groups();
  group* g = gc.stopped() ? nullptr : gc.find(request.group_id);
  if (g == nullptr) {
    sync_result r;
    r.error =
        gc.stopped() ? kafka_error::coordinator_not_available : kafka_error::unknown_member_id;
    co_return r;
  }
  std::map<std::string, std::vector<std::byte>> assignments;
  for (auto& a : request.assignments) assignments[a.member_id] = std::move(a.assignment);
  parked_call<sync_result> call;
  g->sync(request.generation_id, request.member_id, request.group_instance_id,
          request.protocol_type, request.protocol_name, std::move(assignments),
          monotonic_ns() / 1'000'000, call.callback());
  // The leader's assignment completed the rebalance: the leader writes the
  // group's metadata, and every member's answer waits until it is durable.
  const kafka_error stored = co_await gc.store_group(request.group_id);
  sync_result r = co_await call.wait();
  if (r.error != kafka_error::none) co_return r;
  r.error = stored;
  if (r.error == kafka_error::none) {
    r.error = co_await gc.wait_stored(request.group_id, request.generation_id);
  }
  if (r.error != kafka_error::none) r.assignment.clear();
  co_return r;
}

}  // namespace

task<net::reply> handle_sync_group(broker& b, net::request_context& ctx,
                                   protocol::wire_writer& out) {
  protocol::sync_group_request request;
  if (!decode_request(ctx, request, "SyncGroup")) co_return net::reply::close;

  sync_result r;
  if (request.group_id.empty()) {
    r.error = kafka_error::invalid_group_id;
  } else {
    r = co_await invoke_on(b.group_shard(request.group_id), [&] { return sync_local(b, request); });
  }
  protocol::sync_group_response response;
  response.error_code = protocol::code(r.error);
  response.protocol_type = std::move(r.protocol_type);
  response.protocol_name = std::move(r.protocol_name);
  response.assignment = std::move(r.assignment);
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
