#include "tools/dump/json.h"

#include <cstddef>
#include <span>

#include "tools/dump/render.h"

namespace ringlog::dump {

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char k_hex[] = "0123456789abcdef";
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(s.data()), s.size());
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = utf8_sequence_length(bytes, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out.push_back(k_hex[c >> 4]);
          out.push_back(k_hex[c & 0xf]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

std::string json_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

void json_object::start(std::string_view key) {
  if (!_first) _text.push_back(',');
  _first = false;
  append_json_string(_text, key);
  _text.push_back(':');
}

json_object& json_object::str(std::string_view key, std::string_view value) {
  start(key);
  append_json_string(_text, value);
  return *this;
}

json_object& json_object::boolean(std::string_view key, bool value) {
  start(key);
  _text += value ? "true" : "false";
  return *this;
}

json_object& json_object::null(std::string_view key) {
  start(key);
  _text += "null";
  return *this;
}

json_object& json_object::raw(std::string_view key, std::string_view json) {
  start(key);
  _text.append(json);
  return *this;
}

std::string json_object::finish() {
  _text.push_back('}');
  return std::move(_text);
}

}  // namespace ringlog::dump
