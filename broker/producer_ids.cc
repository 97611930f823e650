#include "broker/producer_ids.h"

#include <utility>

#include "base/assert.h"
#include "controller/controller.h"

namespace ringlog::broker {

task<result<int64_t>> producer_ids::next() {
  // Each pass takes an id, waits for another coroutine's refill to end, or
  // refills once itself and returns with its outcome: no caller asks the
  // controller more than once.
  while (_next == _end) {
    if (_refilling) {
      co_await _refilled.wait();
      continue;
    }
    _refilling = true;
    auto block = co_await _ctl.allocate_producer_ids(k_block_size);
    _refilling = false;
    if (block) {
      RINGLOG_ASSERT(block->first >= 0 && block->count == k_block_size,
                     "producer id block at {} of {} ids; asked for {}", block->first, block->count,
                     k_block_size);
      _next = block->first;
      _end = block->first + block->count;
    }
    // The waiters run after this coroutine next suspends or ends: they find
    // the new block, or (after a failure) try a refill of their own.
    _refilled.notify_all();
    if (!block) co_return std::move(block).error();
  }
  co_return _next++;
}

}  // namespace ringlog::broker
