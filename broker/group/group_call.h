// group_call: what the group API handlers share — waiting on the group's
// shard for a JoinGroup/SyncGroup the group parked, and Kafka's form of a
// member's client host.
//
// Thread safety: a parked_call lives in a coroutine frame on the group's
// shard; the group calls its callback on that shard, exactly once.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "engine/runtime/event.h"
#include "engine/runtime/task.h"
#include "net/protocol/errors.h"

namespace ringlog::broker {

class broker;

// Creates __consumer_offsets through the controller when the image lacks it
// (handlers/find_coordinator.cc); COORDINATOR_NOT_AVAILABLE if that fails.
task<protocol::kafka_error> ensure_offsets_topic(broker& b);

template <class Result>
class parked_call {
 public:
  // The callback handed to the group; it must not outlive this object (the
  // group calls it before the coordinator stops, and wait() outlasts that).
  std::function<void(Result)> callback() {
    return [this](Result r) {
      _result = std::move(r);
      _ready.notify_all();
    };
  }
  task<Result> wait() {
    while (!_result) co_await _ready.wait();
    co_return std::move(*_result);
  }

 private:
  std::optional<Result> _result;
  event _ready;
};

// "127.0.0.1:51234" -> "/127.0.0.1", as Kafka reports a member's host.
inline std::string client_host_of(std::string_view peer) {
  const size_t colon = peer.rfind(':');
  std::string_view host = colon == std::string_view::npos ? peer : peer.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return "/" + std::string(host);
}

}  // namespace ringlog::broker
