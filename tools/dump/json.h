// The JSON that `ringlog-dump --json` writes: a string escaper and a builder
// for one object per output line. Output only: the tool never parses JSON, so
// a few dozen lines beat a dependency.
//
// Strings are taken as UTF-8. '"' and '\' are escaped, control characters
// become \n \r \t \b \f or \u00XX (DEL too), valid multi-byte sequences pass
// through, and each byte that is not part of a valid UTF-8 sequence becomes
// U+FFFD, so every line is valid JSON whatever the input. Callers that must not
// lose bytes (record keys and values) check is_valid_utf8 first and fall back
// to hex (render.h).
//
// Thread safety: pure functions and a value type.
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace ringlog::dump {

// Appends `s` to `out` as a JSON string literal, quotes included.
void append_json_string(std::string& out, std::string_view s);
std::string json_string(std::string_view s);

// One JSON object, written field by field in the order added:
//   json_object o; o.str("type", "batch").num("baseOffset", 42).boolean("ok", true);
//   out << o.finish() << '\n';
// The setters have distinct names because a string literal converts to bool
// before it converts to std::string_view: one overloaded add() would turn
// add("type", "batch") into "type": true.
class json_object {
 public:
  json_object() : _text("{") {}

  json_object& str(std::string_view key, std::string_view value);
  template <std::integral T>
  requires(!std::same_as<T, bool>) json_object& num(std::string_view key, T value) {
    start(key);
    _text += std::to_string(value);
    return *this;
  }
  json_object& boolean(std::string_view key, bool value);
  json_object& null(std::string_view key);
  // `json` must already be valid JSON (a nested object or array).
  json_object& raw(std::string_view key, std::string_view json);

  // The object text, "{...}"; the builder is spent afterwards.
  std::string finish();

 private:
  void start(std::string_view key);

  std::string _text;
  bool _first = true;
};

}  // namespace ringlog::dump
