// Timers on the calling shard: sleep_for / sleep_until. Due timers fire in
// deadline order, and timers with equal deadlines in the order they were set.
// They live in a per-shard heap whose earliest deadline bounds the loop's wait,
// so a timer costs no SQE and no allocation.
//
//   auto st = co_await sleep_for(100ms).with_cancel(src);   // status: ECANCELED if cancelled
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <coroutine>

#include "base/clock.h"
#include "base/result.h"
#include "base/saturating.h"
#include "engine/runtime/cancel.h"
#include "engine/runtime/shard.h"

namespace ringlog {

class timer_awaiter {
 public:
  explicit timer_awaiter(int64_t deadline_ns) noexcept { _node.deadline_ns = deadline_ns; }

  timer_awaiter with_cancel(cancel_source& s) && noexcept {
    _cancel = &s;
    return std::move(*this);
  }

  bool await_ready() noexcept {
    if (_cancel != nullptr && _cancel->cancelled()) {
      _node.res = -ECANCELED;
      return true;
    }
    return false;
  }
  void await_suspend(std::coroutine_handle<> h) {
    shard* s = shard::current();
    RINGLOG_ASSERT(s != nullptr, "sleep awaited outside a shard thread");
    _node.waiter = h;
    _shard = s;
    if (_cancel != nullptr) {
      _link.self = this;
      _link.on_cancel = &timer_awaiter::on_cancel;
      _cancel->link(&_link);
    }
    s->add_timer(&_node);
  }
  status await_resume() noexcept {
    if (_cancel != nullptr) _cancel->unlink(&_link);
    if (_node.res < 0) return error::from_errno(-_node.res, "sleep");
    return ok();
  }

 private:
  struct link : cancellable {
    timer_awaiter* self = nullptr;
  };
  static void on_cancel(cancellable* l) {
    timer_awaiter* t = static_cast<link*>(l)->self;
    t->_shard->cancel_timer(&t->_node);
  }

  timer_node _node;
  link _link;
  cancel_source* _cancel = nullptr;
  shard* _shard = nullptr;
};

inline timer_awaiter sleep_until(int64_t deadline_monotonic_ns) noexcept {
  return timer_awaiter(deadline_monotonic_ns);
}

// Deadlines saturate: a duration past the end of the clock sleeps until
// cancelled. Kafka spells "never" as Long.MAX_VALUE milliseconds (flush.ms,
// for one); converted to nanoseconds or added to the clock it would wrap
// and fire at once, in a loop.
inline timer_awaiter sleep_for(std::chrono::nanoseconds d) noexcept {
  const int64_t now = monotonic_ns();
  return timer_awaiter(d.count() <= 0 ? now : add_saturating(now, d.count()));
}

// sleep_for for a count of milliseconds from configuration, which may be as
// large as Long.MAX_VALUE (milliseconds(ms) would overflow in the conversion).
inline timer_awaiter sleep_for_ms(int64_t ms) noexcept {
  constexpr int64_t k_max_ms = INT64_MAX / 1'000'000;
  return ms >= k_max_ms ? timer_awaiter(INT64_MAX)
                        : sleep_for(std::chrono::nanoseconds(ms * 1'000'000));
}

}  // namespace ringlog
