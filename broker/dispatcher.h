// dispatcher: the broker's request_handler. Routes each request to its API's
// handler when the API and version are ones we advertise; answers an
// ApiVersions at a version above ours with UNSUPPORTED_VERSION in the v0
// layout (what clients expect before retrying lower); closes the connection,
// with a logged reason, for any other API or version we do not serve — as
// Kafka does, since it cannot know that request's response layout.
#pragma once

#include "net/request_handler.h"

namespace ringlog::broker {

class broker;

class dispatcher final : public net::request_handler {
 public:
  explicit dispatcher(broker& b) : _broker(b) {}
  task<net::reply> handle(net::request_context& request, protocol::wire_writer& out) override;

 private:
  broker& _broker;
};

}  // namespace ringlog::broker
