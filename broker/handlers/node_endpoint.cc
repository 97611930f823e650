#include "broker/handlers/node_endpoint.h"

#include "broker/broker.h"

namespace ringlog::broker {

node_endpoint this_node(const broker& b, const net::connection_info& connection) {
  const net::bound_listener* self = nullptr;
  for (const auto& l : b.listeners()) {
    if (l.name == connection.listener) self = &l;
  }
  node_endpoint out;
  out.node_id = b.config().node_id;
  out.host = self != nullptr && !self->host.empty() ? self->host : connection.local_host;
  out.port = self != nullptr ? self->port : 0;
  return out;
}

}  // namespace ringlog::broker
