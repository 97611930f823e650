// CreatePartitions: grows topics to a new total partition count. The
// controller validates every topic and commits the new partitions of all that
// pass in one metadata batch; the answer leaves once their logs exist on their
// shards, so a producer that refreshes its metadata can write to them at once.
//
// Kafka semantics kept: each topic gets its own error code and message
// (INVALID_PARTITIONS for a count that is not an increase, negative counts
// included; UNKNOWN_TOPIC_OR_PARTITION; INVALID_REPLICA_ASSIGNMENT for
// assignments that do not fit); a topic named twice in one request fails
// both entries with INVALID_REQUEST; validate_only answers as if it had
// created them and changes nothing. timeout_ms is not used: the partitions
// exist before we answer, there is nothing to wait for.
#include <string>
#include <vector>

#include "broker/broker.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "controller/controller.h"
#include "net/protocol/api/create_partitions.h"

namespace ringlog::broker {

task<net::reply> handle_create_partitions(broker& b, net::request_context& ctx,
                                          protocol::wire_writer& out) {
  protocol::create_partitions_request request;
  if (!decode_request(ctx, request, "CreatePartitions")) co_return net::reply::close;

  // The controller refuses duplicates itself (it sees the whole request), so
  // every topic goes through, in request order.
  std::vector<controller::partition_increase> increases;
  increases.reserve(request.topics.size());
  for (const auto& t : request.topics) {
    controller::partition_increase inc;
    inc.topic = t.name;
    inc.count = t.count;
    if (t.assignments.has_value()) {
      for (const auto& a : *t.assignments) inc.assignments.push_back(a.broker_ids);
    }
    increases.push_back(std::move(inc));
  }
  auto results = co_await b.ctl().create_partitions(std::move(increases), request.validate_only);

  protocol::create_partitions_response response;
  response.results.reserve(results.size());
  for (const auto& res : results) {
    auto& r = response.results.emplace_back();
    r.name = res.topic;
    r.error_code = res.kafka_error();
    if (!res.ok()) r.error_message = res.message;
  }
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
