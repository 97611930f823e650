// Moving work between shards.
//
//   co_await switch_to(2);                 // the rest of this coroutine runs on shard 2
//   auto v = co_await invoke_on(2, fn);    // runs fn on shard 2, resumes here with its result
//
// fn may return a plain value or a task<T>; invoke_on always brings the caller
// back to its own shard, exceptions included. A hop is carried by
// IORING_OP_MSG_RING (one SQE, no lock, no syscall of its own) or by the
// target's locked inbox and eventfd when MSG_RING is unavailable.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "engine/runtime/shard.h"
#include "engine/runtime/task.h"

namespace ringlog {

class switch_awaiter {
 public:
  explicit switch_awaiter(unsigned target) noexcept { _hop.target = target; }
  bool await_ready() const noexcept {
    shard* s = shard::current();
    RINGLOG_ASSERT(s != nullptr, "switch_to outside a shard thread");
    return s->id() == _hop.target;
  }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    _hop.waiter = h;
    shard::current()->post_hop(&_hop);
  }
  void await_resume() const noexcept {}

 private:
  hop _hop;
};

inline switch_awaiter switch_to(unsigned target) noexcept { return switch_awaiter(target); }

// Lets every other ready coroutine of this shard run, then continues.
struct yield_awaiter {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) const { shard::current()->schedule(h); }
  void await_resume() const noexcept {}
};
inline yield_awaiter yield() noexcept { return {}; }

namespace detail {

template <class F>
struct invoke_traits {
  using raw = std::invoke_result_t<F&>;
  static constexpr bool is_async = is_task_v<raw>;
  template <class X>
  struct unwrap {
    using type = X;
  };
  template <class X>
  struct unwrap<task<X>> {
    using type = X;
  };
  using value = typename unwrap<raw>::type;
};

}  // namespace detail

// `fn` must be trivially destructible: capture by reference ([&], safe
// because the caller stays suspended until fn is done) or capture pointers.
// GCC 12 destroys a lambda temporary with non-trivial captures twice when it
// appears in an expression that also holds a co_await (a double free), and
// `co_await invoke_on(s, [...] {...})` is exactly that expression.
template <class F>
task<typename detail::invoke_traits<F>::value> invoke_on(unsigned target, F fn) {
  static_assert(std::is_trivially_destructible_v<F>,
                "invoke_on: capture by reference or by pointer (see the comment above)");
  using traits = detail::invoke_traits<F>;
  using value_t = typename traits::value;
  shard* origin = shard::current();
  RINGLOG_ASSERT(origin != nullptr, "invoke_on outside a shard thread");
  const unsigned home = origin->id();

  std::exception_ptr ex;
  [[maybe_unused]] std::optional<std::conditional_t<std::is_void_v<value_t>, bool, value_t>> out;
  co_await switch_to(target);
  try {
    if constexpr (std::is_void_v<value_t>) {
      if constexpr (traits::is_async) co_await fn();
      else fn();
    } else {
      if constexpr (traits::is_async) out.emplace(co_await fn());
      else out.emplace(fn());
    }
  } catch (...) {
    ex = std::current_exception();
  }
  co_await switch_to(home);
  if (ex) std::rethrow_exception(ex);
  if constexpr (!std::is_void_v<value_t>) co_return std::move(*out);
}

}  // namespace ringlog
