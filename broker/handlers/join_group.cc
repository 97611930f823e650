// JoinGroup: hops to the group's shard (broker::group_shard) and joins there;
// the answer waits, on that shard, until the group's join phase completes
// (or comes at once: MEMBER_ID_REQUIRED, errors, a stable group's unchanged
// member). See broker/group/group.h for the rules.
#include "net/protocol/api/join_group.h"

#include <string>
#include <utility>

#include "base/clock.h"
#include "broker/broker.h"
#include "broker/group/group_call.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "engine/runtime/invoke.h"

namespace ringlog::broker {
namespace {

task<join_result> join_local(broker& b, const std::string& group_id, join_params& p) {
  group_coordinator& gc = b.groups();
  if (gc.stopped()) {
    join_result r;
    r.error = kafka_error::coordinator_not_available;
    r.member_id = p.member_id;
    co_return r;
  }
  if (gc.loading()) {
    join_result r;
    r.error = kafka_error::coordinator_load_in_progress;
    r.member_id = p.member_id;
    co_return r;
  }
  parked_call<join_result> call;
  group& g = gc.get_or_create(group_id);
  g.join(std::move(p), monotonic_ns() / 1'000'000, call.callback());
  gc.store_later(g);  // a join can complete a rebalance that empties the group
  co_return co_await call.wait();
}

}  // namespace

task<net::reply> handle_join_group(broker& b, net::request_context& ctx,
                                   protocol::wire_writer& out) {
  protocol::join_group_request request;
  if (!decode_request(ctx, request, "JoinGroup")) co_return net::reply::close;
  const int16_t version = ctx.header.api_version;

  join_result r;
  if (request.group_id.empty()) {
    r.error = kafka_error::invalid_group_id;
    r.member_id = request.member_id;
  } else {
    join_params p;
    p.member_id = request.member_id;
    p.group_instance_id = request.group_instance_id;
    p.client_id = ctx.header.client_id.value_or("");
    p.client_host = client_host_of(ctx.connection->peer);
    p.session_timeout_ms = request.session_timeout_ms;
    // v0 has no rebalance timeout: Kafka uses the session timeout.
    p.rebalance_timeout_ms =
        version == 0 ? request.session_timeout_ms : request.rebalance_timeout_ms;
    p.protocol_type = request.protocol_type;
    for (auto& proto : request.protocols) {
      p.protocols.push_back({std::move(proto.name), std::move(proto.metadata)});
    }
    p.require_known_member_id = version >= 4;
    p.supports_skip_assignment = version >= 9;
    const std::string& group_id = request.group_id;
    r = co_await invoke_on(b.group_shard(group_id), [&] { return join_local(b, group_id, p); });
  }

  protocol::join_group_response response;
  response.error_code = protocol::code(r.error);
  response.generation_id = r.generation_id;
  if (version >= 7) {
    response.protocol_type = r.protocol_type;
    response.protocol_name = r.protocol_name;
  } else {
    response.protocol_name = r.protocol_name.value_or("");
  }
  response.leader = r.leader;
  response.skip_assignment = r.skip_assignment;
  response.member_id = r.member_id;
  for (auto& m : r.members) {
    auto& mo = response.members.emplace_back();
    mo.member_id = std::move(m.member_id);
    mo.group_instance_id = std::move(m.group_instance_id);
    mo.metadata = std::move(m.metadata);
  }
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
