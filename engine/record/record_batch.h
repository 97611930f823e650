// record_batch_view: a validated, non-owning view of one Kafka RecordBatch v2
// (layout in batch_header.h), plus the helpers that split a concatenation of
// batches (a .log file, a Produce records field, a Fetch response) and that
// stamp offsets, epochs and LogAppendTime in place on the append path.
//
// parse() checks the header and the CRC once; it neither allocates nor looks
// inside the records (record.h walks those). A view is only as valid as the
// bytes under it: the caller keeps them alive and unchanged.
//
// Thread safety: views are values; concurrent readers of the same bytes are
// fine, a writer (set_* below) needs exclusive access to its batch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>

#include "base/bytes.h"
#include "base/result.h"
#include "engine/record/batch_header.h"

namespace ringlog::record {

inline constexpr size_t k_no_size_limit = std::numeric_limits<size_t>::max();
// Default cap on one batch's decompressed records: 64 MiB is 64x Kafka's
// default message.max.bytes (1 MiB), more than any honest ratio needs, and small
// enough that a shard can hold one per in-flight produce without trouble.
inline constexpr size_t k_default_max_decompressed_bytes = size_t{64} << 20;

struct validate_options {
  // The largest whole batch (log overhead included) accepted, as Kafka's
  // max.message.bytes compares it; larger fails with message_too_large. The
  // default accepts anything an int32 batchLength can declare.
  size_t max_batch_bytes = k_no_size_limit;
  // Produce requires lastOffsetDelta == recordsCount - 1 and record i at offset
  // delta i. Compaction leaves gaps, so reads of a compacted log set this.
  bool allow_offset_gaps = false;
  // Decompressing one batch's records stops with message_too_large beyond
  // this, so a small stream cannot expand without limit (used by record.h).
  size_t max_decompressed_bytes = k_default_max_decompressed_bytes;
};

class record_batch_view {
 public:
  // Validates the batch at the start of `bytes` (more bytes may follow; the
  // view covers exactly size_bytes()). Checks, in this order:
  //   buffer holds the header (truncated) and magic is 2 (unsupported_magic
  //   for 0/1, corrupt_message otherwise); batchLength >= 49 (corrupt_message);
  //   batch size <= max_batch_bytes (message_too_large); buffer holds the
  //   whole batch (truncated); CRC-32C matches (corrupt_message); unused
  //   attribute bits are zero (invalid_record); codec <= 4
  //   (unsupported_compression); recordsCount >= 0, lastOffsetDelta >= 0,
  //   recordsCount <= lastOffsetDelta + 1, equality unless allow_offset_gaps,
  //   and for an uncompressed batch recordsCount fits in its record bytes
  //   (invalid_record). Error details give the byte position in the batch.
  static result<record_batch_view> parse(std::span<const std::byte> bytes,
                                         const validate_options& options = {});

  // The size of the batch starting at `bytes` (batchLength + 12), from its
  // first 12 bytes only: no magic or CRC check. For splitting a stream and for
  // readers that fetch a header before the rest. Errors: truncated (< 12
  // bytes), corrupt_message (batchLength < 49, i.e. not a v2 batch).
  static result<size_t> peek_size(std::span<const std::byte> bytes);

  std::span<const std::byte> bytes() const noexcept { return _bytes; }
  size_t size_bytes() const noexcept { return _bytes.size(); }
  // Bytes [61, end): the records, compressed when compression() != none.
  std::span<const std::byte> records_bytes() const noexcept {
    return _bytes.subspan(k_records_pos);
  }

  int64_t base_offset() const noexcept { return i64(k_base_offset_pos); }
  int32_t batch_length() const noexcept { return i32(k_batch_length_pos); }
  int32_t partition_leader_epoch() const noexcept { return i32(k_partition_leader_epoch_pos); }
  int8_t magic() const noexcept { return static_cast<int8_t>(_bytes[k_magic_pos]); }
  uint32_t crc() const noexcept { return load_be32(_bytes.data() + k_crc_pos); }
  uint16_t attributes() const noexcept { return load_be16(_bytes.data() + k_attributes_pos); }
  int32_t last_offset_delta() const noexcept { return i32(k_last_offset_delta_pos); }
  // With has_delete_horizon() this is the delete horizon (ms), not a timestamp.
  int64_t base_timestamp() const noexcept { return i64(k_base_timestamp_pos); }
  int64_t max_timestamp() const noexcept { return i64(k_max_timestamp_pos); }
  int64_t producer_id() const noexcept { return i64(k_producer_id_pos); }
  int16_t producer_epoch() const noexcept {
    return static_cast<int16_t>(load_be16(_bytes.data() + k_producer_epoch_pos));
  }
  int32_t base_sequence() const noexcept { return i32(k_base_sequence_pos); }
  int32_t records_count() const noexcept { return i32(k_records_count_pos); }

  compression codec() const noexcept { return static_cast<compression>(codec_bits(attributes())); }
  timestamp_type ts_type() const noexcept {
    return (attributes() & k_attr_log_append_time) ? timestamp_type::log_append_time
                                                   : timestamp_type::create_time;
  }
  bool is_transactional() const noexcept { return (attributes() & k_attr_transactional) != 0; }
  bool is_control() const noexcept { return (attributes() & k_attr_control) != 0; }
  bool has_delete_horizon() const noexcept { return (attributes() & k_attr_delete_horizon) != 0; }
  batch_attributes decoded_attributes() const noexcept {
    return batch_attributes::decode(attributes());
  }

  // baseOffset + lastOffsetDelta: the offset the next batch starts after.
  int64_t last_offset() const noexcept {
    return static_cast<int64_t>(static_cast<uint64_t>(base_offset()) +
                                static_cast<uint64_t>(static_cast<int64_t>(last_offset_delta())));
  }

 private:
  explicit record_batch_view(std::span<const std::byte> bytes) noexcept : _bytes(bytes) {}
  int32_t i32(size_t pos) const noexcept {
    return static_cast<int32_t>(load_be32(_bytes.data() + pos));
  }
  int64_t i64(size_t pos) const noexcept {
    return static_cast<int64_t>(load_be64(_bytes.data() + pos));
  }

  std::span<const std::byte> _bytes;  // exactly one batch, >= 61 bytes, CRC verified
};

// Walks a concatenation of batches, validating each with the same options.
//   batch_iterator it(log_bytes, {.allow_offset_gaps = true});
//   for (;;) { auto b = it.next(); if (!b) ...; if (!*b) break; use(**b); }
// The first error ends the walk: next() returns it again on every later call,
// position() stays at the start of the failing batch (where a log recovery
// truncates), and the error detail names that position in the stream.
class batch_iterator {
 public:
  explicit batch_iterator(std::span<const std::byte> stream,
                          const validate_options& options = {}) noexcept
      : _stream(stream), _options(options) {}

  // The next batch, std::nullopt at the clean end of the stream, or an error.
  result<std::optional<record_batch_view>> next();

  // Bytes of complete, valid batches walked so far.
  size_t position() const noexcept { return _pos; }

 private:
  std::span<const std::byte> _stream;
  validate_options _options;
  size_t _pos = 0;
  std::optional<ringlog::error> _failure;
};

// In-place updates for the log append path. `batch` is exactly one batch
// already accepted by parse() (asserted: at least the header, and for the CRC
// recompute exactly batchLength + 12 bytes).
//
// baseOffset precedes and partitionLeaderEpoch sits outside the CRC range, so
// these two leave the stored CRC valid without recomputing it.
void set_base_offset(std::span<std::byte> batch, int64_t base_offset) noexcept;
void set_partition_leader_epoch(std::span<std::byte> batch,
                                int32_t partition_leader_epoch) noexcept;
// Stamps maxTimestamp and the timestamp-type bit (LogAppendTime, or back to
// CreateTime), then recomputes the CRC, as Kafka's setMaxTimestamp does.
void set_max_timestamp_and_type(std::span<std::byte> batch, int64_t max_timestamp_ms,
                                timestamp_type type) noexcept;

// CRC-32C of bytes [21, end) of a batch: what parse() compares with the stored crc.
uint32_t compute_batch_crc(std::span<const std::byte> batch) noexcept;

}  // namespace ringlog::record
