// Blocking system calls that io_uring has no opcode for (syncfs), run on a
// worker thread so the shard keeps serving:
//
//   int rc = co_await run_blocking([fd] { return ::syncfs(fd) == 0 ? 0 : errno; });
//
// The caller is suspended, `fn` runs on one of the runtime's blocking
// threads, and the caller resumes on its own shard with fn's value (posted
// through the shard's inbox). fn must not touch shard-owned state and must
// not throw. Meant for rare, slow calls (milliseconds): each costs two
// thread hand-offs.
//
// Thread safety: run_blocking is called on a shard; the pool is the
// runtime's, shared by its shards. Lifetime: a job lives in the awaiting
// coroutine's frame; the shard cannot exit while the coroutine is live, and
// the pool's threads are joined by runtime::stop() after the shards.
#pragma once

#include <coroutine>
#include <optional>
#include <type_traits>
#include <utility>

#include "base/assert.h"
#include "engine/runtime/shard.h"

namespace ringlog {

// One call handed to a blocking thread.
class blocking_job {
 public:
  virtual void run() noexcept = 0;
  std::coroutine_handle<> waiter;
  unsigned shard_id = 0;

 protected:
  ~blocking_job() = default;
};

// Queues `job` for the runtime's blocking threads (started on first use);
// when it has run, its waiter is posted back to shard `job->shard_id`.
void submit_blocking(runtime& rt, blocking_job* job);

template <class F>
class blocking_awaiter final : public blocking_job {
 public:
  using value_type = std::invoke_result_t<F&>;
  static_assert(!std::is_void_v<value_type>, "run_blocking needs a value to hand back");

  explicit blocking_awaiter(F fn) : _fn(std::move(fn)) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    shard* s = shard::current();
    RINGLOG_ASSERT(s != nullptr, "run_blocking outside a shard thread");
    waiter = h;
    shard_id = s->id();
    submit_blocking(s->owner(), this);
  }
  value_type await_resume() noexcept { return std::move(*_value); }
  void run() noexcept override { _value.emplace(_fn()); }

 private:
  F _fn;
  std::optional<value_type> _value;
};

template <class F>
[[nodiscard]] blocking_awaiter<F> run_blocking(F fn) {
  return blocking_awaiter<F>(std::move(fn));
}

}  // namespace ringlog
