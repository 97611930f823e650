// Saturating arithmetic for times and durations taken from configuration or
// requests, where Kafka spells "never" as Long.MAX_VALUE: now + that must
// stay "never" rather than wrap to the distant past (signed overflow is also
// undefined behaviour).
#pragma once

#include <cstdint>
#include <limits>

namespace ringlog {

inline int64_t add_saturating(int64_t a, int64_t b) noexcept {
  int64_t sum;
  if (!__builtin_add_overflow(a, b, &sum)) return sum;
  return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

inline int64_t sub_saturating(int64_t a, int64_t b) noexcept {
  int64_t difference;
  if (!__builtin_sub_overflow(a, b, &difference)) return difference;
  return b < 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

}  // namespace ringlog
