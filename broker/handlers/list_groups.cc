// ListGroups: every group of every shard (each shard lists its own), with
// its state (v4+, filtered by states_filter, case-insensitive) and type (v5+:
// always "classic"; types_filter keeps the request's types only).
#include "net/protocol/api/list_groups.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "engine/runtime/invoke.h"
#include "engine/runtime/shard.h"

namespace ringlog::broker {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool matches(const std::vector<std::string>& filter, std::string_view value) {
  return filter.empty() || std::any_of(filter.begin(), filter.end(),
                                       [&](const std::string& f) { return iequals(f, value); });
}

}  // namespace

task<net::reply> handle_list_groups(broker& b, net::request_context& ctx,
                                    protocol::wire_writer& out) {
  protocol::list_groups_request request;
  if (!decode_request(ctx, request, "ListGroups")) co_return net::reply::close;

  protocol::list_groups_response response;
  if (!matches(request.types_filter, "classic")) co_return send_response(ctx, response, out);
  for (unsigned s = 0; s < b.rt().size(); ++s) {
    co_await invoke_on(s, [&] {
      b.groups().tick_now();  // sessions that just ended are gone from the list
      for (const auto& [id, g] : b.groups().groups()) {
        const std::string_view state = state_name(g->state());
        if (g->state() == group_state::dead || !matches(request.states_filter, state)) continue;
        auto& lg = response.groups.emplace_back();
        lg.group_id = id;
        lg.protocol_type = g->protocol_type().value_or("");
        lg.group_state = std::string(state);
        lg.group_type = "classic";
      }
    });
  }
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
