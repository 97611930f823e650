// request_budget: the bytes of request frames one shard holds in memory,
// Kafka's queued.max.request.bytes split over the shards. Bytes count as they
// arrive (a size prefix alone costs nothing, so connections that send one and
// stall hold no budget) and until the request's response has been sent. A
// connection starts reading a new frame only while the shard is under its
// budget; past it, connections stop reading and their clients wait on TCP
// backpressure instead of the broker running out of memory. A frame already
// being read always finishes (no deadlock between half-read frames), so the
// shard may pass its budget by the frames in progress.
//
// Shard-local (no atomics): one per shard, owned by the server, outliving its
// connections.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/clock.h"
#include "base/log.h"
#include "engine/runtime/cancel.h"
#include "engine/runtime/event.h"
#include "engine/runtime/task.h"

namespace ringlog::net {

class request_budget {
 public:
  // max_bytes < 0: unbounded (reserve never waits).
  explicit request_budget(int64_t max_bytes) noexcept : _max_bytes(max_bytes) {}
  request_budget(const request_budget&) = delete;
  request_budget& operator=(const request_budget&) = delete;

  // Waits until the shard is under its budget (at once when it is); false
  // when `cancel` fired first. The connection's id and peer name it in the
  // log line said when waiting starts.
  task<bool> wait_for_room(cancel_source* cancel, uint64_t connection_id, std::string_view peer) {
    if (!full()) co_return true;
    ++_waits;
    if (_limiter.allow(monotonic_ns())) {
      RINGLOG_WARN("connection {} from {}: requests in flight on this shard hold {} bytes of its "
                   "{} (queued.max.request.bytes over the shards); reading the next request "
                   "waits until responses are sent. Raise queued.max.request.bytes if this is "
                   "steady",
                   connection_id, peer, _reserved, _max_bytes);
    }
    while (full()) {
      const wake_reason why = co_await _freed.wait(cancel);
      if (why == wake_reason::cancelled) co_return false;
    }
    co_return true;
  }

  // Bytes of a frame that arrived.
  void take(uint64_t bytes) noexcept { _reserved += bytes; }

  void release(uint64_t bytes) noexcept {
    RINGLOG_ASSERT(bytes <= _reserved, "request_budget: releasing {} of {} reserved bytes", bytes,
                   _reserved);
    _reserved -= bytes;
    if (_freed.has_waiters() && !full()) _freed.notify_all();
  }

  uint64_t reserved() const noexcept { return _reserved; }
  // How many frames had to wait for room (tests, metrics).
  uint64_t waits() const noexcept { return _waits; }

 private:
  bool full() const noexcept {
    return _max_bytes >= 0 && _reserved >= static_cast<uint64_t>(_max_bytes);
  }

  int64_t _max_bytes;
  uint64_t _reserved = 0;
  uint64_t _waits = 0;
  event _freed;
  log_limiter _limiter{10'000'000'000};
};

}  // namespace ringlog::net
