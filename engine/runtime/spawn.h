// Root tasks: spawn (detached, on the calling shard) and runtime::block_on
// (from a non-shard thread, waiting for the value).
//
// A spawned task's failure is logged, never lost: a task<result<T>> that ends
// in an error, and any exception escaping a task, are logged at error level
// with the name given to spawn. Root tasks count as live for runtime::stop(),
// which waits for them (see shard.h).
#pragma once

#include <condition_variable>
#include <coroutine>
#include <exception>
#include <mutex>
#include <optional>
#include <type_traits>

#include "base/log.h"
#include "base/result.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/task.h"

namespace ringlog {

template <class T>
struct is_result : std::false_type {};
template <class T>
struct is_result<result<T>> : std::true_type {};

namespace detail {

// A coroutine that owns itself: it starts suspended, is resumed once by whoever
// creates it, and frees its frame when it finishes.
struct root_task {
  struct promise_type {
    root_task get_return_object() noexcept {
      return root_task{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    std::suspend_never final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    void unhandled_exception() const noexcept { std::terminate(); }  // bodies catch all
  };
  std::coroutine_handle<promise_type> handle;
};

template <class T>
root_task spawn_root(task<T> t, const char* what, runtime* rt) {
  try {
    if constexpr (is_result<T>::value) {
      auto r = co_await std::move(t);
      if (!r) RINGLOG_ERROR("task {} failed: {}", what, r.error().message());
    } else if constexpr (std::is_void_v<T>) {
      co_await std::move(t);
    } else {
      (void)co_await std::move(t);
    }
  } catch (const std::exception& e) {
    RINGLOG_ERROR("task {} threw: {}", what, e.what());
  } catch (...) {
    RINGLOG_ERROR("task {} threw a non-standard exception", what);
  }
  rt->task_finished();
}

template <class T>
struct block_state {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  std::exception_ptr exception;
};

template <class T>
root_task block_root(task<T> t, block_state<T>* state, runtime* rt) {
  std::exception_ptr ex;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(t);
      state->value.emplace(true);
    } else {
      state->value.emplace(co_await std::move(t));
    }
  } catch (...) {
    ex = std::current_exception();
  }
  // Count the task finished before waking the caller, so a stop() that
  // follows block_on sees no live task.
  rt->task_finished();
  {
    std::lock_guard lock(state->mu);
    state->exception = ex;
    state->done = true;
  }
  state->cv.notify_one();
}

}  // namespace detail

// Starts `t` now on the calling shard and returns at its first suspension.
template <class T>
void spawn(task<T> t, const char* what = "spawned") {
  shard* s = shard::current();
  RINGLOG_ASSERT(s != nullptr, "spawn({}) outside a shard thread", what);
  runtime* rt = &s->owner();
  rt->task_started();
  detail::spawn_root(std::move(t), what, rt).handle.resume();
}

template <class T>
T runtime::block_on(unsigned id, task<T> t) {
  RINGLOG_ASSERT(shard::current() == nullptr, "block_on from a shard thread would deadlock it");
  RINGLOG_ASSERT(id < size(), "block_on: no shard {}", id);
  detail::block_state<T> state;
  task_started();
  post(id, detail::block_root(std::move(t), &state, this).handle);
  std::unique_lock lock(state.mu);
  state.cv.wait(lock, [&] { return state.done; });
  if (state.exception) std::rethrow_exception(state.exception);
  if constexpr (!std::is_void_v<T>) return std::move(*state.value);
}

}  // namespace ringlog
