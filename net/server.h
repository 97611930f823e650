// server: the Kafka listeners of one node.
//
// Every shard gets its own listening socket per listener, bound to the same
// address with SO_REUSEPORT, so the kernel spreads new connections across
// shards and a connection lives on the shard that accepted it. Sockets are
// created and bound on the main thread before any shard accepts: a listener
// on port 0 gets its port from the first bind and the other shards bind that
// same port, so tests can ask for an ephemeral port. A port that another
// socket still holds (a broker killed a moment ago) is waited for, never
// shared: see wait_for_free_port in server.cc.
//
// Lifetime: start() and stop() from the main thread, with the runtime
// running. stop() stops accepting, shuts every connection down (cancelling
// their long polls) and returns when all of them have closed.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/broker_config.h"
#include "base/result.h"
#include "engine/runtime/shard.h"
#include "net/connection.h"
#include "net/request_handler.h"

namespace ringlog::net {

struct server_config {
  std::vector<listener> listeners;
  connection_limits limits;
  int backlog = 1024;
  // queued.max.request.bytes: request frames held in memory at once over the
  // whole broker (each shard gets its share); -1 for no bound.
  int64_t queued_max_request_bytes = -1;
  // How long start() waits for another socket to release a listener's port
  // (a broker killed a moment ago) before it fails.
  std::chrono::milliseconds port_wait{10'000};
};

// A listener as bound: the port the kernel chose when the config said 0.
struct bound_listener {
  std::string name;
  std::string host;
  uint16_t port = 0;
};

class server {
 public:
  server(runtime& rt, server_config config, request_handler& handler);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds every listener on every shard and starts accepting.
  status start();
  void stop();

  const std::vector<bound_listener>& bound() const noexcept { return _bound; }
  // Connections open now, over all shards.
  uint64_t connections() const noexcept;

 private:
  struct shard_state;

  task<void> accept_loop(unsigned shard, size_t listener_index);
  task<void> serve_connection(shard_state* state, std::unique_ptr<connection> c);
  task<void> stop_shard();

  runtime& _rt;
  server_config _config;
  request_handler& _handler;
  std::vector<bound_listener> _bound;
  std::vector<std::unique_ptr<shard_state>> _shards;
  bool _started = false;
};

}  // namespace ringlog::net
