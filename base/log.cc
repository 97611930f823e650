// spdlog backs our log lines; one stderr logger shared by all threads (spdlog's
// _mt sink takes a mutex per line, fine for a broker's log volume; the hot path
// does not log per request).
#include "base/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "base/assert.h"

namespace ringlog {
namespace {

std::atomic<int> g_level{static_cast<int>(log_level::info)};
thread_local int t_shard = -1;
std::atomic<log_hook> g_hook{nullptr};

spdlog::logger& logger() {
  // Leaked on purpose: threads may log during static destruction.
  static spdlog::logger* instance = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto* l = new spdlog::logger("ringlog", std::move(sink));
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %-5l %v", spdlog::pattern_time_type::utc);
    l->set_level(spdlog::level::trace);  // filtering happens in log() first
    l->flush_on(spdlog::level::warn);
    return l;
  }();
  return *instance;
}

}  // namespace

void set_log_level(log_level level) noexcept { g_level.store(static_cast<int>(level)); }
log_level current_log_level() noexcept { return static_cast<log_level>(g_level.load()); }

bool parse_log_level(std::string_view text, log_level& out) noexcept {
  static constexpr std::string_view names[] = {"trace", "debug", "info",    "warn",
                                               "error", "critical", "off"};
  for (int i = 0; i < 7; ++i) {
    if (text == names[i]) {
      out = static_cast<log_level>(i);
      return true;
    }
  }
  return false;
}

void set_log_hook(log_hook hook) noexcept { g_hook.store(hook, std::memory_order_release); }

void set_log_shard(int shard_id) noexcept { t_shard = shard_id; }
int log_shard() noexcept { return t_shard; }

void log_write(log_level level, fmt::string_view format, fmt::format_args args) noexcept {
  try {
    fmt::memory_buffer line;
    if (t_shard >= 0) fmt::format_to(std::back_inserter(line), "[shard {}] ", t_shard);
    else fmt::format_to(std::back_inserter(line), "[main] ");
    fmt::vformat_to(std::back_inserter(line), format, args);
    const std::string_view text(line.data(), line.size());
    if (log_hook hook = g_hook.load(std::memory_order_acquire)) {
      hook(level, text);
      return;
    }
    logger().log(static_cast<spdlog::level::level_enum>(level), text);
  } catch (...) {
    // A log line must never take the process down; a bad format string is
    // reported on stderr instead.
    std::fputs("ringlog: failed to format a log line\n", stderr);
  }
}

void log_flush() noexcept {
  try {
    logger().flush();
  } catch (...) {
  }
}

namespace detail {
void assert_failed(const char* file, int line, const char* expr, std::string message) {
  log(log_level::critical, "assertion failed at {}:{}: {}: {}", file, line, expr, message);
  log_flush();
  std::abort();
}
}  // namespace detail

}  // namespace ringlog
