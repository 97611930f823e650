// Heartbeat: on the group's shard; the error tells a member to rejoin
// (REBALANCE_IN_PROGRESS) or that it is gone (UNKNOWN_MEMBER_ID,
// ILLEGAL_GENERATION, FENCED_INSTANCE_ID).
#include "net/protocol/api/heartbeat.h"

#include "base/clock.h"
#include "broker/broker.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "engine/runtime/invoke.h"

namespace ringlog::broker {

task<net::reply> handle_heartbeat(broker& b, net::request_context& ctx,
                                  protocol::wire_writer& out) {
  protocol::heartbeat_request request;
  if (!decode_request(ctx, request, "Heartbeat")) co_return net::reply::close;

  kafka_error e = kafka_error::invalid_group_id;
  if (!request.group_id.empty()) {
    e = co_await invoke_on(b.group_shard(request.group_id), [&] {
      group_coordinator& gc = b.groups();
      if (gc.stopped()) return kafka_error::coordinator_not_available;
      group* g = gc.find(request.group_id);
      if (g == nullptr) return kafka_error::unknown_member_id;
      return g->heartbeat(request.generation_id, request.member_id, request.group_instance_id,
                          monotonic_ns() / 1'000'000);
    });
  }
  protocol::heartbeat_response response;
  response.error_code = protocol::code(e);
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
