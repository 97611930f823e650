// RINGLOG_ASSERT: always-on invariant checks. A broken invariant is a
// programmer error: it is logged with file, line and the formatted message,
// the log is flushed, and the process aborts (a core dump is more useful than
// limping on with corrupt state). Operating errors use result<T> instead.
#pragma once

#include <fmt/core.h>

#include <string>

namespace ringlog::detail {
[[noreturn]] void assert_failed(const char* file, int line, const char* expr, std::string message);
}  // namespace ringlog::detail

#define RINGLOG_ASSERT(cond, ...)                                                      \
  do {                                                                                 \
    if (!(cond)) [[unlikely]] {                                                        \
      ::ringlog::detail::assert_failed(__FILE__, __LINE__, #cond, fmt::format(__VA_ARGS__)); \
    }                                                                                  \
  } while (0)
