// FindCoordinator: this node coordinates every group (single node). The first
// request creates __consumer_offsets through the controller, as Kafka does
// (compacted, 100 MiB segments, offsets.topic.num.partitions partitions).
// Transactional ids (key type 1) get COORDINATOR_NOT_AVAILABLE until
// transactions exist. v0-3 ask for one key, v4+ for a batch.
#include "net/protocol/api/find_coordinator.h"

#include <string>
#include <vector>

#include "broker/broker.h"
#include "broker/group/group_call.h"
#include "broker/group/group_coordinator.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "broker/handlers/node_endpoint.h"
#include "controller/controller.h"

namespace ringlog::broker {
namespace {

constexpr int8_t k_group_key = 0;
constexpr int8_t k_transaction_key = 1;

}  // namespace

task<kafka_error> ensure_offsets_topic(broker& b) {
  if (b.ctl().image()->find_topic(std::string(k_offsets_topic)) != nullptr) {
    co_return kafka_error::none;
  }
  std::vector<controller::new_topic> topics(1);
  topics[0].name = std::string(k_offsets_topic);
  topics[0].num_partitions = b.config().offsets_topic_num_partitions;
  topics[0].configs.push_back({"cleanup.policy", "compact"});
  topics[0].configs.push_back({"segment.bytes", "104857600"});
  auto created = co_await b.ctl().create_topics(std::move(topics), false);
  if (!created.front().ok() && created.front().error != controller::errc::topic_already_exists) {
    RINGLOG_WARN("cannot create {}: {}", k_offsets_topic, created.front().message);
    co_return kafka_error::coordinator_not_available;
  }
  co_return kafka_error::none;
}

task<net::reply> handle_find_coordinator(broker& b, net::request_context& ctx,
                                         protocol::wire_writer& out) {
  protocol::find_coordinator_request request;
  if (!decode_request(ctx, request, "FindCoordinator")) co_return net::reply::close;
  const int16_t version = ctx.header.api_version;

  kafka_error e = kafka_error::none;
  std::string message;
  if (request.key_type == k_group_key) {
    e = co_await ensure_offsets_topic(b);
  } else if (request.key_type == k_transaction_key) {
    e = kafka_error::coordinator_not_available;
    message = "transactions are not supported yet";
  } else {
    e = kafka_error::invalid_request;
    message = "Unknown coordinator type " + std::to_string(request.key_type);
  }
  const node_endpoint self = this_node(b, *ctx.connection);
  const bool found = e == kafka_error::none;

  protocol::find_coordinator_response response;
  if (version < 4) {
    response.error_code = protocol::code(e);
    response.error_message = found ? std::optional<std::string>() : message;
    response.node_id = found ? self.node_id : -1;
    response.host = found ? self.host : "";
    response.port = found ? self.port : -1;
  } else {
    for (const auto& key : request.coordinator_keys) {
      auto& c = response.coordinators.emplace_back();
      c.key = key;
      c.error_code = protocol::code(e);
      c.error_message = found ? std::optional<std::string>() : message;
      c.node_id = found ? self.node_id : -1;
      c.host = found ? self.host : "";
      c.port = found ? self.port : -1;
    }
  }
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
