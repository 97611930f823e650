// DescribeGroups: each group's state, protocol and members, read on its
// shard. As Kafka: members' metadata and assignments only for a Stable group;
// a group that does not exist is reported Dead with no error (v0-5).
#include "net/protocol/api/describe_groups.h"

#include <string>

#include "broker/broker.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "engine/runtime/invoke.h"

namespace ringlog::broker {
namespace {

// Kafka's AclOperation bits a group allows without ACLs: READ 3, DELETE 6, DESCRIBE 8.
constexpr int32_t k_group_operations = (1 << 3) | (1 << 6) | (1 << 8);

void describe_local(broker& b, const std::string& id,
                    protocol::describe_groups_response::described_group& out) {
  group_coordinator& gc = b.groups();
  out.group_id = id;
  if (gc.stopped()) {
    out.error_code = protocol::code(kafka_error::coordinator_not_available);
    return;
  }
  const group* g = gc.find(id);
  if (g == nullptr) {
    out.group_state = std::string(state_name(group_state::dead));
    return;
  }
  const bool stable = g->state() == group_state::stable;
  out.group_state = std::string(state_name(g->state()));
  out.protocol_type = g->protocol_type().value_or("");
  out.protocol_data = stable ? g->protocol_name().value_or("") : "";
  for (const auto& [member_id, m] : g->members()) {
    auto& mo = out.members.emplace_back();
    mo.member_id = member_id;
    mo.group_instance_id = m.group_instance_id;
    mo.client_id = m.client_id;
    mo.client_host = m.client_host;
    if (stable) {
      const auto* md = m.metadata_for(*g->protocol_name());
      if (md != nullptr) mo.member_metadata = *md;
      mo.member_assignment = m.assignment;
    }
  }
}

}  // namespace

task<net::reply> handle_describe_groups(broker& b, net::request_context& ctx,
                                        protocol::wire_writer& out) {
  protocol::describe_groups_request request;
  if (!decode_request(ctx, request, "DescribeGroups")) co_return net::reply::close;

  protocol::describe_groups_response response;
  for (const auto& id : request.groups) {
    auto& go = response.groups.emplace_back();
    co_await invoke_on(b.group_shard(id), [&] { describe_local(b, id, go); });
    if (request.include_authorized_operations) go.authorized_operations = k_group_operations;
  }
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
