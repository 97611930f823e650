// The one error type of Ringlog. An operating error (bad input, full disk, peer
// gone) travels as a value: `error` inside a `result<T>` (base/result.h).
// Programmer errors are not values; they abort through RINGLOG_ASSERT.
//
// An error names its domain (each folder has one `enum class errc` and a
// domain), its code in that domain, the errno that caused it when the OS was
// involved, the operation that failed ("write", "config") and an optional
// detail. Kafka error codes never appear here; the protocol edge maps errors to
// them through one table.
//
// Thread safety: a value type; copies are independent.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringlog {

// A family of error codes: one per folder, plus the system (errno) domain.
struct error_domain {
  std::string_view name;
  // Describes one code of this domain; never returns an empty view.
  std::string_view (*describe)(int code) noexcept;
};

// The domain of raw errno values: code() is the errno.
const error_domain& system_domain() noexcept;

class error {
 public:
  error(const error_domain& domain, int code, std::string_view op = {}, std::string detail = {},
        int sys_errno = 0)
      : _domain(&domain), _code(code), _sys_errno(sys_errno), _op(op), _detail(std::move(detail)) {}

  // An error from the OS: domain system, code and errno both `err` (positive).
  static error from_errno(int err, std::string_view op, std::string detail = {}) {
    return error(system_domain(), err, op, std::move(detail), err);
  }

  const error_domain& domain() const noexcept { return *_domain; }
  int code() const noexcept { return _code; }
  // The errno behind this error, or 0 when the OS was not involved.
  int sys_errno() const noexcept { return _sys_errno; }
  // The failed operation, a string with static storage ("write", "openat").
  std::string_view op() const noexcept { return _op; }
  const std::string& detail() const noexcept { return _detail; }

  // True when this error is code `e` of e's domain. Each errc enum provides
  // `const error_domain& domain_of(errc)` found by argument-dependent lookup.
  template <class E>
  bool is(E e) const noexcept {
    return _domain == &domain_of(e) && _code == static_cast<int>(e);
  }

  // "write: Bad file descriptor (errno 9): <detail>" — for logs and tools.
  std::string message() const;

 private:
  const error_domain* _domain;
  int _code;
  int _sys_errno;
  std::string_view _op;
  std::string _detail;
};

}  // namespace ringlog
