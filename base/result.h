// result<T>: a T or an `error`, and `status` (= result<void>). Every fallible
// function in Ringlog returns one of these; see CONTRIBUTING.md for the policy.
// Accessing the value of a failed result, or the error of a successful one, is
// a programmer error and aborts.
#pragma once

#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "base/assert.h"
#include "base/error.h"

namespace ringlog {

template <class T>
class [[nodiscard]] result {
  static_assert(!std::is_reference_v<T>, "result<T&> is not supported; use a pointer");
  static_assert(!std::is_same_v<std::remove_cv_t<T>, ringlog::error>, "result<error> is ambiguous");

 public:
  using value_type = T;

  result(const T& v) : _ok(true) { new (&_value) T(v); }  // NOLINT: implicit by design
  result(T&& v) : _ok(true) { new (&_value) T(std::move(v)); }  // NOLINT
  result(ringlog::error e) : _ok(false) { new (&_error) ringlog::error(std::move(e)); }  // NOLINT
  template <class... A>
  explicit result(std::in_place_t, A&&... args) : _ok(true) {
    new (&_value) T(std::forward<A>(args)...);
  }

  result(const result& o) : _ok(o._ok) {
    if (_ok) new (&_value) T(o._value);
    else new (&_error) ringlog::error(o._error);
  }
  result(result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) : _ok(o._ok) {
    if (_ok) new (&_value) T(std::move(o._value));
    else new (&_error) ringlog::error(std::move(o._error));
  }
  result& operator=(const result& o) {
    if (this != &o) {
      destroy();
      _ok = o._ok;
      if (_ok) new (&_value) T(o._value);
      else new (&_error) ringlog::error(o._error);
    }
    return *this;
  }
  result& operator=(result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (this != &o) {
      destroy();
      _ok = o._ok;
      if (_ok) new (&_value) T(std::move(o._value));
      else new (&_error) ringlog::error(std::move(o._error));
    }
    return *this;
  }
  ~result() { destroy(); }

  bool has_value() const noexcept { return _ok; }
  explicit operator bool() const noexcept { return _ok; }

  T& value() & {
    RINGLOG_ASSERT(_ok, "value() of a failed result: {}", _error.message());
    return _value;
  }
  const T& value() const& {
    RINGLOG_ASSERT(_ok, "value() of a failed result: {}", _error.message());
    return _value;
  }
  T&& value() && {
    RINGLOG_ASSERT(_ok, "value() of a failed result: {}", _error.message());
    return std::move(_value);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const ringlog::error& error() const& {
    RINGLOG_ASSERT(!_ok, "error() of a successful result");
    return _error;
  }
  ringlog::error&& error() && {
    RINGLOG_ASSERT(!_ok, "error() of a successful result");
    return std::move(_error);
  }

 private:
  void destroy() noexcept {
    if (_ok) std::destroy_at(&_value);
    else std::destroy_at(&_error);
  }

  bool _ok;
  union {
    T _value;
    ringlog::error _error;
  };
};

template <>
class [[nodiscard]] result<void> {
 public:
  using value_type = void;

  result() = default;
  result(ringlog::error e) : _ok(false), _error(std::move(e)) {}  // NOLINT: implicit by design

  bool has_value() const noexcept { return _ok; }
  explicit operator bool() const noexcept { return _ok; }
  void value() const {
    RINGLOG_ASSERT(_ok, "value() of a failed status: {}", _error.message());
  }

  const ringlog::error& error() const& {
    RINGLOG_ASSERT(!_ok, "error() of a successful status");
    return _error;
  }
  ringlog::error&& error() && {
    RINGLOG_ASSERT(!_ok, "error() of a successful status");
    return std::move(_error);
  }

 private:
  bool _ok = true;
  // Only meaningful when !_ok; the system domain with code 0 otherwise.
  ringlog::error _error{system_domain(), 0};
};

using status = result<void>;

inline status ok() { return {}; }

}  // namespace ringlog
