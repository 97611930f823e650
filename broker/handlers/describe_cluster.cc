// DescribeCluster (KIP-700): the cluster id, the controller and the brokers,
// which admin clients ask instead of Metadata when they want no topics. This
// node is the only broker (with the host and port Metadata gives, see
// node_endpoint.h) and, in combined mode, the controller.
//
// Kafka semantics kept: v1's endpoint_type must be 1 (brokers), since clients
// reach this node through its broker listeners; 2 (controllers) is
// MISMATCHED_ENDPOINT_TYPE and any other id UNSUPPORTED_ENDPOINT_TYPE (both
// INVALID_REQUEST at v0, which has no such codes and cannot ask anyway).
// cluster_authorized_operations is filled only when asked; without ACLs every
// cluster operation is allowed.
#include <string>

#include "broker/broker.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "broker/handlers/node_endpoint.h"
#include "net/protocol/api/describe_cluster.h"

namespace ringlog::broker {
namespace {

using protocol::kafka_error;

// Kafka's EndpointType ids.
constexpr int8_t k_endpoint_broker = 1;
constexpr int8_t k_endpoint_controller = 2;

}  // namespace

task<net::reply> handle_describe_cluster(broker& b, net::request_context& ctx,
                                         protocol::wire_writer& out) {
  protocol::describe_cluster_request request;
  if (!decode_request(ctx, request, "DescribeCluster")) co_return net::reply::close;
  const int16_t version = ctx.header.api_version;

  protocol::describe_cluster_response response;
  if (request.endpoint_type != k_endpoint_broker) {
    const bool controllers = request.endpoint_type == k_endpoint_controller;
    kafka_error error = controllers ? kafka_error::mismatched_endpoint_type
                                    : kafka_error::unsupported_endpoint_type;
    if (version == 0) error = kafka_error::invalid_request;
    response.error_code = protocol::code(error);
    response.error_message =
        controllers ? std::string(
                          "The request was sent to an endpoint of type BROKER, but we "
                          "wanted an endpoint of type CONTROLLER")
                    : "Unsupported endpoint type " + std::to_string(request.endpoint_type);
    co_return send_response(ctx, response, out);
  }

  const node_endpoint self = this_node(b, *ctx.connection);
  auto& node = response.brokers.emplace_back();
  node.broker_id = self.node_id;
  node.host = self.host;
  node.port = self.port;
  response.endpoint_type = k_endpoint_broker;
  response.cluster_id = b.cluster_id();
  response.controller_id = self.node_id;
  if (request.include_cluster_authorized_operations) {
    response.cluster_authorized_operations = k_cluster_operations;
  }
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
