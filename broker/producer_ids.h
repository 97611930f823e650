// producer_ids: one shard's supply of fresh producer ids for InitProducerId.
//
// Ids come from the controller in blocks (controller::allocate_producer_ids:
// one ProducerIdsRecord and one fsync per block), so a block is never handed
// out twice, across restarts too. Each shard keeps the rest of its current
// block and hands ids out one at a time; only an empty cache costs a trip to
// the controller shard. Ids left in a cache when the broker stops are never
// used: the id space is 2^63, a restart wastes at most k_block_size per shard.
//
// Thread safety: one producer_ids per shard, touched only by that shard
// (broker::pids()). Coroutines of one shard that find the cache empty at once
// share one refill: the first asks the controller, the others wait for it.
// Lifetime: owned by the broker; no caller may be suspended in next() when it
// is destroyed (the listeners stop first).
#pragma once

#include <cstdint>

#include "base/result.h"
#include "engine/runtime/event.h"
#include "engine/runtime/task.h"

namespace ringlog::controller {
class controller;
}

namespace ringlog::broker {

class producer_ids {
 public:
  // Ids fetched per refill. Kafka's controller hands out blocks of 1000 too:
  // a block per thousand producer starts keeps the metadata log small.
  static constexpr int32_t k_block_size = 1000;

  explicit producer_ids(controller::controller& ctl) noexcept : _ctl(ctl) {}
  producer_ids(const producer_ids&) = delete;
  producer_ids& operator=(const producer_ids&) = delete;

  // A producer id no one has had before. Errors: those of
  // controller::allocate_producer_ids when the cache is empty and the
  // controller cannot hand out a block (stopped, metadata log offline).
  task<result<int64_t>> next();

  // Ids left in the current block (tests, metrics).
  int64_t cached() const noexcept { return _end - _next; }

 private:
  controller::controller& _ctl;
  // The unused rest of the current block: [_next, _end).
  int64_t _next = 0;
  int64_t _end = 0;
  bool _refilling = false;
  event _refilled;  // notified when a refill ends, successful or not
};

}  // namespace ringlog::broker
