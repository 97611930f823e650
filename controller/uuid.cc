#include "controller/uuid.h"

#include <array>
#include <random>

namespace ringlog::controller::detail {
namespace {

constexpr std::string_view k_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int sextet_of(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

std::array<uint8_t, 16> bytes_of(uint64_t msb, uint64_t lsb) noexcept {
  std::array<uint8_t, 16> b{};
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<uint8_t>(msb >> (56 - 8 * i));
    b[8 + i] = static_cast<uint8_t>(lsb >> (56 - 8 * i));
  }
  return b;
}

}  // namespace

std::string uuid_to_string(uint64_t msb, uint64_t lsb) {
  const auto b = bytes_of(msb, lsb);
  std::string out;
  out.reserve(22);
  // Five whole 3-byte groups, then the last byte as two characters (no '=').
  for (size_t i = 0; i < 15; i += 3) {
    const uint32_t v = (uint32_t{b[i]} << 16) | (uint32_t{b[i + 1]} << 8) | b[i + 2];
    out.push_back(k_alphabet[(v >> 18) & 63]);
    out.push_back(k_alphabet[(v >> 12) & 63]);
    out.push_back(k_alphabet[(v >> 6) & 63]);
    out.push_back(k_alphabet[v & 63]);
  }
  out.push_back(k_alphabet[b[15] >> 2]);
  out.push_back(k_alphabet[(b[15] & 3) << 4]);
  return out;
}

bool uuid_from_string(std::string_view text, uint64_t& msb, uint64_t& lsb) noexcept {
  if (text.size() != 22) return false;
  std::array<uint8_t, 16> b{};
  for (size_t g = 0; g < 5; ++g) {
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      const int s = sextet_of(text[g * 4 + k]);
      if (s < 0) return false;
      v = (v << 6) | static_cast<uint32_t>(s);
    }
    b[g * 3] = static_cast<uint8_t>(v >> 16);
    b[g * 3 + 1] = static_cast<uint8_t>(v >> 8);
    b[g * 3 + 2] = static_cast<uint8_t>(v);
  }
  const int hi = sextet_of(text[20]);
  const int lo = sextet_of(text[21]);
  // The last character carries 2 bits; its low 4 must be zero (canonical form).
  if (hi < 0 || lo < 0 || (lo & 15) != 0) return false;
  b[15] = static_cast<uint8_t>((hi << 2) | (lo >> 4));
  msb = 0;
  lsb = 0;
  for (int i = 0; i < 8; ++i) {
    msb = (msb << 8) | b[i];
    lsb = (lsb << 8) | b[8 + i];
  }
  return true;
}

void random_uuid(uint64_t& msb, uint64_t& lsb) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  for (;;) {
    // Version 4, IETF variant, as java.util.UUID.randomUUID.
    msb = (rng() & ~uint64_t{0xF000}) | 0x4000;
    lsb = (rng() & ~(uint64_t{3} << 62)) | (uint64_t{2} << 62);
    // The top six bits are the first character; 62 is '-'.
    if ((msb >> 58) != 62) return;
  }
}

}  // namespace ringlog::controller::detail
