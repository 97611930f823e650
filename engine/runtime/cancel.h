// cancel_source: cancels a group of pending operations and timers at once (a
// connection closing, a long poll answered early). Operations and timers join
// a source with .with_cancel(src); cancel() makes each complete with
// ECANCELED, and anything that joins afterwards fails at once without being
// submitted.
//
// Shard-local: a source and everything joined to it belong to one shard. A
// source must outlive the operations joined to it (asserted).
#pragma once

#include "base/assert.h"

namespace ringlog {

// A member of a cancel_source's intrusive list (lives in an awaiter).
struct cancellable {
  cancellable* prev = nullptr;
  cancellable* next = nullptr;
  void (*on_cancel)(cancellable*) = nullptr;
};

class cancel_source {
 public:
  cancel_source() = default;
  cancel_source(const cancel_source&) = delete;
  cancel_source& operator=(const cancel_source&) = delete;
  ~cancel_source() { RINGLOG_ASSERT(_head == nullptr, "cancel_source destroyed with waiters"); }

  bool cancelled() const noexcept { return _cancelled; }

  void cancel() {
    _cancelled = true;
    // on_cancel may complete synchronously and unlink, so always take the head.
    while (_head != nullptr) {
      cancellable* c = _head;
      unlink(c);
      c->on_cancel(c);
    }
  }

  void link(cancellable* c) noexcept {
    c->prev = nullptr;
    c->next = _head;
    if (_head != nullptr) _head->prev = c;
    _head = c;
  }
  void unlink(cancellable* c) noexcept {
    if (c->prev != nullptr) c->prev->next = c->next;
    else if (_head == c) _head = c->next;
    else return;  // not linked
    if (c->next != nullptr) c->next->prev = c->prev;
    c->prev = c->next = nullptr;
  }

 private:
  cancellable* _head = nullptr;
  bool _cancelled = false;
};

}  // namespace ringlog
