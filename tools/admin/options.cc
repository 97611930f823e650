#include "tools/admin/options.h"

#include <charconv>
#include <ctime>

namespace ringlog::admin {
namespace {

constexpr std::string_view k_tool_help =
    "Usage: ringlog-admin --bootstrap HOST:PORT [--json] [--timeout-ms MS] COMMAND ...\n"
    "\n"
    "Consumer-group administration over the Kafka protocol (works against Ringlog\n"
    "and any Kafka cluster).\n"
    "\n"
    "Commands:\n"
    "  groups list                      every group: id, state, protocol type\n"
    "  groups describe GROUP            per partition: committed offset, log end, lag,\n"
    "                                   consumer, host, client id; the group state\n"
    "  groups delete GROUP...           delete empty groups (and their offsets)\n"
    "  groups reset-offsets GROUP ...   move the group's committed offsets\n"
    "\n"
    "Options:\n"
    "  --bootstrap HOST:PORT   a broker to connect to (required)\n"
    "  --json                  machine-readable output\n"
    "  --timeout-ms MS         wait this long for each response (default 30000)\n"
    "  --help                  this text; COMMAND --help for a command's\n"
    "\n"
    "Exit status: 0 success, 1 broker or group error, 2 bad arguments.\n";

constexpr std::string_view k_list_help =
    "Usage: ringlog-admin --bootstrap HOST:PORT [--json] groups list\n"
    "\n"
    "Lists every consumer group the broker knows (ListGroups): GROUP, STATE,\n"
    "PROTOCOL-TYPE. STATE is '-' for brokers older than ListGroups v4.\n";

constexpr std::string_view k_describe_help =
    "Usage: ringlog-admin --bootstrap HOST:PORT [--json] groups describe GROUP\n"
    "\n"
    "Shows, per partition the group has committed or is assigned:\n"
    "  TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID\n"
    "CURRENT-OFFSET is the committed offset (OffsetFetch), LOG-END-OFFSET the\n"
    "partition's latest offset (ListOffsets), LAG their difference; '-' where\n"
    "there is none. Members and assignments come from DescribeGroups.\n";

constexpr std::string_view k_delete_help =
    "Usage: ringlog-admin --bootstrap HOST:PORT [--json] groups delete GROUP...\n"
    "\n"
    "Deletes each group and its committed offsets (DeleteGroups). A group with\n"
    "members is refused by the broker (NON_EMPTY_GROUP); each group's result is\n"
    "printed and the exit status is 1 if any failed.\n";

constexpr std::string_view k_reset_help =
    "Usage: ringlog-admin --bootstrap HOST:PORT [--json] groups reset-offsets GROUP\n"
    "         --topic TOPIC\n"
    "         (--to-earliest | --to-latest | --to-offset N | --to-datetime TIME)\n"
    "         (--dry-run | --execute)\n"
    "\n"
    "Computes a new committed offset for every partition of TOPIC and prints the\n"
    "plan (TOPIC PARTITION NEW-OFFSET); --execute commits it (OffsetCommit with\n"
    "generation -1 and no member id, which brokers accept only while the group\n"
    "is empty: stop its consumers first).\n"
    "  --to-earliest   the log start offset\n"
    "  --to-latest     the log end offset\n"
    "  --to-offset N   N, clamped to [log start, log end]\n"
    "  --to-datetime   the first offset whose timestamp is at or after TIME\n"
    "                  (2026-11-26T08:00:00Z, optional .mmm and +HH:MM); the log\n"
    "                  end where no record is that recent\n";

bool parse_int64(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool parse_digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

bool parse_bootstrap(std::string_view s, admin_options& o) {
  const size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  int64_t port = 0;
  if (!parse_int64(s.substr(colon + 1), port) || port <= 0 || port > 65535) return false;
  std::string_view host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  o.bootstrap_host = std::string(host);
  o.bootstrap_port = static_cast<uint16_t>(port);
  return true;
}

}  // namespace

int64_t parse_datetime_ms(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS
  int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0;
  if (s.size() < 19 || !parse_digits(s, 0, 4, year) || s[4] != '-' || !parse_digits(s, 5, 2, mon) ||
      s[7] != '-' || !parse_digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != ' ') ||
      !parse_digits(s, 11, 2, hour) || s[13] != ':' || !parse_digits(s, 14, 2, min) ||
      s[16] != ':' || !parse_digits(s, 17, 2, sec)) {
    return -1;
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return -1;
  size_t pos = 19;
  int64_t millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 3) millis = millis * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return -1;
    for (int d = digits; d < 3; ++d) millis *= 10;
  }
  int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh = 0, om = 0;
    if (!parse_digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !parse_digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return -1;
    }
    offset_s = (int64_t{oh} * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return -1;  // a time without a zone is ambiguous: refuse it
  }
  if (pos != s.size()) return -1;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  const time_t t = ::timegm(&tm);
  if (t == static_cast<time_t>(-1) || tm.tm_mday != day) return -1;  // e.g. Feb 30
  const int64_t ms = (static_cast<int64_t>(t) - offset_s) * 1000 + millis;
  return ms < 0 ? -1 : ms;
}

std::string_view help_text(command cmd) {
  switch (cmd) {
    case command::groups_list:
      return k_list_help;
    case command::groups_describe:
      return k_describe_help;
    case command::groups_delete:
      return k_delete_help;
    case command::groups_reset_offsets:
      return k_reset_help;
    case command::none:
      break;
  }
  return k_tool_help;
}

parse_result parse_args(const std::vector<std::string_view>& args) {
  parse_result r;
  admin_options& o = r.options;
  std::vector<std::string_view> positional;
  int reset_modes = 0;
  int run_modes = 0;
  auto fail = [&r](std::string msg) {
    if (r.error.empty()) r.error = std::move(msg);
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    auto value = [&](std::string_view& out) {
      if (i + 1 >= args.size()) {
        fail(std::string(a) + " needs a value");
        return false;
      }
      out = args[++i];
      return true;
    };
    std::string_view v;
    if (a == "--help" || a == "-h") {
      o.help = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--bootstrap" || a == "--bootstrap-server") {
      if (value(v) && !parse_bootstrap(v, o))
        fail("--bootstrap: expected HOST:PORT, got '" + std::string(v) + "'");
    } else if (a == "--timeout-ms") {
      int64_t ms = 0;
      if (value(v) && (!parse_int64(v, ms) || ms <= 0 || ms > 3'600'000)) {
        fail("--timeout-ms: expected 1..3600000, got '" + std::string(v) + "'");
      }
      o.timeout_ms = static_cast<int32_t>(ms);
    } else if (a == "--topic") {
      if (value(v)) o.topic = std::string(v);
      if (o.topic.empty()) fail("--topic: empty topic name");
    } else if (a == "--to-earliest") {
      o.to = reset_to::earliest;
      ++reset_modes;
    } else if (a == "--to-latest") {
      o.to = reset_to::latest;
      ++reset_modes;
    } else if (a == "--to-offset") {
      o.to = reset_to::offset;
      ++reset_modes;
      if (value(v) && (!parse_int64(v, o.to_offset) || o.to_offset < 0)) {
        fail("--to-offset: expected an offset >= 0, got '" + std::string(v) + "'");
      }
    } else if (a == "--to-datetime") {
      o.to = reset_to::datetime;
      ++reset_modes;
      if (value(v)) {
        o.to_timestamp_ms = parse_datetime_ms(v);
        if (o.to_timestamp_ms < 0) {
          fail("--to-datetime: expected YYYY-MM-DDTHH:MM:SS[.mmm](Z|+HH:MM), got '" +
               std::string(v) + "'");
        }
      }
    } else if (a == "--dry-run") {
      o.execute = false;
      ++run_modes;
    } else if (a == "--execute") {
      o.execute = true;
      ++run_modes;
    } else if (a.size() > 1 && a.front() == '-') {
      fail("unknown option '" + std::string(a) + "'");
    } else {
      positional.push_back(a);
    }
  }
  // The command: "groups" SUBCOMMAND ARGS...
  if (!positional.empty()) {
    if (positional[0] != "groups") {
      fail("unknown command '" + std::string(positional[0]) + "' (expected 'groups')");
    } else {
      o.groups_prefix_seen = true;
      if (positional.size() >= 2) {
        const std::string_view sub = positional[1];
        if (sub == "list") {
          o.cmd = command::groups_list;
        } else if (sub == "describe") {
          o.cmd = command::groups_describe;
        } else if (sub == "delete") {
          o.cmd = command::groups_delete;
        } else if (sub == "reset-offsets") {
          o.cmd = command::groups_reset_offsets;
        } else {
          fail("unknown groups command '" + std::string(sub) +
               "' (expected list, describe, delete or reset-offsets)");
        }
        for (size_t i = 2; i < positional.size(); ++i) o.groups.emplace_back(positional[i]);
      }
    }
  }
  if (!r.ok() || o.help) return r;
  if (o.cmd == command::none) {
    fail(o.groups_prefix_seen ? "missing groups command (list, describe, delete, reset-offsets)"
                              : "missing command");
    return r;
  }
  if (o.bootstrap_host.empty()) fail("--bootstrap HOST:PORT is required");
  for (const auto& g : o.groups) {
    if (g.empty()) fail("a group id must not be empty");
  }
  const bool reset = o.cmd == command::groups_reset_offsets;
  switch (o.cmd) {
    case command::groups_list:
      if (!o.groups.empty()) fail("groups list takes no arguments");
      break;
    case command::groups_describe:
    case command::groups_reset_offsets:
      if (o.groups.size() != 1) fail("expected exactly one GROUP");
      break;
    case command::groups_delete:
      if (o.groups.empty()) fail("expected at least one GROUP");
      break;
    case command::none:
      break;
  }
  if (reset) {
    if (o.topic.empty()) fail("reset-offsets needs --topic TOPIC");
    if (reset_modes != 1) {
      fail(
          "reset-offsets needs exactly one of --to-earliest, --to-latest, --to-offset, "
          "--to-datetime");
    }
    if (run_modes != 1) fail("reset-offsets needs exactly one of --dry-run, --execute");
  } else if (!o.topic.empty() || reset_modes != 0 || run_modes != 0) {
    fail("--topic, --to-* and --dry-run/--execute belong to groups reset-offsets");
  }
  return r;
}

}  // namespace ringlog::admin
