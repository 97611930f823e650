// The fixed 61-byte header of a Kafka RecordBatch (magic v2): field positions,
// attribute bits and the enums they encode. FORMATS.md §1 is the reference;
// docs/formats/record_batch.md says what we validate.
//
//   pos size field                 notes
//     0    8 baseOffset            set by the leader; before the CRC range
//     8    4 batchLength           bytes after this field; batch = batchLength + 12
//    12    4 partitionLeaderEpoch  set by the leader; outside the CRC range
//    16    1 magic                 2 (same position in every magic version)
//    17    4 crc                   CRC-32C of bytes [21, end)
//    21    2 attributes            codec | timestampType | txn | control | horizon
//    23    4 lastOffsetDelta
//    27    8 baseTimestamp         first record's timestamp (-1 when empty)
//    35    8 maxTimestamp          largest timestamp, or the LogAppendTime
//    43    8 producerId            -1 when not idempotent
//    51    2 producerEpoch         -1 when none
//    53    4 baseSequence          -1 when none
//    57    4 recordsCount          never compressed
//    61      records               one compressed stream when codec != none
//
// All integers are big-endian. Thread safety: constants and pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringlog::record {

inline constexpr size_t k_base_offset_pos = 0;
inline constexpr size_t k_batch_length_pos = 8;
inline constexpr size_t k_partition_leader_epoch_pos = 12;
inline constexpr size_t k_magic_pos = 16;
inline constexpr size_t k_crc_pos = 17;
inline constexpr size_t k_attributes_pos = 21;
inline constexpr size_t k_last_offset_delta_pos = 23;
inline constexpr size_t k_base_timestamp_pos = 27;
inline constexpr size_t k_max_timestamp_pos = 35;
inline constexpr size_t k_producer_id_pos = 43;
inline constexpr size_t k_producer_epoch_pos = 51;
inline constexpr size_t k_base_sequence_pos = 53;
inline constexpr size_t k_records_count_pos = 57;
inline constexpr size_t k_records_pos = 61;

// The CRC covers [k_crc_range_pos, end): everything the leader does not stamp.
inline constexpr size_t k_crc_range_pos = k_attributes_pos;
inline constexpr size_t k_batch_header_bytes = 61;
// baseOffset + batchLength: the framing every magic version shares ("LOG_OVERHEAD").
inline constexpr size_t k_log_overhead = 12;
// The smallest legal batchLength: a header with no records.
inline constexpr int32_t k_min_batch_length =
    static_cast<int32_t>(k_batch_header_bytes - k_log_overhead);
inline constexpr int8_t k_magic_v2 = 2;

static_assert(k_records_count_pos + 4 == k_batch_header_bytes, "recordsCount ends the header");
static_assert(k_crc_pos + 4 == k_crc_range_pos, "the CRC range starts right after the CRC");
static_assert(k_min_batch_length == 49);

// Attribute bits (the low byte; bits 7..15 are unused and must be zero).
inline constexpr uint16_t k_attr_compression_mask = 0x07;
inline constexpr uint16_t k_attr_log_append_time = 0x08;
inline constexpr uint16_t k_attr_transactional = 0x10;
inline constexpr uint16_t k_attr_control = 0x20;
inline constexpr uint16_t k_attr_delete_horizon = 0x40;
inline constexpr uint16_t k_attr_unused_mask = 0xFF80;

enum class compression : uint8_t { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };
inline constexpr uint8_t k_max_codec = 4;

enum class timestamp_type : uint8_t { create_time = 0, log_append_time = 1 };

// The codec bits of `attributes`, which may be 5..7 (invalid) in unchecked input.
constexpr uint8_t codec_bits(uint16_t attributes) noexcept {
  return static_cast<uint8_t>(attributes & k_attr_compression_mask);
}

// The decoded attribute bits; encode() produces the wire value.
struct batch_attributes {
  compression codec = compression::none;
  timestamp_type ts_type = timestamp_type::create_time;
  bool transactional = false;
  bool control = false;
  bool has_delete_horizon = false;

  constexpr uint16_t encode() const noexcept {
    uint16_t a = static_cast<uint16_t>(codec);
    if (ts_type == timestamp_type::log_append_time) a |= k_attr_log_append_time;
    if (transactional) a |= k_attr_transactional;
    if (control) a |= k_attr_control;
    if (has_delete_horizon) a |= k_attr_delete_horizon;
    return a;
  }
  // Precondition: codec_bits(attributes) <= k_max_codec.
  static constexpr batch_attributes decode(uint16_t attributes) noexcept {
    return {static_cast<compression>(codec_bits(attributes)),
            (attributes & k_attr_log_append_time) ? timestamp_type::log_append_time
                                                  : timestamp_type::create_time,
            (attributes & k_attr_transactional) != 0, (attributes & k_attr_control) != 0,
            (attributes & k_attr_delete_horizon) != 0};
  }
};

constexpr std::string_view to_string(compression codec) noexcept {
  switch (codec) {
    case compression::none:
      return "none";
    case compression::gzip:
      return "gzip";
    case compression::snappy:
      return "snappy";
    case compression::lz4:
      return "lz4";
    case compression::zstd:
      return "zstd";
  }
  return "unknown";
}

constexpr std::string_view to_string(timestamp_type type) noexcept {
  return type == timestamp_type::log_append_time ? "LogAppendTime" : "CreateTime";
}

}  // namespace ringlog::record
