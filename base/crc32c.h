// CRC-32C (Castagnoli), the checksum of Kafka's RecordBatch v2: initial value
// ~0, reflected, final xor ~0. Computed with ISA-L's crc32_iscsi, which uses
// the SSE4.2 crc32 instruction (and PCLMUL folding) where the CPU has them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ringlog {

// The CRC-32C of `data`. crc32c("123456789") == 0xE3069283.
uint32_t crc32c(std::span<const std::byte> data) noexcept;

// Continues a CRC over more bytes: crc32c_extend(crc32c(a), b) == crc32c(a ++ b).
uint32_t crc32c_extend(uint32_t crc, std::span<const std::byte> data) noexcept;

inline uint32_t crc32c(const void* data, size_t size) noexcept {
  return crc32c({static_cast<const std::byte*>(data), size});
}

}  // namespace ringlog
