// broker: one Ringlog node serving the Kafka protocol — its runtime (shards),
// partition logs, metadata controller and listeners, started and stopped
// together, and the services the API handlers reach through it.
//
// Start order: shards, then the controller (replays __cluster_metadata into
// the image), then the partition logs (recovery), then the logs the image
// names but the disk lacks, then the listeners. Stop runs it backwards, so no
// request is in flight when the logs close and write their clean-shutdown
// markers.
//
// Thread safety: start() and stop() from the main thread; the accessors from
// any shard (what they return is shard-local where it says so).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/broker_config.h"
#include "base/result.h"
#include "broker/fetch_waiters.h"
#include "broker/group/group_coordinator.h"
#include "broker/producer_ids.h"
#include "broker/producer_state.h"
#include "net/server.h"

namespace ringlog {
class runtime;
namespace storage {
class log_manager;
}
namespace controller {
class controller;
}
}  // namespace ringlog

namespace ringlog::broker {

class dispatcher;

class broker {
 public:
  explicit broker(broker_config config);
  ~broker();
  broker(const broker&) = delete;
  broker& operator=(const broker&) = delete;

  status start();
  void stop();

  const broker_config& config() const noexcept { return _config; }
  runtime& rt() noexcept { return *_rt; }
  storage::log_manager& logs() noexcept { return *_logs; }
  controller::controller& ctl() noexcept { return *_controller; }
  // The calling shard's registry of parked fetches.
  fetch_waiters& waiters() noexcept;
  // The calling shard's cache of fresh producer ids (InitProducerId).
  producer_ids& pids() noexcept;
  // The calling shard's idempotent-producer state of the partitions it owns.
  producer_states& producers() noexcept;
  // The calling shard's consumer groups (those whose __consumer_offsets
  // partition this shard owns).
  group_coordinator& groups() noexcept;
  // The shard that coordinates `group_id`.
  unsigned group_shard(std::string_view group_id) const noexcept;
  // The cluster id of meta.properties (Kafka's 22-character form).
  const std::string& cluster_id() const noexcept { return _cluster_id; }
  // Where clients reach this node (bound ports replace port 0).
  const std::vector<net::bound_listener>& listeners() const noexcept;

 private:
  broker_config _config;
  std::string _cluster_id;
  std::unique_ptr<runtime> _rt;
  std::unique_ptr<storage::log_manager> _logs;
  std::unique_ptr<controller::controller> _controller;
  std::unique_ptr<dispatcher> _dispatcher;
  std::unique_ptr<net::server> _server;
  std::vector<std::unique_ptr<fetch_waiters>> _waiters;
  std::vector<std::unique_ptr<producer_ids>> _pids;  // one per shard, like _waiters
  std::vector<std::unique_ptr<producer_states>> _producers;
  std::vector<std::unique_ptr<group_coordinator>> _groups;  // one per shard
  bool _started = false;
};

}  // namespace ringlog::broker
