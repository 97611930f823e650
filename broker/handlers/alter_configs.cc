// AlterConfigs (the legacy, whole-set form): each resource's config list
// becomes its complete set of overrides, so a key left out returns to the
// broker default. The controller validates every resource and commits the
// changes of all that pass in one metadata batch, then reconfigures the
// topics' partition logs on their shards before we answer.
//
// Kafka semantics kept: one error code and message per resource, in request
// order (INVALID_CONFIG for an unknown key or a bad value, naming the key;
// UNKNOWN_TOPIC_OR_PARTITION; INVALID_REQUEST for a resource named twice);
// validate_only checks and changes nothing. Broker resources (type 4) get the
// controller's INVALID_REQUEST, because dynamic broker configs are not
// supported: broker keys come from the config file only.
#include <string>
#include <vector>

#include "broker/broker.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "controller/controller.h"
#include "net/protocol/api/alter_configs.h"

namespace ringlog::broker {

task<net::reply> handle_alter_configs(broker& b, net::request_context& ctx,
                                      protocol::wire_writer& out) {
  protocol::alter_configs_request request;
  if (!decode_request(ctx, request, "AlterConfigs")) co_return net::reply::close;

  std::vector<controller::alter_configs_resource> resources;
  resources.reserve(request.resources.size());
  for (const auto& res : request.resources) {
    controller::alter_configs_resource r;
    // Any type id passes through: the controller answers the ones it does
    // not serve with a message naming the type.
    r.resource.type = static_cast<controller::config_resource_type>(res.resource_type);
    r.resource.name = res.resource_name;
    for (const auto& c : res.configs) r.configs.push_back({c.name, c.value});
    resources.push_back(std::move(r));
  }
  auto results = co_await b.ctl().alter_configs(std::move(resources), request.validate_only);

  protocol::alter_configs_response response;
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
