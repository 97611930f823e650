#include "tools/dump/render.h"

#include <cstdint>
#include <string>

#include "tools/dump/json.h"

namespace ringlog::dump {
namespace {

constexpr char k_hex[] = "0123456789abcdef";

uint8_t at(std::span<const std::byte> bytes, size_t i) noexcept {
  return static_cast<uint8_t>(bytes[i]);
}

void append_hex_byte(std::string& out, uint8_t b) {
  out.push_back(k_hex[b >> 4]);
  out.push_back(k_hex[b & 0xf]);
}

void append_escaped_byte(std::string& out, uint8_t b) {
  out += "\\x";
  append_hex_byte(out, b);
}

std::span<const std::byte> as_span(std::string_view s) noexcept {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

}  // namespace

size_t utf8_sequence_length(std::span<const std::byte> bytes, size_t i) noexcept {
  const size_t left = bytes.size() - i;
  const uint8_t b0 = at(bytes, i);
  if (b0 < 0x80) return 1;
  // The second byte's range depends on the lead byte: that excludes overlong
  // forms (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code points
  // above U+10FFFF (F4 90..BF), as RFC 3629's table does.
  size_t n = 0;
  uint8_t lo = 0x80;
  uint8_t hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    n = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3;
    if (b0 == 0xe0) lo = 0xa0;
    if (b0 == 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4;
    if (b0 == 0xf0) lo = 0x90;
    if (b0 == 0xf4) hi = 0x8f;
  } else {
    return 0;  // a continuation byte, C0/C1 (overlong) or F5..FF
  }
  if (left < n) return 0;
  const uint8_t b1 = at(bytes, i + 1);
  if (b1 < lo || b1 > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    const uint8_t b = at(bytes, i + k);
    if (b < 0x80 || b > 0xbf) return 0;
  }
  return n;
}

bool is_valid_utf8(std::span<const std::byte> bytes) noexcept {
  size_t i = 0;
  while (i < bytes.size()) {
    const size_t n = utf8_sequence_length(bytes, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

size_t cut_length(std::span<const std::byte> bytes, value_encoding encoding,
                  size_t max_bytes) noexcept {
  if (max_bytes == 0 || bytes.size() <= max_bytes) return bytes.size();
  if (encoding == value_encoding::hex) return max_bytes;
  size_t i = 0;
  while (i < max_bytes) {
    const size_t n = utf8_sequence_length(bytes, i);
    const size_t step = n == 0 ? 1 : n;  // an invalid byte is shown alone as \xNN
    if (i + step > max_bytes) break;
    i += step;
  }
  return i;
}

std::string escape_text(std::span<const std::byte> bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    const uint8_t b = at(bytes, i);
    if (b < 0x80) {
      switch (b) {
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
        default:
          if (b < 0x20 || b == 0x7f) {
            append_escaped_byte(out, b);
          } else {
            out.push_back(static_cast<char>(b));
          }
      }
      ++i;
      continue;
    }
    const size_t n = utf8_sequence_length(bytes, i);
    // U+0080..U+009F (C2 80..9F) are C1 control characters: escaped like C0.
    const bool c1_control = n == 2 && b == 0xc2 && at(bytes, i + 1) < 0xa0;
    if (n == 0 || c1_control) {
      const size_t count = n == 0 ? 1 : n;
      for (size_t k = 0; k < count; ++k) append_escaped_byte(out, at(bytes, i + k));
      i += count;
    } else {
      out.append(reinterpret_cast<const char*>(bytes.data()) + i, n);
      i += n;
    }
  }
  return out;
}

std::string to_hex(std::span<const std::byte> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::byte b : bytes) append_hex_byte(out, static_cast<uint8_t>(b));
  return out;
}

std::string render_text(const std::optional<std::span<const std::byte>>& bytes,
                        value_encoding encoding, size_t max_bytes) {
  if (!bytes) return "null";
  const size_t n = cut_length(*bytes, encoding, max_bytes);
  const std::span<const std::byte> shown = bytes->first(n);
  std::string out;
  if (encoding == value_encoding::hex) {
    out = to_hex(shown);
  } else {
    out.push_back('"');
    out += escape_text(shown);
    out.push_back('"');
  }
  if (n < bytes->size()) out += "...";
  return out;
}

std::string render_text_key(std::string_view key, size_t max_bytes) {
  return render_text(as_span(key), value_encoding::utf8, max_bytes);
}

void add_json_bytes(json_object& object, std::string_view field,
                    const std::optional<std::span<const std::byte>>& bytes, value_encoding encoding,
                    size_t max_bytes) {
  const std::string encoding_field = std::string(field) + "Encoding";
  const std::string truncated_field = std::string(field) + "Truncated";
  if (!bytes) {
    object.null(field);
    object.str(encoding_field, encoding == value_encoding::hex ? "hex" : "utf8");
    object.boolean(truncated_field, false);
    return;
  }
  const size_t n = cut_length(*bytes, encoding, max_bytes);
  const std::span<const std::byte> shown = bytes->first(n);
  if (encoding == value_encoding::utf8 && is_valid_utf8(shown)) {
    object.str(field, std::string_view(reinterpret_cast<const char*>(shown.data()), shown.size()));
    object.str(encoding_field, "utf8");
  } else {
    object.str(field, to_hex(shown));
    object.str(encoding_field, "hex");
  }
  object.boolean(truncated_field, n < bytes->size());
}

}  // namespace ringlog::dump
