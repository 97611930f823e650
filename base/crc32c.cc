#include "base/crc32c.h"

#include <isa-l/crc.h>

#include <climits>

namespace ringlog {

uint32_t crc32c_extend(uint32_t crc, std::span<const std::byte> data) noexcept {
  // ISA-L works on the raw (pre-inverted) register and takes an int length:
  // undo the final xor, feed chunks below INT_MAX, redo the xor.
  uint32_t reg = ~crc;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t left = data.size();
  while (left > 0) {
    const size_t n = left > (1u << 30) ? (1u << 30) : left;
    reg = crc32_iscsi(const_cast<unsigned char*>(p), static_cast<int>(n), reg);
    p += n;
    left -= n;
  }
  return ~reg;
}

uint32_t crc32c(std::span<const std::byte> data) noexcept { return crc32c_extend(0, data); }

}  // namespace ringlog
