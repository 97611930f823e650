// task<T>: the coroutine type of Ringlog.
//
// A task is lazy (nothing runs until it is awaited or spawned), move-only, and
// owns its coroutine frame. Awaiting a task starts it by symmetric transfer and
// its completion transfers straight back to the awaiter, so a chain of awaits
// neither grows the stack nor allocates beyond each frame.
//
// Contract: a task finishes on the shard it started on. Code that moves to
// another shard (switch_to) moves back before returning; invoke_on does this.
// An exception escaping a task body is captured and rethrown to the awaiter;
// the data path does not throw, so this serves bugs in third-party code.
#pragma once

#include <coroutine>
#include <exception>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "base/assert.h"

namespace ringlog {

template <class T = void>
class task;

namespace detail {

struct task_promise_base {
  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
      return h.promise().continuation;
    }
    void await_resume() const noexcept {}
  };

  std::suspend_always initial_suspend() const noexcept { return {}; }
  final_awaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }

  std::coroutine_handle<> continuation = std::noop_coroutine();
  std::exception_ptr exception;
};

template <class T>
struct task_promise final : task_promise_base {
  task_promise() noexcept {}
  ~task_promise() {
    if (has_value) std::destroy_at(&value);
  }
  task<T> get_return_object() noexcept;

  template <class U>
    requires std::is_constructible_v<T, U&&>
  void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    new (&value) T(std::forward<U>(v));
    has_value = true;
  }

  T take() {
    if (exception) std::rethrow_exception(exception);
    RINGLOG_ASSERT(has_value, "task finished without a value");
    return std::move(value);
  }

  union {
    T value;
  };
  bool has_value = false;
};

template <>
struct task_promise<void> final : task_promise_base {
  task<void> get_return_object() noexcept;
  void return_void() const noexcept {}
  void take() const {
    if (exception) std::rethrow_exception(exception);
  }
};

}  // namespace detail

template <class T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::task_promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;
  using value_type = T;

  task() noexcept = default;
  explicit task(handle_type h) noexcept : _h(h) {}
  task(task&& o) noexcept : _h(std::exchange(o._h, {})) {}
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      reset();
      _h = std::exchange(o._h, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() { reset(); }

  bool valid() const noexcept { return static_cast<bool>(_h); }
  bool done() const noexcept { return _h && _h.done(); }

  struct awaiter {
    handle_type h;
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> cont) noexcept {
      h.promise().continuation = cont;
      return h;
    }
    T await_resume() { return h.promise().take(); }
  };

  awaiter operator co_await() && noexcept {
    RINGLOG_ASSERT(_h && !_h.done(), "awaiting an empty or finished task");
    return awaiter{_h};
  }
  awaiter operator co_await() & noexcept {
    RINGLOG_ASSERT(_h && !_h.done(), "awaiting an empty or finished task");
    return awaiter{_h};
  }

  // Gives up ownership of the frame (for spawn and when_all, which destroy it).
  handle_type release() noexcept { return std::exchange(_h, {}); }

 private:
  void reset() noexcept {
    if (_h) {
      _h.destroy();
      _h = {};
    }
  }

  handle_type _h;
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>(std::coroutine_handle<task_promise<T>>::from_promise(*this));
}
inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>(std::coroutine_handle<task_promise<void>>::from_promise(*this));
}
}  // namespace detail

template <class T>
struct is_task : std::false_type {};
template <class T>
struct is_task<task<T>> : std::true_type {};
template <class T>
inline constexpr bool is_task_v = is_task<std::remove_cvref_t<T>>::value;

}  // namespace ringlog
