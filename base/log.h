// Logging: levelled lines tagged with the shard that wrote them. Backed by
// spdlog (see log.cc); this header stays light so every file may include it.
//
// Thread safety: any thread may log. Each thread's shard tag is thread-local,
// set by the runtime when a shard thread starts (set_log_shard).
#pragma once

#include <fmt/core.h>

#include <cstdint>
#include <string_view>

namespace ringlog {

enum class log_level : int { trace = 0, debug, info, warn, error, critical, off };

// Lines below this level are dropped before formatting.
void set_log_level(log_level level) noexcept;
log_level current_log_level() noexcept;
// Parses "trace|debug|info|warn|error|critical|off".
bool parse_log_level(std::string_view text, log_level& out) noexcept;

// Tags the calling thread's lines with "shard N"; -1 tags them "main".
void set_log_shard(int shard_id) noexcept;
int log_shard() noexcept;

// Tests capture lines with a hook, called instead of the stderr sink with each
// formatted line (shard tag included). nullptr restores stderr.
using log_hook = void (*)(log_level level, std::string_view line);
void set_log_hook(log_hook hook) noexcept;

void log_write(log_level level, fmt::string_view format, fmt::format_args args) noexcept;
void log_flush() noexcept;

// Lets one line through per interval, for a condition that repeats for as
// long as it lasts (descriptors exhausted): the log names it without a line
// per occurrence. Not thread-safe: one per shard (thread_local) or per owner.
class log_limiter {
 public:
  explicit log_limiter(int64_t interval_ns) noexcept : _interval_ns(interval_ns) {}
  // Whether to log at now_ns; `*held_back` is how many calls were refused
  // since the last line that was let through.
  bool allow(int64_t now_ns, uint64_t* held_back = nullptr) noexcept {
    if (_last_ns != 0 && now_ns - _last_ns < _interval_ns) {
      ++_held_back;
      return false;
    }
    _last_ns = now_ns;
    if (held_back != nullptr) *held_back = _held_back;
    _held_back = 0;
    return true;
  }

 private:
  int64_t _interval_ns;
  int64_t _last_ns = 0;
  uint64_t _held_back = 0;
};

template <class... A>
void log(log_level level, fmt::format_string<A...> format, A&&... args) noexcept {
  if (level < current_log_level()) return;
  log_write(level, format, fmt::make_format_args(args...));
}

}  // namespace ringlog

#define RINGLOG_TRACE(...) ::ringlog::log(::ringlog::log_level::trace, __VA_ARGS__)
#define RINGLOG_DEBUG(...) ::ringlog::log(::ringlog::log_level::debug, __VA_ARGS__)
#define RINGLOG_INFO(...) ::ringlog::log(::ringlog::log_level::info, __VA_ARGS__)
#define RINGLOG_WARN(...) ::ringlog::log(::ringlog::log_level::warn, __VA_ARGS__)
#define RINGLOG_ERROR(...) ::ringlog::log(::ringlog::log_level::error, __VA_ARGS__)
