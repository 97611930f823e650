// Properties parsing and typed key resolution; see config.h for the contract.
#include "base/config.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <system_error>
#include <unordered_map>

#include "base/assert.h"

namespace ringlog::config {
namespace {

std::string_view describe_code(int code) noexcept {
  switch (static_cast<errc>(code)) {
    case errc::bad_value:
      return "bad config value";
    case errc::unknown_key:
      return "unknown config key";
    case errc::missing_value:
      return "missing config value";
    case errc::io:
      return "cannot read config";
  }
  return "unknown config error";
}

const error_domain k_domain{"config", &describe_code};

error make_error(errc code, std::string detail) {
  return error(k_domain, static_cast<int>(code), "config", std::move(detail));
}

// Whitespace as java.util.Properties defines it for separating keys.
bool is_properties_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\f'; }

std::string_view trim(std::string_view text) noexcept {
  // Java's String.trim(): every char <= ' ', which Kafka applies to values.
  while (!text.empty() && static_cast<unsigned char>(text.front()) <= ' ') text.remove_prefix(1);
  while (!text.empty() && static_cast<unsigned char>(text.back()) <= ' ') text.remove_suffix(1);
  return text;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Reads the 4 hex digits of a \u escape starting at text[pos].
std::optional<uint32_t> read_hex4(std::string_view text, std::size_t pos) {
  if (pos + 4 > text.size()) return std::nullopt;
  uint32_t unit = 0;
  auto [end, ec] = std::from_chars(text.data() + pos, text.data() + pos + 4, unit, 16);
  if (ec != std::errc() || end != text.data() + pos + 4) return std::nullopt;
  return unit;
}

// Decodes the escapes of one key or value (raw text of a logical line).
// Returns the problem text on a malformed \u escape.
std::optional<std::string> unescape(std::string_view raw, std::string& out) {
  out.clear();
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i == raw.size()) break;  // a lone trailing backslash is dropped, as Java does
    c = raw[i];
    switch (c) {
      case 't':
        out.push_back('\t');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'u': {
        auto unit = read_hex4(raw, i + 1);
        if (!unit) return "malformed \\uXXXX escape (needs exactly 4 hex digits)";
        i += 4;
        uint32_t cp = *unit;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          // A high surrogate must pair with a \u low surrogate: Java keeps
          // UTF-16, we write UTF-8, which has no encoding for a lone half.
          std::optional<uint32_t> low;
          if (i + 2 < raw.size() && raw[i + 1] == '\\' && raw[i + 2] == 'u')
            low = read_hex4(raw, i + 3);
          if (!low || *low < 0xDC00 || *low > 0xDFFF) {
            return "\\u escape is a high surrogate without a low surrogate after it";
          }
          i += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (*low - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          return "\\u escape is a low surrogate without a high surrogate before it";
        }
        append_utf8(out, cp);
        break;
      }
      default:
        out.push_back(c);
        break;  // \\ \= \: \# \! \space and any other char
    }
  }
  return std::nullopt;
}

// Splits a logical line (leading whitespace already gone) into raw key and
// raw value, following java.util.Properties.load exactly: the key ends at the
// first unescaped '=', ':' or whitespace; whitespace and at most one '=' or
// ':' separate it from the value; the value keeps its trailing whitespace.
void split_line(std::string_view line, std::string_view& key, std::string_view& rest) {
  std::size_t key_end = 0;
  std::size_t value_start = line.size();
  bool has_separator = false;
  bool escaped = false;
  for (; key_end < line.size(); ++key_end) {
    char c = line[key_end];
    if (!escaped && (c == '=' || c == ':')) {
      value_start = key_end + 1;
      has_separator = true;
      break;
    }
    if (!escaped && is_properties_space(c)) {
      value_start = key_end + 1;
      break;
    }
    escaped = (c == '\\') ? !escaped : false;
  }
  while (value_start < line.size()) {
    char c = line[value_start];
    if (!is_properties_space(c)) {
      if (!has_separator && (c == '=' || c == ':'))
        has_separator = true;
      else
        break;
    }
    ++value_start;
  }
  key = line.substr(0, key_end);
  rest = line.substr(std::min(value_start, line.size()));
}

// Number of backslashes at the end of `text`.
std::size_t trailing_backslashes(std::string_view text) noexcept {
  std::size_t n = 0;
  while (n < text.size() && text[text.size() - 1 - n] == '\\') ++n;
  return n;
}

std::string format_problem(std::string_view key, std::string_view value_text,
                           std::string_view problem, std::string_view origin,
                           std::string_view expected) {
  return fmt::format("{}: {} {} (from {}); expected {}", key, quote(value_text), problem, origin,
                     expected);
}

std::string join(std::span<const std::string_view> items, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.append(separator);
    out.append(items[i]);
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool is_allowed(const key_spec& spec, std::string_view item) {
  if (spec.allowed.empty()) return true;
  return std::find(spec.allowed.begin(), spec.allowed.end(), item) != spec.allowed.end();
}

}  // namespace

const error_domain& domain_of(errc) noexcept { return k_domain; }

std::string_view describe(errc code) noexcept { return describe_code(static_cast<int>(code)); }

// ---------------------------------------------------------------------------
// properties
// ---------------------------------------------------------------------------

std::string property::origin() const {
  if (line <= 0) return source;
  return fmt::format("{}:{}", source, line);
}

properties::properties(std::vector<property> entries) {
  // Keep only the last entry of each key, in the order of those last entries.
  std::unordered_map<std::string_view, std::size_t> last;
  last.reserve(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) last[entries[i].key] = i;
  _entries.reserve(last.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (last.find(entries[i].key)->second == i) _entries.push_back(std::move(entries[i]));
  }
}

void properties::set(property entry) {
  auto it = std::find_if(_entries.begin(), _entries.end(),
                         [&](const property& p) { return p.key == entry.key; });
  if (it != _entries.end()) _entries.erase(it);
  _entries.push_back(std::move(entry));
}

const property* properties::find(std::string_view key) const noexcept {
  for (const property& p : _entries) {
    if (p.key == key) return &p;
  }
  return nullptr;
}

result<properties> parse_properties(std::string_view text, std::string_view source_name) {
  std::vector<property> entries;
  error_list problems;
  std::string logical;  // the raw (still escaped) logical line being joined
  int logical_line = 0;
  bool continuing = false;

  auto finish_logical = [&] {
    std::string_view raw_key, raw_value;
    split_line(logical, raw_key, raw_value);
    property p;
    p.source = std::string(source_name);
    p.line = logical_line;
    auto bad = unescape(raw_key, p.key);
    if (!bad) bad = unescape(raw_value, p.value);
    if (bad) {
      problems.add(errc::bad_value, fmt::format("{}:{}: {}", source_name, logical_line, *bad));
    } else {
      entries.push_back(std::move(p));
    }
    logical.clear();
    continuing = false;
  };

  int line_number = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    // One physical line; "\n", "\r" and "\r\n" all end a line, as in Java.
    std::size_t end = text.find_first_of("\r\n", pos);
    std::size_t next = end;
    if (end == std::string_view::npos) {
      end = text.size();
      next = end;
    } else {
      next = end + ((text[end] == '\r' && end + 1 < text.size() && text[end + 1] == '\n') ? 2 : 1);
    }
    std::string_view physical = text.substr(pos, end - pos);
    pos = next;
    ++line_number;

    while (!physical.empty() && is_properties_space(physical.front())) physical.remove_prefix(1);
    if (!continuing) {
      // Comments and blank lines only count at the start of a logical line:
      // a continued line starting with '#' is part of the value.
      if (physical.empty() || physical.front() == '#' || physical.front() == '!') continue;
      logical_line = line_number;
    }
    if (trailing_backslashes(physical) % 2 == 1) {
      physical.remove_suffix(1);
      logical.append(physical);
      continuing = true;
      continue;
    }
    logical.append(physical);
    finish_logical();
  }
  // A backslash on the last line continues into nothing; the entry still counts.
  if (continuing) finish_logical();

  if (auto st = problems.to_status(); !st) return std::move(st).error();
  return properties(std::move(entries));
}

result<properties> load_properties_file(const std::string& path) {
  auto os_error = [&](std::string_view op, int err) {
    return error(
        k_domain, static_cast<int>(errc::io), op,
        fmt::format("{}: {}", path, std::error_code(err, std::generic_category()).message()), err);
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_error("open", errno);
  // Closes on every path out; config loads before any fd bookkeeping exists.
  struct fd_closer {
    int fd;
    ~fd_closer() { ::close(fd); }
  } closer{fd};

  struct stat st {};
  if (::fstat(fd, &st) != 0) return os_error("fstat", errno);
  if (S_ISDIR(st.st_mode)) return os_error("read", EISDIR);

  std::string text;
  char buffer[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error("read", errno);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > properties_file_bytes_max) {
      return make_error(errc::io, fmt::format("{}: larger than {} bytes; not a config file?", path,
                                              properties_file_bytes_max));
    }
  }
  return parse_properties(text, path);
}

result<property> parse_override(std::string_view text) {
  std::size_t eq = text.find('=');
  if (eq == std::string_view::npos) {
    return make_error(errc::bad_value,
                      fmt::format("--override {}: no '='; expected KEY=VALUE", quote(text)));
  }
  if (eq == 0) {
    return make_error(errc::bad_value,
                      fmt::format("--override {}: empty key; expected KEY=VALUE", quote(text)));
  }
  property p;
  p.key = std::string(text.substr(0, eq));
  p.value = std::string(text.substr(eq + 1));
  p.source = "--override";
  p.line = 0;
  return p;
}

status apply_overrides(properties& props, std::span<const std::string> overrides) {
  error_list problems;
  for (const std::string& text : overrides) {
    auto p = parse_override(text);
    if (!p) {
      problems.add(p.error());
      continue;
    }
    props.set(std::move(p).value());
  }
  return problems.to_status();
}

std::string to_properties_line(std::string_view key, std::string_view value_text) {
  std::string out;
  auto escape = [&](std::string_view text, bool is_key) {
    for (std::size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      switch (c) {
        case '\\':
          out.append("\\\\");
          break;
        case '\t':
          out.append("\\t");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\f':
          out.append("\\f");
          break;
        case '=':
        case ':':
          if (is_key) out.push_back('\\');
          out.push_back(c);
          break;
        case '#':
        case '!':
          // Only a key's first char could start a comment.
          if (is_key && i == 0) out.push_back('\\');
          out.push_back(c);
          break;
        case ' ':
          // In a key a space would end the key; in a value only leading spaces
          // would be eaten by the separator.
          if (is_key || i == 0) out.push_back('\\');
          out.push_back(c);
          break;
        default:
          out.push_back(c);
          break;
      }
    }
  };
  escape(key, true);
  out.push_back('=');
  escape(value_text, false);
  out.push_back('\n');
  return out;
}

// ---------------------------------------------------------------------------
// Typed keys
// ---------------------------------------------------------------------------

std::string_view type_name(key_type type) noexcept {
  switch (type) {
    case key_type::int32:
      return "int32";
    case key_type::int64:
      return "int64";
    case key_type::boolean:
      return "bool";
    case key_type::string:
      return "string";
    case key_type::list:
      return "list";
    case key_type::float64:
      return "double";
  }
  return "?";
}

int64_t effective_min(const key_spec& spec) noexcept {
  if (spec.type == key_type::int32) {
    return std::max<int64_t>(spec.min, std::numeric_limits<int32_t>::min());
  }
  return spec.min;
}

int64_t effective_max(const key_spec& spec) noexcept {
  if (spec.type == key_type::int32) {
    return std::min<int64_t>(spec.max, std::numeric_limits<int32_t>::max());
  }
  return spec.max;
}

std::string expected_form(const key_spec& spec) {
  std::string out;
  switch (spec.type) {
    case key_type::int32:
    case key_type::int64:
      out = fmt::format("an integer in [{}, {}]", effective_min(spec), effective_max(spec));
      break;
    case key_type::float64:
      out = fmt::format("a number in [{}, {}]", spec.min_double, spec.max_double);
      break;
    case key_type::boolean:
      out = "true or false";
      break;
    case key_type::string:
      out = spec.allowed.empty() ? std::string("a string")
                                 : fmt::format("one of {}", join(spec.allowed, ", "));
      break;
    case key_type::list:
      out = spec.allowed.empty()
                ? std::string("a comma-separated list of non-empty items")
                : fmt::format("a comma-separated list of: {}", join(spec.allowed, ", "));
      break;
  }
  if (!spec.check_text.empty()) {
    out.append(", ");
    out.append(spec.check_text);
  }
  return out;
}

std::size_t levenshtein(std::string_view a, std::string_view b) {
  // One row of the classic table; O(|a|*|b|) time, O(|b|) space.
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      std::size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

schema::schema(std::vector<key_spec> keys) : _keys(std::move(keys)) {
  _by_name.resize(_keys.size());
  for (std::size_t i = 0; i < _keys.size(); ++i) _by_name[i] = i;
  std::sort(_by_name.begin(), _by_name.end(),
            [&](std::size_t x, std::size_t y) { return _keys[x].name < _keys[y].name; });
  for (std::size_t i = 0; i < _by_name.size(); ++i) {
    const key_spec& spec = _keys[_by_name[i]];
    RINGLOG_ASSERT(!spec.name.empty(), "config schema: a key has no name");
    RINGLOG_ASSERT(i == 0 || _keys[_by_name[i - 1]].name != spec.name,
                   "config schema: key {} is declared twice", spec.name);
    RINGLOG_ASSERT(!spec.doc.empty(), "config schema: key {} has no doc", spec.name);
    RINGLOG_ASSERT(effective_min(spec) <= effective_max(spec) && spec.min_double <= spec.max_double,
                   "config schema: key {} has min > max", spec.name);
    RINGLOG_ASSERT(
        spec.allowed.empty() || spec.type == key_type::string || spec.type == key_type::list,
        "config schema: key {} has allowed values but is not a string or list", spec.name);
    RINGLOG_ASSERT((spec.check == nullptr) == spec.check_text.empty(),
                   "config schema: key {} needs both check and check_text", spec.name);
    RINGLOG_ASSERT(!(spec.default_text && spec.required),
                   "config schema: key {} is required yet has a default", spec.name);
    if (spec.default_text) {
      auto v = parse_value(spec, *spec.default_text, "default");
      RINGLOG_ASSERT(v.has_value(), "config schema: default of {} is invalid: {}", spec.name,
                     v.has_value() ? std::string() : v.error().detail());
    }
  }
}

std::optional<std::size_t> schema::index_of(std::string_view name) const noexcept {
  auto it = std::lower_bound(_by_name.begin(), _by_name.end(), name,
                             [&](std::size_t i, std::string_view n) { return _keys[i].name < n; });
  if (it == _by_name.end() || _keys[*it].name != name) return std::nullopt;
  return *it;
}

const key_spec* schema::find(std::string_view name) const noexcept {
  auto i = index_of(name);
  return i ? &_keys[*i] : nullptr;
}

std::optional<std::string_view> schema::suggest(std::string_view name) const {
  // Keys are short; a longer name is no typo of one, and skipping it bounds
  // the work a garbage file can cause.
  constexpr std::size_t name_bytes_max = 256;
  if (name.size() > name_bytes_max) return std::nullopt;
  std::size_t limit = std::max<std::size_t>(2, name.size() / 3);
  std::optional<std::string_view> best;
  std::size_t best_distance = limit + 1;
  for (const key_spec& spec : _keys) {
    std::size_t d = levenshtein(name, spec.name);
    if (d < best_distance) {
      best_distance = d;
      best = spec.name;
    }
  }
  return best;
}

result<value> parse_value(const key_spec& spec, std::string_view text, std::string_view origin) {
  // Kafka trims every value before parsing it (ConfigDef.parseType).
  std::string_view trimmed = trim(text);
  auto fail = [&](errc code, std::string_view problem) -> error {
    return make_error(code, format_problem(spec.name, text, problem, origin, expected_form(spec)));
  };
  if (trimmed.empty() && spec.required) return fail(errc::missing_value, "is empty");

  value out;
  switch (spec.type) {
    case key_type::int32:
    case key_type::int64: {
      std::string_view digits = trimmed;
      // Java's Integer.parseInt accepts a leading '+'; from_chars does not.
      if (digits.size() > 1 && digits.front() == '+' && digits[1] != '-') digits.remove_prefix(1);
      int64_t n = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n, 10);
      if (ec == std::errc::result_out_of_range && end == digits.data() + digits.size()) {
        return fail(errc::bad_value, "is out of range");
      }
      if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
        return fail(errc::bad_value, "is not an integer");
      }
      if (n < effective_min(spec) || n > effective_max(spec)) {
        return fail(errc::bad_value, "is out of range");
      }
      out = n;
      break;
    }
    case key_type::float64: {
      std::string_view digits = trimmed;
      if (digits.size() > 1 && digits.front() == '+' && digits[1] != '-') digits.remove_prefix(1);
      double d = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), d,
                                       std::chars_format::general);
      if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() ||
          !std::isfinite(d)) {
        return fail(errc::bad_value, "is not a number");
      }
      if (d < spec.min_double || d > spec.max_double) {
        return fail(errc::bad_value, "is out of range");
      }
      out = d;
      break;
    }
    case key_type::boolean:
      if (iequals(trimmed, "true"))
        out = true;
      else if (iequals(trimmed, "false"))
        out = false;
      else
        return fail(errc::bad_value, "is not a boolean");
      break;
    case key_type::string:
      if (!is_allowed(spec, trimmed)) return fail(errc::bad_value, "is not an allowed value");
      out = std::string(trimmed);
      break;
    case key_type::list: {
      std::vector<std::string> items;
      if (!trimmed.empty()) {
        std::size_t pos = 0;
        while (true) {
          std::size_t comma = trimmed.find(',', pos);
          std::string_view item =
              trim(trimmed.substr(pos, comma == std::string_view::npos ? comma : comma - pos));
          if (item.empty()) return fail(errc::bad_value, "has an empty item");
          if (!is_allowed(spec, item)) {
            return fail(errc::bad_value,
                        fmt::format("has an item that is not allowed: {}", quote(item)));
          }
          items.emplace_back(item);
          if (comma == std::string_view::npos) break;
          pos = comma + 1;
        }
      }
      if (items.empty() && spec.required) return fail(errc::missing_value, "is empty");
      out = std::move(items);
      break;
    }
  }
  if (spec.check != nullptr && !spec.check(out)) {
    return fail(errc::bad_value, fmt::format("is not {}", spec.check_text));
  }
  return out;
}

// ---------------------------------------------------------------------------
// config_values
// ---------------------------------------------------------------------------

config_values::config_values(const config::schema& keys, std::vector<value> values,
                             std::vector<std::string> origins, std::vector<bool> explicitly_set)
    : _schema(&keys),
      _values(std::move(values)),
      _origins(std::move(origins)),
      _set(std::move(explicitly_set)) {
  RINGLOG_ASSERT(_values.size() == keys.keys().size() && _origins.size() == _values.size() &&
                     _set.size() == _values.size(),
                 "config_values: {} values, {} origins, {} flags for {} keys", _values.size(),
                 _origins.size(), _set.size(), keys.keys().size());
}

std::size_t config_values::index(std::string_view key) const {
  auto i = _schema->index_of(key);
  RINGLOG_ASSERT(i.has_value(), "config key {} is not in the schema", key);
  return *i;
}

const value& config_values::get(std::string_view key) const { return _values[index(key)]; }

int64_t config_values::get_int(std::string_view key) const {
  const value& v = get(key);
  RINGLOG_ASSERT(std::holds_alternative<int64_t>(v), "config key {} is not a set integer", key);
  return std::get<int64_t>(v);
}

bool config_values::get_bool(std::string_view key) const {
  const value& v = get(key);
  RINGLOG_ASSERT(std::holds_alternative<bool>(v), "config key {} is not a set bool", key);
  return std::get<bool>(v);
}

const std::string& config_values::get_string(std::string_view key) const {
  const value& v = get(key);
  RINGLOG_ASSERT(std::holds_alternative<std::string>(v), "config key {} is not a set string", key);
  return std::get<std::string>(v);
}

const std::vector<std::string>& config_values::get_list(std::string_view key) const {
  const value& v = get(key);
  RINGLOG_ASSERT(std::holds_alternative<std::vector<std::string>>(v),
                 "config key {} is not a set list", key);
  return std::get<std::vector<std::string>>(v);
}

double config_values::get_double(std::string_view key) const {
  const value& v = get(key);
  RINGLOG_ASSERT(std::holds_alternative<double>(v), "config key {} is not a set double", key);
  return std::get<double>(v);
}

bool config_values::is_set(std::string_view key) const { return _set[index(key)]; }

const std::string& config_values::origin(std::string_view key) const {
  return _origins[index(key)];
}

result<config_values> resolve(const schema& keys, const properties& props) {
  std::size_t n = keys.keys().size();
  std::vector<value> values(n);
  std::vector<std::string> origins(n, "default");
  std::vector<bool> set(n, false);
  // Given but rejected: already reported, so not "required key is not set" too.
  std::vector<bool> rejected(n, false);
  error_list problems;

  // A "did you mean" for the first few unknown keys only: each costs an edit
  // distance to every known key, and a garbage file of 2,000 unknown keys
  // took 0.8 s of CPU to reject (config_fuzz).
  constexpr size_t k_suggestions_max = 16;
  size_t suggested = 0;
  for (const property& p : props.entries()) {
    auto i = keys.index_of(p.key);
    if (!i) {
      std::string problem =
          fmt::format("unknown config key {} (from {})", quote(p.key), p.origin());
      if (suggested++ < k_suggestions_max) {
        if (auto near = keys.suggest(p.key)) {
          problem += fmt::format("; did you mean \"{}\"?", *near);
        }
      }
      problems.add(errc::unknown_key, std::move(problem));
      continue;
    }
    std::string origin = p.origin();
    auto v = parse_value(keys.keys()[*i], p.value, origin);
    if (!v) {
      problems.add(v.error());
      rejected[*i] = true;
      continue;
    }
    values[*i] = std::move(v).value();
    origins[*i] = std::move(origin);
    set[*i] = true;
  }

  for (std::size_t i = 0; i < n; ++i) {
    if (set[i] || rejected[i]) continue;
    const key_spec& spec = keys.keys()[i];
    if (spec.default_text) {
      auto v = parse_value(spec, *spec.default_text, "default");
      RINGLOG_ASSERT(v.has_value(), "default of {} no longer parses", spec.name);
      values[i] = std::move(v).value();
    } else if (spec.required) {
      problems.add(errc::missing_value, fmt::format("{}: required key is not set; expected {}",
                                                    spec.name, expected_form(spec)));
    }
  }

  if (auto st = problems.to_status(); !st) return std::move(st).error();
  return config_values(keys, std::move(values), std::move(origins), std::move(set));
}

// ---------------------------------------------------------------------------
// error_list and quoting
// ---------------------------------------------------------------------------

void error_list::add(errc code, std::string problem) {
  if (!_first) _first = code;
  ++_count;
  if (_problems.size() < problems_max) _problems.push_back(std::move(problem));
}

void error_list::add(const error& e) {
  RINGLOG_ASSERT(&e.domain() == &k_domain, "error_list takes config errors, got {}", e.message());
  std::string_view detail = e.detail();
  std::size_t pos = 0;
  while (pos <= detail.size()) {
    std::size_t nl = detail.find('\n', pos);
    if (nl == std::string_view::npos) nl = detail.size();
    add(static_cast<errc>(e.code()), std::string(detail.substr(pos, nl - pos)));
    pos = nl + 1;
  }
}

status error_list::to_status() const {
  if (_count == 0) return ok();
  std::string detail;
  for (std::size_t i = 0; i < _problems.size(); ++i) {
    if (i > 0) detail.push_back('\n');
    detail.append(_problems[i]);
  }
  if (_count > _problems.size()) {
    detail.append(fmt::format("\n... and {} more problems", _count - _problems.size()));
  }
  return make_error(*_first, std::move(detail));
}

std::string quote(std::string_view text) {
  constexpr std::size_t shown_bytes_max = 200;
  std::string out = "\"";
  std::size_t shown = std::min(text.size(), shown_bytes_max);
  for (std::size_t i = 0; i < shown; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7F)
          out.append(fmt::format("\\x{:02x}", c));
        else
          out.push_back(static_cast<char>(c));
    }
  }
  if (shown < text.size())
    out.append(fmt::format("...\" ({} bytes)", text.size()));
  else
    out.push_back('"');
  return out;
}

}  // namespace ringlog::config
