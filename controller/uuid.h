// 128-bit ids as Kafka writes them: topic ids and broker incarnation ids.
// On the wire and in metadata records a uuid is 16 bytes, most significant
// half first; in text (Metadata responses, kafka-topics --describe, tools) it
// is Kafka's Uuid.toString: the 16 bytes in base64url without padding, 22
// characters. The all-zero uuid means "none".
//
// A distinct type per kind of id (topic_id, incarnation_id) so that the two
// cannot be swapped at a call site.
//
// Thread safety: values; random() draws from a per-thread generator.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ringlog::controller {

namespace detail {
std::string uuid_to_string(uint64_t msb, uint64_t lsb);
bool uuid_from_string(std::string_view text, uint64_t& msb, uint64_t& lsb) noexcept;
// A random version-4 uuid whose text does not start with '-' (Kafka's
// Uuid.randomUuid avoids those: a leading '-' reads as a command-line flag).
void random_uuid(uint64_t& msb, uint64_t& lsb);
}  // namespace detail

template <class Tag>
struct basic_uuid {
  uint64_t msb = 0;
  uint64_t lsb = 0;

  bool is_zero() const noexcept { return msb == 0 && lsb == 0; }
  std::string to_string() const { return detail::uuid_to_string(msb, lsb); }
  // The 22-character base64url form; nullopt for anything else.
  static std::optional<basic_uuid> parse(std::string_view text) noexcept {
    basic_uuid u;
    if (!detail::uuid_from_string(text, u.msb, u.lsb)) return std::nullopt;
    return u;
  }
  // The 16 bytes as the wire carries them (most significant first), for
  // codecs that keep a uuid as bytes.
  std::array<uint8_t, 16> bytes() const noexcept {
    std::array<uint8_t, 16> b{};
    for (int i = 0; i < 8; ++i) {
      b[i] = static_cast<uint8_t>(msb >> (56 - 8 * i));
      b[8 + i] = static_cast<uint8_t>(lsb >> (56 - 8 * i));
    }
    return b;
  }
  static basic_uuid from_bytes(const std::array<uint8_t, 16>& b) noexcept {
    basic_uuid u;
    for (int i = 0; i < 8; ++i) {
      u.msb = (u.msb << 8) | b[i];
      u.lsb = (u.lsb << 8) | b[8 + i];
    }
    return u;
  }
  static basic_uuid random() {
    basic_uuid u;
    detail::random_uuid(u.msb, u.lsb);
    return u;
  }

  friend auto operator<=>(const basic_uuid&, const basic_uuid&) = default;
};

using topic_id = basic_uuid<struct topic_id_tag>;
using incarnation_id = basic_uuid<struct incarnation_id_tag>;

struct uuid_hash {
  template <class Tag>
  size_t operator()(const basic_uuid<Tag>& u) const noexcept {
    // Random ids: the halves are already well mixed.
    return std::hash<uint64_t>{}(u.msb ^ (u.lsb * 0x9e3779b97f4a7c15ULL));
  }
};

}  // namespace ringlog::controller
