#include "engine/record/record_batch.h"

#include <fmt/core.h>

#include "base/assert.h"
#include "base/crc32c.h"
#include "engine/record/errc.h"

namespace ringlog::record {
namespace {

constexpr std::string_view k_op = "record_batch";
// The smallest encoded record: length, attributes, timestampDelta, offsetDelta,
// keyLength, valueLength and headersCount, one byte each.
constexpr size_t k_min_record_bytes = 7;

error fail(errc code, std::string detail) { return make_error(code, k_op, std::move(detail)); }

}  // namespace

uint32_t compute_batch_crc(std::span<const std::byte> batch) noexcept {
  RINGLOG_ASSERT(batch.size() >= k_batch_header_bytes, "batch of {} bytes has no header",
                 batch.size());
  return crc32c(batch.subspan(k_crc_range_pos));
}

result<size_t> record_batch_view::peek_size(std::span<const std::byte> bytes) {
  if (bytes.size() < k_log_overhead) {
    return fail(errc::truncated,
                fmt::format("batch framing needs {} bytes (baseOffset, batchLength), "
                            "buffer holds {}",
                            k_log_overhead, bytes.size()));
  }
  const auto length = static_cast<int32_t>(load_be32(bytes.data() + k_batch_length_pos));
  if (length < k_min_batch_length) {
    return fail(errc::corrupt_message,
                fmt::format("batchLength {} at byte {}: expected at least {} (the v2 header)",
                            length, k_batch_length_pos, k_min_batch_length));
  }
  return static_cast<size_t>(length) + k_log_overhead;
}

result<record_batch_view> record_batch_view::parse(std::span<const std::byte> bytes,
                                                   const validate_options& options) {
  // Magic first when it is present: a legacy (magic 0/1) message can be shorter
  // than a v2 header, and "wrong format" says more than "truncated".
  if (bytes.size() > k_magic_pos) {
    const auto magic = static_cast<int8_t>(bytes[k_magic_pos]);
    if (magic == 0 || magic == 1) {
      return fail(errc::unsupported_magic,
                  fmt::format("magic {} at byte {}: legacy message format, expected {}", magic,
                              k_magic_pos, k_magic_v2));
    }
    if (magic != k_magic_v2) {
      return fail(errc::corrupt_message,
                  fmt::format("magic {} at byte {}: expected {}", magic, k_magic_pos, k_magic_v2));
    }
  }
  if (bytes.size() < k_batch_header_bytes) {
    return fail(errc::truncated, fmt::format("batch header needs {} bytes, buffer holds {}",
                                             k_batch_header_bytes, bytes.size()));
  }
  const auto length = static_cast<int32_t>(load_be32(bytes.data() + k_batch_length_pos));
  if (length < k_min_batch_length) {
    return fail(errc::corrupt_message,
                fmt::format("batchLength {} at byte {}: expected at least {} (the header alone)",
                            length, k_batch_length_pos, k_min_batch_length));
  }
  const size_t size = static_cast<size_t>(length) + k_log_overhead;
  if (size > options.max_batch_bytes) {
    return fail(errc::message_too_large,
                fmt::format("batch of {} bytes (batchLength {} at byte {}) exceeds the limit of {}",
                            size, length, k_batch_length_pos, options.max_batch_bytes));
  }
  if (size > bytes.size()) {
    return fail(errc::truncated,
                fmt::format("batchLength {} at byte {} declares {} bytes, buffer holds {}", length,
                            k_batch_length_pos, size, bytes.size()));
  }
  const record_batch_view view(bytes.first(size));

  const uint32_t computed = crc32c(view._bytes.subspan(k_crc_range_pos));
  if (computed != view.crc()) {
    return fail(
        errc::corrupt_message,
        fmt::format("crc mismatch: stored {:#010x} at byte {}, computed {:#010x} over bytes "
                    "[{}, {})",
                    view.crc(), k_crc_pos, computed, k_crc_range_pos, size));
  }
  const uint16_t attributes = view.attributes();
  if ((attributes & k_attr_unused_mask) != 0) {
    return fail(errc::invalid_record,
                fmt::format("attributes {:#06x} at byte {}: unused bits {:#06x} are set",
                            attributes, k_attributes_pos, attributes & k_attr_unused_mask));
  }
  if (codec_bits(attributes) > k_max_codec) {
    return fail(errc::unsupported_compression,
                fmt::format("attributes {:#06x} at byte {}: compression codec {} (known: 0..{})",
                            attributes, k_attributes_pos, codec_bits(attributes), k_max_codec));
  }
  const int32_t count = view.records_count();
  if (count < 0) {
    return fail(errc::invalid_record,
                fmt::format("recordsCount {} at byte {}: negative", count, k_records_count_pos));
  }
  const int32_t last_delta = view.last_offset_delta();
  if (last_delta < 0) {
    return fail(errc::invalid_record, fmt::format("lastOffsetDelta {} at byte {}: negative",
                                                  last_delta, k_last_offset_delta_pos));
  }
  const int64_t offsets_spanned = int64_t{last_delta} + 1;
  if (count > offsets_spanned || (!options.allow_offset_gaps && count != offsets_spanned)) {
    return fail(
        errc::invalid_record,
        fmt::format("recordsCount {} at byte {} does not match lastOffsetDelta {} at byte {}: "
                    "expected {}{}",
                    count, k_records_count_pos, last_delta, k_last_offset_delta_pos,
                    options.allow_offset_gaps ? "at most " : "", offsets_spanned));
  }
  const size_t record_bytes = size - k_batch_header_bytes;
  if (view.codec() == compression::none &&
      static_cast<size_t>(count) > record_bytes / k_min_record_bytes) {
    return fail(errc::invalid_record,
                fmt::format("recordsCount {} at byte {} cannot fit in {} record bytes (a record "
                            "takes at least {})",
                            count, k_records_count_pos, record_bytes, k_min_record_bytes));
  }
  return view;
}

result<std::optional<record_batch_view>> batch_iterator::next() {
  if (_failure) return *_failure;
  if (_pos == _stream.size()) return std::optional<record_batch_view>{};
  auto batch = record_batch_view::parse(_stream.subspan(_pos), _options);
  if (!batch) {
    const ringlog::error& e = batch.error();
    _failure.emplace(e.domain(), e.code(), e.op(),
                     fmt::format("batch at byte {} of the stream: {}", _pos, e.detail()));
    return *_failure;
  }
  _pos += batch->size_bytes();
  return std::optional<record_batch_view>(*batch);
}

void set_base_offset(std::span<std::byte> batch, int64_t base_offset) noexcept {
  RINGLOG_ASSERT(batch.size() >= k_batch_header_bytes, "batch of {} bytes has no header",
                 batch.size());
  store_be64(batch.data() + k_base_offset_pos, static_cast<uint64_t>(base_offset));
}

void set_partition_leader_epoch(std::span<std::byte> batch,
                                int32_t partition_leader_epoch) noexcept {
  RINGLOG_ASSERT(batch.size() >= k_batch_header_bytes, "batch of {} bytes has no header",
                 batch.size());
  store_be32(batch.data() + k_partition_leader_epoch_pos,
             static_cast<uint32_t>(partition_leader_epoch));
}

void set_max_timestamp_and_type(std::span<std::byte> batch, int64_t max_timestamp_ms,
                                timestamp_type type) noexcept {
  RINGLOG_ASSERT(batch.size() >= k_batch_header_bytes, "batch of {} bytes has no header",
                 batch.size());
  const auto length = static_cast<int32_t>(load_be32(batch.data() + k_batch_length_pos));
  RINGLOG_ASSERT(
      length >= k_min_batch_length && static_cast<size_t>(length) + k_log_overhead == batch.size(),
      "span of {} bytes is not exactly the batch (batchLength {})", batch.size(), length);
  uint16_t attributes = load_be16(batch.data() + k_attributes_pos);
  attributes = static_cast<uint16_t>(attributes & ~k_attr_log_append_time);
  if (type == timestamp_type::log_append_time) attributes |= k_attr_log_append_time;
  store_be16(batch.data() + k_attributes_pos, attributes);
  store_be64(batch.data() + k_max_timestamp_pos, static_cast<uint64_t>(max_timestamp_ms));
  store_be32(batch.data() + k_crc_pos, compute_batch_crc(batch));
}

}  // namespace ringlog::record
