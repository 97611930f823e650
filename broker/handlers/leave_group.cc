// LeaveGroup: members leave at once (a graceful close), so the others
// rebalance without waiting out a session timeout. v0-2 name one member;
// v3+ a batch (static members by group.instance.id), each with its own error;
// the v0-2 top-level error is the member's.
#include "net/protocol/api/leave_group.h"

#include <string>
#include <vector>

#include "base/clock.h"
#include "broker/broker.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "engine/runtime/invoke.h"

namespace ringlog::broker {

task<net::reply> handle_leave_group(broker& b, net::request_context& ctx,
                                    protocol::wire_writer& out) {
  protocol::leave_group_request request;
  if (!decode_request(ctx, request, "LeaveGroup")) co_return net::reply::close;
  const int16_t version = ctx.header.api_version;
  if (version < 3) {
    auto& m = request.members.emplace_back();
    m.member_id = request.member_id;
  }

  protocol::leave_group_response response;
  if (request.group_id.empty()) {
    response.error_code = protocol::code(kafka_error::invalid_group_id);
    co_return send_response(ctx, response, out);
  }
  std::vector<kafka_error> errors = co_await invoke_on(b.group_shard(request.group_id), [&] {
    std::vector<kafka_error> out_errors;
    group_coordinator& gc = b.groups();
    group* g = gc.stopped() ? nullptr : gc.find(request.group_id);
    const int64_t now_ms = monotonic_ns() / 1'000'000;
    for (const auto& m : request.members) {
      if (gc.stopped()) {
        out_errors.push_back(kafka_error::coordinator_not_available);
      } else if (g == nullptr) {
        out_errors.push_back(kafka_error::unknown_member_id);
      } else {
        out_errors.push_back(g->leave(m.member_id, m.group_instance_id, now_ms));
      }
    }
    if (g != nullptr) gc.store_later(*g);
    return out_errors;
  });
  if (version < 3) {
    response.error_code = protocol::code(errors.front());
  } else {
    for (size_t i = 0; i < errors.size(); ++i) {
      auto& mo = response.members.emplace_back();
      mo.member_id = request.members[i].member_id;
      mo.group_instance_id = request.members[i].group_instance_id;
      mo.error_code = protocol::code(errors[i]);
    }
  }
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
