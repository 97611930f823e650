// Helpers for protocol tests: byte vectors from literals, hex dumps, and a
// small builder for golden frames written by hand from the spec (FORMATS.md
// §4), so expected bytes never come from the code under test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringlog::protocol::testutil {

inline std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  out.reserve(v.size());
  for (int b : v) out.push_back(static_cast<std::byte>(b));
  return out;
}

inline std::string hex(std::span<const std::byte> b) {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < b.size(); ++i) {
    if (i > 0) out.push_back(' ');
    const auto v = static_cast<uint8_t>(b[i]);
    out.push_back(k_digits[v >> 4]);
    out.push_back(k_digits[v & 15]);
  }
  return out;
}

// Appends big-endian fields: golden.be16(18).be32(1).str("abc") ...
struct golden {
  std::vector<std::byte> out;

  golden& u8(unsigned v) {
    out.push_back(static_cast<std::byte>(v & 0xff));
    return *this;
  }
  golden& be16(int v) { return u8(static_cast<unsigned>(v) >> 8).u8(static_cast<unsigned>(v)); }
  golden& be32(int64_t v) {
    const auto u = static_cast<uint32_t>(v);
    return u8(u >> 24).u8(u >> 16).u8(u >> 8).u8(u);
  }
  golden& be64(int64_t v) {
    const auto u = static_cast<uint64_t>(v);
    return be32(static_cast<int64_t>(u >> 32)).be32(static_cast<int64_t>(u & 0xffffffffu));
  }
  // Classic string: int16 length.
  golden& str(std::string_view s) {
    be16(static_cast<int>(s.size()));
    for (char c : s) u8(static_cast<unsigned char>(c));
    return *this;
  }
  // Compact string: uvarint length+1 (short strings: one byte).
  golden& cstr(std::string_view s) {
    u8(static_cast<unsigned>(s.size() + 1));
    for (char c : s) u8(static_cast<unsigned char>(c));
    return *this;
  }
  golden& raw(std::span<const std::byte> b) {
    out.insert(out.end(), b.begin(), b.end());
    return *this;
  }
  // Prefixes the int32 frame size.
  std::vector<std::byte> framed() const {
    golden g;
    g.be32(static_cast<int64_t>(out.size()));
    g.out.insert(g.out.end(), out.begin(), out.end());
    return g.out;
  }
};

}  // namespace ringlog::protocol::testutil
