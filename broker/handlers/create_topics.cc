// CreateTopics: validated and committed by the controller (one metadata
// batch, one fsync, for every topic of the request that passes); the answer
// leaves once the topics' partition logs exist on their shards. A name that
// appears twice in one request is refused (INVALID_REQUEST), as Kafka does.
#include <map>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "controller/controller.h"
#include "net/protocol/api/create_topics.h"

namespace ringlog::broker {

task<net::reply> handle_create_topics(broker& b, net::request_context& ctx,
                                      protocol::wire_writer& out) {
  protocol::create_topics_request request;
  if (!decode_request(ctx, request, "CreateTopics")) co_return net::reply::close;
  const int16_t version = ctx.header.api_version;

  std::map<std::string, int> count;
  for (const auto& t : request.topics) ++count[t.name];
  std::vector<controller::new_topic> topics;
  for (const auto& t : request.topics) {
    if (count[t.name] > 1) continue;
    controller::new_topic nt;
    nt.name = t.name;
    nt.num_partitions = t.num_partitions;
    nt.replication_factor = t.replication_factor;
    for (const auto& a : t.assignments) {
      nt.assignments.push_back({a.partition_index, a.broker_ids});
    }
    for (const auto& c : t.configs) nt.configs.push_back({c.name, c.value});
    topics.push_back(std::move(nt));
  }
  auto results = co_await b.ctl().create_topics(std::move(topics), request.validate_only);

  protocol::create_topics_response response;
  size_t next = 0;
  for (const auto& t : request.topics) {
    auto& r = response.topics.emplace_back();
    r.name = t.name;
    if (count[t.name] > 1) {
      r.error_code = protocol::code(protocol::kafka_error::invalid_request);
      r.error_message = "Create topics request from client contains the topic '" + t.name +
                        "' more than once";
      continue;
    }
    const auto& res = results[next++];
    r.error_code = res.kafka_error();
    if (!res.ok()) {
      r.error_message = res.message;
      continue;
    }
    r.topic_id = to_wire(res.id);
    r.num_partitions = res.num_partitions;
    r.replication_factor = res.replication_factor;
    if (version >= 5) {
      r.configs.emplace();
      for (const auto& c : res.configs) {
        auto& co = r.configs->emplace_back();
        co.name = c.name;
        co.value = c.value;
        co.read_only = c.read_only;
        co.config_source = static_cast<int8_t>(c.source);
        co.is_sensitive = c.sensitive;
      }
    }
  }
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
