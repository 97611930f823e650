// Variable-length integers as Kafka encodes them: unsigned LEB128 ("unsigned
// varint", the lengths of flexible-version messages) and zigzag-signed varints
// and varlongs (the fields of a v2 record). Encoders write to raw memory the
// caller sized with *_size(); decoders are bounded and report malformed input
// instead of reading past the end.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringlog {

constexpr size_t k_max_varint_bytes = 5;   // 32-bit value: ceil(32 / 7)
constexpr size_t k_max_varlong_bytes = 10;  // 64-bit value: ceil(64 / 7)

constexpr uint32_t zigzag_encode32(int32_t v) noexcept {
  return (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31);
}
constexpr int32_t zigzag_decode32(uint32_t v) noexcept {
  return static_cast<int32_t>((v >> 1) ^ (~(v & 1) + 1));
}
constexpr uint64_t zigzag_encode64(int64_t v) noexcept {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
constexpr int64_t zigzag_decode64(uint64_t v) noexcept {
  return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

constexpr size_t uvarint_size(uint64_t v) noexcept {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}
constexpr size_t varint_size(int32_t v) noexcept { return uvarint_size(zigzag_encode32(v)); }
constexpr size_t varlong_size(int64_t v) noexcept { return uvarint_size(zigzag_encode64(v)); }

// Writes v at out; returns the bytes written (uvarint_size(v)).
inline size_t encode_uvarint(uint64_t v, std::byte* out) noexcept {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = static_cast<std::byte>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out[n++] = static_cast<std::byte>(v);
  return n;
}
inline size_t encode_varint(int32_t v, std::byte* out) noexcept {
  return encode_uvarint(zigzag_encode32(v), out);
}
inline size_t encode_varlong(int64_t v, std::byte* out) noexcept {
  return encode_uvarint(zigzag_encode64(v), out);
}

enum class varint_status : uint8_t {
  ok,
  truncated,  // the input ended inside the varint
  overflow,   // more bytes, or higher bits, than the target width holds
};

// Decodes an unsigned varint of at most `bits` (32 or 64) bits from [p, end).
// On ok, stores the value and the bytes consumed.
inline varint_status decode_uvarint(const std::byte* p, const std::byte* end, unsigned bits,
                                    uint64_t& value, size_t& consumed) noexcept {
  const size_t max_bytes = (bits + 6) / 7;
  uint64_t v = 0;
  for (size_t i = 0; i < max_bytes; ++i) {
    if (p + i >= end) return varint_status::truncated;
    const auto b = static_cast<uint64_t>(p[i]);
    const unsigned shift = static_cast<unsigned>(7 * i);
    if (i == max_bytes - 1) {
      // The last byte may only carry the bits that remain of the width.
      const unsigned room = bits - shift;
      if ((b & 0x80) != 0 || (room < 7 && (b >> room) != 0)) return varint_status::overflow;
    }
    v |= (b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      value = v;
      consumed = i + 1;
      return varint_status::ok;
    }
  }
  return varint_status::overflow;  // unreachable: the last byte returns above
}

}  // namespace ringlog
