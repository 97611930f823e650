// Configuration: a Kafka-style `.properties` parser and a generic registry of
// typed keys (a `schema`) that turns parsed text into checked values.
//
// Flow: parse_properties / load_properties_file -> apply_overrides (the
// `--override KEY=VALUE` strings) -> resolve(schema, properties) ->
// config_values, read by the owner of the schema (base/broker_config.h).
//
// Errors are collected, not stopped at: resolve reports every bad line of a
// file in one error (one problem per line of its detail) so an operator fixes
// a file in one go. Each problem names the key, the value, where it came from
// ("server.properties:7" or "--override") and the expected form.
//
// Config loads once at start-up, on the main thread, before the runtime
// starts; nothing here is meant for a shard's hot path (the file read blocks).
// Thread safety: value types and a read-only schema; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/error.h"
#include "base/result.h"

namespace ringlog::config {

// Error codes of the config domain. When several problems are reported in one
// error, its code is the first problem's code.
enum class errc {
  bad_value = 1,  // malformed text or syntax, out of range, not an allowed value
  unknown_key,    // a key the schema does not know
  missing_value,  // a required key is not set, or set to an empty value
  io,             // the file could not be read (errno in sys_errno())
};

const error_domain& domain_of(errc) noexcept;
std::string_view describe(errc code) noexcept;

// ---------------------------------------------------------------------------
// Properties text (java.util.Properties format)
// ---------------------------------------------------------------------------

// One `key=value` after escapes are decoded, with where it came from.
struct property {
  std::string key;
  std::string value;
  std::string source;  // file name as given, or "--override"
  int line = 0;        // 1-based line where the entry starts; 0 when not from a file

  // "server.properties:7", or the bare source when line is 0.
  std::string origin() const;
};

// Entries in the order their final occurrence appeared: a later duplicate
// replaces an earlier one (as java.util.Properties does), so each key appears
// once and `find` sees the winning value and its line.
class properties {
 public:
  properties() = default;
  // Keeps the last entry of each key.
  explicit properties(std::vector<property> entries);

  // Replaces an entry with the same key (the new one moves to the end) or appends.
  void set(property entry);
  const property* find(std::string_view key) const noexcept;
  std::span<const property> entries() const noexcept { return _entries; }
  std::size_t size() const noexcept { return _entries.size(); }
  bool empty() const noexcept { return _entries.empty(); }

 private:
  std::vector<property> _entries;
};

// A file larger than this is refused: a broker config is a few KiB, and the
// bound keeps a wrong path (a log, a device) from being read whole.
inline constexpr std::size_t properties_file_bytes_max = 16 * 1024 * 1024;

// Parses `text` as java.util.Properties.load does: `key=value`, `key: value`
// and `key value`; `#` and `!` comment lines; leading whitespace ignored; an
// odd number of trailing backslashes joins the next line (whose leading
// whitespace is dropped); escapes \t \n \r \f \uXXXX (UTF-16, written out as
// UTF-8) and `\c` = c for any other c. Bytes outside ASCII pass through as
// they are (the file is taken as UTF-8, not ISO-8859-1 like Java's
// InputStream overload). Errors (malformed \u escapes) are bad_value.
result<properties> parse_properties(std::string_view text, std::string_view source_name);
// Reads and parses a file; errc::io with the errno if it cannot be read.
result<properties> load_properties_file(const std::string& path);

// Parses one `KEY=VALUE` override (split at the first '='; no escapes, no
// trimming: the shell already quoted it). Source "--override", line 0.
result<property> parse_override(std::string_view text);
// Applies overrides in order on top of `props`; reports every malformed one.
status apply_overrides(properties& props, std::span<const std::string> overrides);

// `key=value\n` with the escapes needed for parse_properties to read the same
// key and value back.
std::string to_properties_line(std::string_view key, std::string_view value);

// ---------------------------------------------------------------------------
// Typed keys
// ---------------------------------------------------------------------------

enum class key_type { int32, int64, boolean, string, list, float64 };
// "int32", "int64", "bool", "string", "list", "double".
std::string_view type_name(key_type type) noexcept;

// A resolved value: monostate for an optional key that is not set; int64_t for
// int32 and int64 keys (the range check keeps int32 keys in int32).
using value =
    std::variant<std::monostate, int64_t, bool, std::string, std::vector<std::string>, double>;

// One key of a schema. Meant to be written as a designated initializer in a
// static table; the views must outlive the schema (string literals do).
struct key_spec {
  std::string_view name;
  key_type type = key_type::string;
  // The default as config text, parsed and checked like a configured value
  // (the schema asserts it passes). nullopt: no default.
  std::optional<std::string_view> default_text = std::nullopt;
  // Without a default: true = must be set (missing_value), false = optional
  // (unset values are std::monostate).
  bool required = false;
  // Inclusive bounds for int32/int64 keys, narrowed to int32 for int32 keys.
  int64_t min = std::numeric_limits<int64_t>::min();
  int64_t max = std::numeric_limits<int64_t>::max();
  // Inclusive bounds for float64 keys.
  double min_double = -std::numeric_limits<double>::infinity();
  double max_double = std::numeric_limits<double>::infinity();
  // For string keys, the allowed values; for list keys, the allowed items.
  // Empty: anything. Compared case-sensitively, as Kafka's ValidString does.
  std::span<const std::string_view> allowed = {};
  // An extra rule on the parsed value, described by check_text ("a power of
  // two"); a failing value "is not <check_text>".
  bool (*check)(const value&) = nullptr;
  std::string_view check_text = {};
  std::string_view doc = {};
  // True when Kafka has a key of this name (with the same meaning).
  bool kafka_name = true;
};

// "an integer in [14, 2147483647]", "true or false", "one of a, b", ...
std::string expected_form(const key_spec& spec);
// The effective numeric bounds of an int32/int64 key.
int64_t effective_min(const key_spec& spec) noexcept;
int64_t effective_max(const key_spec& spec) noexcept;

// A set of key specs. Construction asserts the table is sound (unique
// non-empty names, docs present, defaults valid, bounds ordered): a bad table
// is a programmer error. Immutable afterwards.
class schema {
 public:
  explicit schema(std::vector<key_spec> keys);

  std::span<const key_spec> keys() const noexcept { return _keys; }
  const key_spec* find(std::string_view name) const noexcept;
  std::optional<std::size_t> index_of(std::string_view name) const noexcept;
  // The known key nearest to `name` by Levenshtein distance, when that
  // distance is at most max(2, name.size() / 3); ties go to the earlier key.
  std::optional<std::string_view> suggest(std::string_view name) const;

 private:
  std::vector<key_spec> _keys;
  std::vector<std::size_t> _by_name;  // indexes into _keys, sorted by name
};

// Edit distance (insert, delete, substitute each cost 1).
std::size_t levenshtein(std::string_view a, std::string_view b);

// Parses `text` as a value of `spec` and checks its range, allowed values and
// extra rule. On failure the error's detail is a full problem line naming the
// key, the value, `origin` and the expected form.
result<value> parse_value(const key_spec& spec, std::string_view text, std::string_view origin);

// Checked values of every key of a schema, with where each came from.
// Holds a pointer to the schema, which must outlive it. Asking for a key the
// schema lacks, or with the wrong type, is a programmer error (asserts).
class config_values {
 public:
  config_values(const config::schema& keys, std::vector<value> values,
                std::vector<std::string> origins, std::vector<bool> explicitly_set);

  const config::schema& schema() const noexcept { return *_schema; }
  const value& get(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  const std::string& get_string(std::string_view key) const;
  const std::vector<std::string>& get_list(std::string_view key) const;
  double get_double(std::string_view key) const;
  // True when the value came from the file or an override, not the default.
  bool is_set(std::string_view key) const;
  // "server.properties:7", "--override" or "default".
  const std::string& origin(std::string_view key) const;

 private:
  std::size_t index(std::string_view key) const;

  const config::schema* _schema;
  std::vector<value> _values;  // parallel to _schema->keys()
  std::vector<std::string> _origins;
  std::vector<bool> _set;
};

// Checks every entry of `props` against `keys`: unknown keys (with a
// suggestion), bad values, missing required keys. Reports all problems in one
// error, one per line in file order, then overrides, then missing keys.
result<config_values> resolve(const schema& keys, const properties& props);

// Collects problem lines into one error; the code is the first problem's.
// Beyond problems_max lines, the rest are counted, not kept: a file of
// garbage must not produce a megabyte of error text.
class error_list {
 public:
  static constexpr std::size_t problems_max = 100;

  void add(errc code, std::string problem);
  // Adds a whole error of this domain (its detail may hold several lines).
  void add(const error& e);
  bool empty() const noexcept { return _count == 0; }
  // ok() when empty; else one error, op "config", lines joined by '\n'.
  status to_status() const;

 private:
  std::optional<errc> _first;
  std::vector<std::string> _problems;
  std::size_t _count = 0;
};

// `"value"` with quotes, backslashes and control characters escaped and very
// long values cut short, for problem lines.
std::string quote(std::string_view text);

}  // namespace ringlog::config
