// DeleteTopics: by name (v0-5) or by name or id (v6+). The controller commits
// the removal, then every partition's log directory is renamed `-delete` and
// removed in the background on its shard.
#include <string>
#include <vector>

#include "broker/broker.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "controller/controller.h"
#include "net/protocol/api/delete_topics.h"

namespace ringlog::broker {

task<net::reply> handle_delete_topics(broker& b, net::request_context& ctx,
                                      protocol::wire_writer& out) {
  protocol::delete_topics_request request;
  if (!decode_request(ctx, request, "DeleteTopics")) co_return net::reply::close;
  const int16_t version = ctx.header.api_version;

  std::vector<controller::topic_ref> refs;
  if (version >= 6) {
    for (const auto& t : request.topics) {
      controller::topic_ref ref;
      if (t.name.has_value()) ref.name = *t.name;
      else ref.id = from_wire(t.topic_id);
      refs.push_back(std::move(ref));
    }
  } else {
    for (const auto& name : request.topic_names) refs.push_back({name, {}});
  }
  auto results = co_await b.ctl().delete_topics(std::move(refs));

  protocol::delete_topics_response response;
  for (const auto& res : results) {
    auto& r = response.responses.emplace_back();
    r.name = res.name;
    r.topic_id = to_wire(res.id);
    r.error_code = res.kafka_error();
    if (!res.ok()) r.error_message = res.message;
  }
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
