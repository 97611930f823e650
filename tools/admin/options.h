// The command line of ringlog-admin: global flags, the command and its
// arguments. Parsing is pure (no I/O) so the unit tests cover every bad input.
//
// Thread safety: value types and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringlog::admin {

// Exit statuses: success; a broker, network or group error; bad usage.
inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_error = 1;
inline constexpr int k_exit_usage = 2;

enum class command { none, groups_list, groups_describe, groups_delete, groups_reset_offsets };

enum class reset_to { none, earliest, latest, offset, datetime };

struct admin_options {
  std::string bootstrap_host;
  uint16_t bootstrap_port = 0;
  bool json = false;
  bool help = false;
  int32_t timeout_ms = 30000;
  command cmd = command::none;
  bool groups_prefix_seen = false;  // "groups" given: help for the group commands
  std::vector<std::string> groups;  // describe/reset: one; delete: one or more
  // reset-offsets
  std::string topic;
  reset_to to = reset_to::none;
  int64_t to_offset = -1;
  int64_t to_timestamp_ms = -1;  // --to-datetime, ms since the epoch (UTC)
  bool execute = false;          // false: --dry-run
};

struct parse_result {
  admin_options options;
  std::string error;  // empty when the arguments are valid
  bool ok() const noexcept { return error.empty(); }
};

parse_result parse_args(const std::vector<std::string_view>& args);

// "2026-11-26T08:00:00Z", optional ".mmm" and a "+HH:MM"/"-HH:MM" offset
// instead of "Z"; ms since the epoch, or -1 when malformed.
int64_t parse_datetime_ms(std::string_view text);

// The --help text of the tool (command::none) or of one command.
std::string_view help_text(command cmd);

}  // namespace ringlog::admin
