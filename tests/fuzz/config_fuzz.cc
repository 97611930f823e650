// libFuzzer target for the configuration readers (base/config.h: the
// java.util.Properties parser, overrides, typed keys; base/broker_config.h:
// the broker's keys, cross-key rules, listeners, rendering). A config file or
// command line is operator input: whatever it holds must give a config or an
// error, never a crash, an assert or a read past the text.
//
// Round trips, each a __builtin_trap when broken:
//  - the entries of a parsed text, written back with to_properties_line,
//    parse to the same keys and values in the same order;
//  - a broker_config rendered by render_broker_config parses and builds to
//    the same broker_config, and renders to the same text (broker_config.h
//    promises this for --print-config);
//  - load_broker_config from a file agrees with parsing the same text in
//    memory;
//  - a listener that parses, written as NAME://host:port, parses the same.
//
// The first input byte picks a mode:
//   0  the rest is a server.properties text
//   1  the rest is a command line's overrides, one KEY=VALUE per '\n'
//   2  the rest is a file, then after the first NUL byte, overrides separated
//      by NUL bytes: load_broker_config(path, overrides) on a scratch file
//   3  the rest is one listener (parse_listener)
//   4  the rest is one value, parsed as every key of the broker schema and of
//      a small schema with one key of each type (parse_value, resolve)
// Anything else is mode 0.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/broker_config.h"
#include "base/config.h"
#include "tests/fuzz/scratch_file.h"

namespace {

using namespace ringlog;

const std::string& scratch_path() {
  static const std::string path = ringlog::fuzz::make_scratch_path("ringlog_config_fuzz");
  return path;
}

using ringlog::fuzz::write_file;

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= text.size() && out.size() < 64) {
    size_t end = text.find(sep, pos);
    if (end == std::string_view::npos) end = text.size();
    out.emplace_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

// A built config survives --print-config and a reload of what it printed.
void check_broker_config(const broker_config& c) {
  if (c.advertised_listeners.empty() || c.log_dirs.empty() || c.process_roles.empty() ||
      c.listeners.empty() || c.log_roll_ms < 1 || c.log_retention_ms < -1) {
    __builtin_trap();
  }
  const std::string rendered = render_broker_config(c);
  auto props = config::parse_properties(rendered, "rendered");
  if (!props) __builtin_trap();
  auto again = make_broker_config(*props);
  if (!again) __builtin_trap();
  if (!(*again == c)) __builtin_trap();
  if (render_broker_config(*again) != rendered) __builtin_trap();
}

void check_properties(const config::properties& props) {
  std::string text;
  for (const config::property& p : props.entries()) {
    text += config::to_properties_line(p.key, p.value);
    if (props.find(p.key) != &p) __builtin_trap();  // one entry per key
  }
  auto again = config::parse_properties(text, "rewritten");
  if (!again || again->size() != props.size()) __builtin_trap();
  for (size_t i = 0; i < props.size(); ++i) {
    if (again->entries()[i].key != props.entries()[i].key ||
        again->entries()[i].value != props.entries()[i].value) {
      __builtin_trap();
    }
  }
}

result<broker_config> build(const config::properties& props) {
  auto c = make_broker_config(props);
  if (c) {
    check_broker_config(*c);
  } else if (c.error().message().empty()) {
    __builtin_trap();
  }
  return c;
}

void properties_text(std::string_view text) {
  auto props = config::parse_properties(text, "server.properties");
  if (!props) return;
  check_properties(*props);
  (void)build(*props);
}

void overrides(std::string_view text) {
  config::properties props;
  const std::vector<std::string> list = split(text, '\n');
  if (!config::apply_overrides(props, list)) return;
  check_properties(props);
  (void)build(props);
}

void file_and_overrides(std::string_view text) {
  const size_t nul = text.find('\0');
  const std::string_view file = text.substr(0, nul);
  std::vector<std::string> list;
  if (nul != std::string_view::npos) list = split(text.substr(nul + 1), '\0');
  const std::string& path = scratch_path();
  if (!write_file(path, file)) return;
  auto loaded = load_broker_config(path, list);
  ::unlink(path.c_str());
  // The same text in memory.
  result<broker_config> expected = [&]() -> result<broker_config> {
    auto props = config::parse_properties(file, path);
    if (!props) return std::move(props).error();
    if (auto st = config::apply_overrides(*props, list); !st) return std::move(st).error();
    return build(*props);
  }();
  if (loaded.has_value() != expected.has_value()) __builtin_trap();
  if (loaded && !(*loaded == *expected)) __builtin_trap();
  if (!loaded && loaded.error().message() != expected.error().message()) __builtin_trap();
}

void one_listener(std::string_view text) {
  auto l = parse_listener(text);
  if (!l) {
    if (l.error().message().empty()) __builtin_trap();
    return;
  }
  const bool ipv6 = l->host.find(':') != std::string::npos;
  const std::string written = l->name + "://" + (ipv6 ? "[" + l->host + "]" : l->host) + ":" +
                              std::to_string(l->port);
  auto again = parse_listener(written);
  if (!again || !(*again == *l)) __builtin_trap();
}

bool is_even(const config::value& v) { return std::get<int64_t>(v) % 2 == 0; }

constexpr std::string_view k_allowed[] = {"a", "b", "c"};

// One key of each type and shape, for parse_value's paths the broker schema
// does not use (double, required, extra checks, allowed list items).
const config::schema& local_schema() {
  static const config::schema keys({
      {.name = "i32", .type = config::key_type::int32, .default_text = "0", .min = -5, .max = 100,
       .check = is_even, .check_text = "even", .doc = "d"},
      {.name = "i64", .type = config::key_type::int64, .required = true, .doc = "d"},
      {.name = "f", .type = config::key_type::float64, .default_text = "0.5", .min_double = -1,
       .max_double = 1e9, .doc = "d"},
      {.name = "b", .type = config::key_type::boolean, .doc = "d"},
      {.name = "s", .type = config::key_type::string, .required = true, .allowed = k_allowed,
       .doc = "d"},
      {.name = "l", .type = config::key_type::list, .required = true, .allowed = k_allowed,
       .doc = "d"},
      {.name = "any", .type = config::key_type::list, .doc = "d"},
  });
  return keys;
}

void check_value(const config::key_spec& spec, const config::value& v) {
  switch (spec.type) {
    case config::key_type::int32:
    case config::key_type::int64: {
      if (!std::holds_alternative<int64_t>(v)) __builtin_trap();
      const int64_t n = std::get<int64_t>(v);
      if (n < config::effective_min(spec) || n > config::effective_max(spec)) __builtin_trap();
      break;
    }
    case config::key_type::float64: {
      if (!std::holds_alternative<double>(v)) __builtin_trap();
      const double d = std::get<double>(v);
      if (!(d >= spec.min_double && d <= spec.max_double)) __builtin_trap();
      break;
    }
    case config::key_type::boolean:
      if (!std::holds_alternative<bool>(v)) __builtin_trap();
      break;
    case config::key_type::string:
      if (!std::holds_alternative<std::string>(v)) __builtin_trap();
      break;
    case config::key_type::list:
      if (!std::holds_alternative<std::vector<std::string>>(v)) __builtin_trap();
      for (const auto& item : std::get<std::vector<std::string>>(v)) {
        if (item.empty()) __builtin_trap();
      }
      break;
  }
}

void values(std::string_view text) {
  for (const config::schema* keys : {&broker_schema(), &local_schema()}) {
    config::properties props;
    for (const config::key_spec& spec : keys->keys()) {
      auto v = config::parse_value(spec, text, "fuzz");
      if (v) {
        check_value(spec, *v);
      } else if (v.error().message().empty()) {
        __builtin_trap();
      }
      (void)config::expected_form(spec);
      props.set({std::string(spec.name), std::string(text), "fuzz", 1});
    }
    // Every key set to the text at once, plus the text as an unknown key.
    props.set({std::string(text), "x", "fuzz", 2});
    auto resolved = config::resolve(*keys, props);
    if (resolved) {
      for (const config::key_spec& spec : keys->keys()) {
        const config::value& v = resolved->get(spec.name);
        if (!std::holds_alternative<std::monostate>(v)) check_value(spec, v);
      }
    }
  }
  (void)config::quote(text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  // A copy, so that ASan sees reads past the exact end of the text.
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (mode) {
    case 1:
      overrides(text);
      break;
    case 2:
      file_and_overrides(text);
      break;
    case 3:
      one_listener(text);
      break;
    case 4:
      values(text);
      break;
    default:
      properties_text(text);
      break;
  }
  return 0;
}
