// event: coroutines on one shard wait until someone says "something changed"
// (a response became ready, an append moved a log's end, a slot freed up).
//
//   while (!ready()) co_await ev.wait();                   // wake_reason::notified
//   auto why = co_await ev.wait_until(deadline_ns, &src);  // or timed_out / cancelled
//
// Like a condition variable on one thread: notify_all() wakes every current
// waiter, and a waiter re-checks its condition, so a notify with no waiter is
// simply not needed by anyone (no latching). A wait with a deadline uses the
// shard's timer heap; one joined to a cancel_source ends when it is cancelled.
// Exactly one of notify, timer and cancel resumes a waiter; the others find it
// gone.
//
// Shard-local: the event, its waiters and their notifier share one shard. An
// event must outlive its waiters (asserted).
#pragma once

#include <coroutine>
#include <cstdint>

#include "base/assert.h"
#include "engine/runtime/cancel.h"
#include "engine/runtime/shard.h"

namespace ringlog {

enum class wake_reason { notified, timed_out, cancelled };

class event {
 public:
  class awaiter;

  event() = default;
  event(const event&) = delete;
  event& operator=(const event&) = delete;
  ~event() { RINGLOG_ASSERT(_head == nullptr, "event destroyed with waiters"); }

  // Waits for the next notify_all(), or until cancelled.
  inline awaiter wait(cancel_source* cancel = nullptr) noexcept;
  // Waits for the next notify_all() until the monotonic deadline.
  inline awaiter wait_until(int64_t deadline_ns, cancel_source* cancel = nullptr) noexcept;

  inline void notify_all() noexcept;
  bool has_waiters() const noexcept { return _head != nullptr; }

 private:
  inline void unlink(awaiter* a) noexcept;

  awaiter* _head = nullptr;
};

class event::awaiter {
 public:
  awaiter(event& ev, int64_t deadline_ns, cancel_source* cancel) noexcept
      : _event(&ev), _cancel(cancel), _has_deadline(deadline_ns >= 0) {
    _timer.deadline_ns = deadline_ns;
  }
  awaiter(const awaiter&) = delete;
  awaiter& operator=(const awaiter&) = delete;
  awaiter(awaiter&& o) noexcept
      : _event(o._event), _cancel(o._cancel), _has_deadline(o._has_deadline) {
    RINGLOG_ASSERT(!o._linked, "event awaiter moved while waiting");
    _timer.deadline_ns = o._timer.deadline_ns;
  }

  bool await_ready() noexcept {
    if (_cancel != nullptr && _cancel->cancelled()) {
      _reason = wake_reason::cancelled;
      return true;
    }
    return false;
  }

  void await_suspend(std::coroutine_handle<> h) noexcept {
    _shard = shard::current();
    RINGLOG_ASSERT(_shard != nullptr, "event awaited outside a shard thread");
    _waiter = h;
    _next = _event->_head;
    if (_next != nullptr) _next->_prev = this;
    _event->_head = this;
    _linked = true;
    if (_has_deadline) {
      _timer.waiter = h;
      _shard->add_timer(&_timer);
    }
    if (_cancel != nullptr) {
      _link.self = this;
      _link.on_cancel = &awaiter::on_cancel;
      _cancel->link(&_link);
    }
  }

  wake_reason await_resume() noexcept {
    if (_linked) {  // the timer fired first
      _event->unlink(this);
      _reason = wake_reason::timed_out;
    }
    if (_cancel != nullptr) _cancel->unlink(&_link);
    return _reason;
  }

 private:
  friend class event;

  struct cancel_link : cancellable {
    awaiter* self = nullptr;
  };

  // Resumes the waiter once, whoever calls first.
  void wake(wake_reason why) noexcept {
    _event->unlink(this);
    _reason = why;
    if (!_has_deadline) {
      _shard->schedule(_waiter);
    } else if (_timer.heap_index != SIZE_MAX) {
      _shard->cancel_timer(&_timer);  // schedules the waiter
    }
    // else the timer already fired and the waiter is scheduled.
  }
  static void on_cancel(cancellable* l) noexcept {
    awaiter* a = static_cast<cancel_link*>(l)->self;
    if (a->_linked) a->wake(wake_reason::cancelled);
  }

  event* _event;
  cancel_source* _cancel;
  bool _has_deadline;
  bool _linked = false;
  wake_reason _reason = wake_reason::notified;
  shard* _shard = nullptr;
  std::coroutine_handle<> _waiter;
  awaiter* _prev = nullptr;
  awaiter* _next = nullptr;
  timer_node _timer;
  cancel_link _link;
};

event::awaiter event::wait(cancel_source* cancel) noexcept { return awaiter(*this, -1, cancel); }

event::awaiter event::wait_until(int64_t deadline_ns, cancel_source* cancel) noexcept {
  return awaiter(*this, deadline_ns < 0 ? 0 : deadline_ns, cancel);
}

void event::unlink(awaiter* a) noexcept {
  if (!a->_linked) return;
  if (a->_prev != nullptr) a->_prev->_next = a->_next;
  else _head = a->_next;
  if (a->_next != nullptr) a->_next->_prev = a->_prev;
  a->_prev = a->_next = nullptr;
  a->_linked = false;
}

void event::notify_all() noexcept {
  while (_head != nullptr) _head->wake(wake_reason::notified);
}

}  // namespace ringlog
