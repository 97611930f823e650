// IncrementalAlterConfigs (KIP-339): per key SET (0), DELETE (1, back to the
// broker default), APPEND (2) or SUBTRACT (3, list keys only) against the
// resource's current overrides. The controller validates every resource and
// commits the changes of all that pass in one metadata batch, then
// reconfigures the topics' partition logs on their shards before we answer.
//
// Kafka semantics kept: one error code and message per resource, in request
// order (INVALID_CONFIG for an unknown key, a bad value or APPEND/SUBTRACT on
// a non-list key; INVALID_REQUEST for a key or resource named twice or an
// unknown operation; UNKNOWN_TOPIC_OR_PARTITION); validate_only checks and
// changes nothing; DELETE of a key nobody set is not an error. Broker
// resources (type 4) get the controller's INVALID_REQUEST: dynamic broker
// configs are not supported.
#include <string>
#include <vector>

#include "broker/broker.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "controller/controller.h"
#include "net/protocol/api/incremental_alter_configs.h"

namespace ringlog::broker {

task<net::reply> handle_incremental_alter_configs(broker& b, net::request_context& ctx,
                                                  protocol::wire_writer& out) {
  protocol::incremental_alter_configs_request request;
  if (!decode_request(ctx, request, "IncrementalAlterConfigs")) co_return net::reply::close;

  std::vector<controller::incremental_alter_configs_resource> resources;
  resources.reserve(request.resources.size());
  for (const auto& res : request.resources) {
    controller::incremental_alter_configs_resource r;
    // Unknown resource types and operation ids pass through: the controller
    // answers them with a message that names them.
    r.resource.type = static_cast<controller::config_resource_type>(res.resource_type);
    r.resource.name = res.resource_name;
    for (const auto& c : res.configs) {
      r.ops.push_back({c.name, static_cast<controller::config_op>(c.config_operation), c.value});
    }
    resources.push_back(std::move(r));
  }
  auto results =
      co_await b.ctl().incremental_alter_configs(std::move(resources), request.validate_only);

  protocol::incremental_alter_configs_response response;
  response.responses.reserve(results.size());
  for (size_t i = 0; i < results.size(); ++i) {
    auto& r = response.responses.emplace_back();
    r.resource_type = request.resources[i].resource_type;
    r.resource_name = request.resources[i].resource_name;
    r.error_code = results[i].kafka_error();
    if (results[i].ok())
      r.error_message.reset();
    else
      r.error_message = results[i].message;
  }
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
