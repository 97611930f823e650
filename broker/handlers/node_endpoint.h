// What this node tells a client about itself: its id and the host and port
// to reach it at, as seen from the connection a request came in on. Metadata
// and DescribeCluster both list this node as the cluster's only broker and
// must agree on it, or a client bootstrapped through one would dial a
// different address after the other.
//
// Thread safety: reads the broker's bound listeners, fixed once it started;
// any shard.
#pragma once

#include <cstdint>
#include <string>

#include "net/request_handler.h"

namespace ringlog::broker {

class broker;

struct node_endpoint {
  int32_t node_id = 0;
  std::string host;
  int32_t port = 0;
};

// The listener the connection came in on gives the port and, unless it binds
// every interface (empty host), the host; otherwise the address the client
// dialled, which it can evidently reach.
node_endpoint this_node(const broker& b, const net::connection_info& connection);

}  // namespace ringlog::broker
