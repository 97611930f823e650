// Metadata: this node as the only broker, the controller and the leader of
// every partition, and the topics asked for (or all of them). A topic that
// does not exist is created first when auto-creation is on (the broker's
// auto.create.topics.enable and, v4+, the request's allow_auto_topic_creation)
// and the name is valid; since creation completes before the answer, the
// client gets the new topic's partitions at once rather than
// LEADER_NOT_AVAILABLE and a retry.
#include <set>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "broker/group/group_coordinator.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "broker/handlers/node_endpoint.h"
#include "controller/controller.h"
#include "engine/log/checkpoint.h"
#include "net/protocol/api/metadata.h"

namespace ringlog::broker {
namespace {

using protocol::kafka_error;

void describe_topic(const broker& b, const controller::topic& t, bool with_operations,
                    protocol::metadata_response::metadata_response_topic& out) {
  out.error_code = 0;
  out.name = t.name;
  out.topic_id = to_wire(t.id);
  out.is_internal = t.name == k_offsets_topic;
  out.partitions.reserve(t.partitions.size());
  for (const auto& p : t.partitions) {
    auto& po = out.partitions.emplace_back();
    po.partition_index = p.id;
    po.leader_id = p.leader >= 0 ? p.leader : b.config().node_id;
    po.leader_epoch = p.leader_epoch;
    po.replica_nodes = p.replicas;
    po.isr_nodes = p.isr;
  }
  if (with_operations) out.topic_authorized_operations = k_topic_operations;
}

}  // namespace

task<net::reply> handle_metadata(broker& b, net::request_context& ctx, protocol::wire_writer& out) {
  protocol::metadata_request request;
  if (!decode_request(ctx, request, "Metadata")) co_return net::reply::close;
  const int16_t version = ctx.header.api_version;
  const bool all_topics =
      !request.topics.has_value() || (version == 0 && request.topics->empty());
  const bool auto_create = b.config().auto_create_topics_enable &&
                           (version < 4 || request.allow_auto_topic_creation);

  // Create the missing topics first (one controller call for all of them).
  if (!all_topics && auto_create) {
    auto image = b.ctl().image();
    std::vector<controller::new_topic> missing;
    std::set<std::string> seen;
    for (const auto& t : *request.topics) {
      if (!t.name.has_value() || image->find_topic(*t.name) != nullptr) continue;
      if (!seen.insert(*t.name).second) continue;
      controller::new_topic nt;
      nt.name = *t.name;
      missing.push_back(std::move(nt));
    }
    if (!missing.empty()) {
      auto created = co_await b.ctl().create_topics(std::move(missing), false);
      for (const auto& r : created) {
        if (!r.ok() && r.error != controller::errc::topic_already_exists) {
          RINGLOG_INFO("auto-creating topic '{}' for {}: {}", r.name, ctx.connection->peer,
                       r.message);
        }
      }
    }
  }

  auto image = b.ctl().image();
  protocol::metadata_response response;
  const node_endpoint self = this_node(b, *ctx.connection);
  auto& node = response.brokers.emplace_back();
  node.node_id = self.node_id;
  node.host = self.host;
  node.port = self.port;
  response.cluster_id = b.cluster_id();
  response.controller_id = b.config().node_id;
  if (version >= 8 && version <= 10 && request.include_cluster_authorized_operations) {
    response.cluster_authorized_operations = k_cluster_operations;
  }
  const bool with_operations = version >= 8 && request.include_topic_authorized_operations;

  if (all_topics) {
    response.topics.reserve(image->topics().size());
    for (const auto& [name, t] : image->topics()) {
      describe_topic(b, *t, with_operations, response.topics.emplace_back());
    }
  } else {
    response.topics.reserve(request.topics->size());
    for (const auto& t : *request.topics) {
      auto& to = response.topics.emplace_back();
      const controller::topic* known = nullptr;
      if (t.name.has_value()) {
        known = image->find_topic(*t.name);
        to.name = *t.name;
      } else {
        known = image->find_topic(from_wire(t.topic_id));
        to.topic_id = t.topic_id;
      }
      if (known != nullptr) {
        describe_topic(b, *known, with_operations, to);
        continue;
      }
      if (!t.name.has_value()) {
        to.error_code = protocol::code(kafka_error::unknown_topic_id);
      } else if (t.name->empty() || t.name->size() > 249 || *t.name == "." || *t.name == ".." ||
                 !storage::is_legal_topic_name(*t.name)) {
        to.error_code = protocol::code(kafka_error::invalid_topic_exception);
      } else {
        to.error_code = protocol::code(kafka_error::unknown_topic_or_partition);
      }
    }
  }
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
