// when_all: runs tasks concurrently on the calling shard and resumes when all
// have finished, with their values in argument order. Every task runs to its
// end even when another throws; the first exception (in argument order) is
// rethrown after all are done.
//
//   auto [a, b] = co_await when_all(read_a(), read_b());
//   std::vector<status> all = co_await when_all(std::move(tasks));
//
// The children must finish on this shard (the task contract), so the counter
// needs no atomics.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/runtime/task.h"

namespace ringlog {
namespace detail {

struct when_all_latch {
  size_t count = 0;
  std::coroutine_handle<> parent;
};

struct when_all_promise_base {
  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
      when_all_latch* l = h.promise().latch;
      return --l->count == 0 ? l->parent : std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };
  std::suspend_always initial_suspend() const noexcept { return {}; }
  final_awaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }

  when_all_latch* latch = nullptr;
  std::exception_ptr exception;
};

template <class T>
struct when_all_child {
  struct promise_type : when_all_promise_base {
    when_all_child get_return_object() noexcept {
      return when_all_child{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    template <class U>
    void return_value(U&& v) {
      value.emplace(std::forward<U>(v));
    }
    std::optional<T> value;
  };
  explicit when_all_child(std::coroutine_handle<promise_type> h) noexcept : handle(h) {}
  when_all_child(when_all_child&& o) noexcept : handle(std::exchange(o.handle, {})) {}
  when_all_child(const when_all_child&) = delete;
  ~when_all_child() {
    if (handle) handle.destroy();
  }
  T take() {
    if (handle.promise().exception) std::rethrow_exception(handle.promise().exception);
    return std::move(*handle.promise().value);
  }
  std::coroutine_handle<promise_type> handle;
};

template <>
struct when_all_child<void> {
  struct promise_type : when_all_promise_base {
    when_all_child get_return_object() noexcept {
      return when_all_child{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    void return_void() const noexcept {}
  };
  explicit when_all_child(std::coroutine_handle<promise_type> h) noexcept : handle(h) {}
  when_all_child(when_all_child&& o) noexcept : handle(std::exchange(o.handle, {})) {}
  when_all_child(const when_all_child&) = delete;
  ~when_all_child() {
    if (handle) handle.destroy();
  }
  void take() {
    if (handle.promise().exception) std::rethrow_exception(handle.promise().exception);
  }
  std::coroutine_handle<promise_type> handle;
};

template <class T>
when_all_child<T> make_when_all_child(task<T> t) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(t);
  } else {
    co_return co_await std::move(t);
  }
}

// Starts each child; suspends the parent unless all finished synchronously.
// The latch starts at n + 1 so no child can resume the parent before every
// child has been started.
class when_all_awaiter {
 public:
  when_all_awaiter(std::vector<std::coroutine_handle<>> children,
                   std::vector<when_all_promise_base*> promises) noexcept
      : _children(std::move(children)), _promises(std::move(promises)) {}

  bool await_ready() const noexcept { return _children.empty(); }
  bool await_suspend(std::coroutine_handle<> parent) noexcept {
    _latch.count = _children.size() + 1;
    _latch.parent = parent;
    for (auto* p : _promises) p->latch = &_latch;
    for (auto h : _children) h.resume();
    return --_latch.count != 0;
  }
  void await_resume() const noexcept {}

 private:
  std::vector<std::coroutine_handle<>> _children;
  std::vector<when_all_promise_base*> _promises;
  when_all_latch _latch;
};

}  // namespace detail

template <class T>
task<std::conditional_t<std::is_void_v<T>, void, std::vector<T>>> when_all(
    std::vector<task<T>> tasks) {
  std::vector<detail::when_all_child<T>> children;
  children.reserve(tasks.size());
  std::vector<std::coroutine_handle<>> handles;
  std::vector<detail::when_all_promise_base*> promises;
  handles.reserve(tasks.size());
  promises.reserve(tasks.size());
  for (auto& t : tasks) {
    children.push_back(detail::make_when_all_child(std::move(t)));
    handles.push_back(children.back().handle);
    promises.push_back(&children.back().handle.promise());
  }
  co_await detail::when_all_awaiter(std::move(handles), std::move(promises));
  if constexpr (std::is_void_v<T>) {
    for (auto& c : children) c.take();
  } else {
    std::vector<T> out;
    out.reserve(children.size());
    for (auto& c : children) out.push_back(c.take());
    co_return out;
  }
}

template <class... T>
  requires(sizeof...(T) > 0 && (!std::is_void_v<T> && ...))
task<std::tuple<T...>> when_all(task<T>... tasks) {
  std::tuple<detail::when_all_child<T>...> children(
      detail::make_when_all_child(std::move(tasks))...);
  std::vector<std::coroutine_handle<>> handles;
  std::vector<detail::when_all_promise_base*> promises;
  std::apply(
      [&](auto&... c) {
        (handles.push_back(c.handle), ...);
        (promises.push_back(&c.handle.promise()), ...);
      },
      children);
  co_await detail::when_all_awaiter(std::move(handles), std::move(promises));
  co_return std::apply([](auto&... c) { return std::tuple<T...>(c.take()...); }, children);
}

}  // namespace ringlog
