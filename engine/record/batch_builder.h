// batch_builder: writes one RecordBatch v2, byte for byte as Kafka's
// MemoryRecordsBuilder does (baseTimestamp = first record's timestamp,
// maxTimestamp = largest, or the append time under LogAppendTime; CRC-32C over
// [21, end)). Used by tools, tests, the transaction coordinator (markers) and
// anything that rewrites batches (compaction, re-compression).
//
// Records are encoded as they are added, into an internal buffer; build()
// compresses that buffer once and writes the header around it.
// Thread safety: one thread per builder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/result.h"
#include "engine/record/batch_header.h"
#include "engine/record/control_record.h"
#include "engine/record/record.h"

namespace ringlog::record {

// One record to add; all spans are read during add() and not kept.
struct record_data {
  nullable_bytes key{};
  nullable_bytes value{};
  std::span<const record_header> headers{};
  int64_t timestamp_ms = 0;
};

struct batch_options {
  int64_t base_offset = 0;
  int32_t partition_leader_epoch = -1;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  bool transactional = false;
  bool control = false;
  compression codec = compression::none;
  timestamp_type ts_type = timestamp_type::create_time;
  // Under LogAppendTime every record's timestamp is this one, as in Kafka.
  int64_t log_append_time_ms = -1;
  // Normally the last record's delta. Set it to keep an original offset range
  // (compaction: gaps, or an empty batch that preserves producer state); it
  // must be at least the last record's delta.
  std::optional<int32_t> last_offset_delta{};
};

class batch_builder {
 public:
  explicit batch_builder(const batch_options& options) : _options(options) {}

  // Adds a record at the next offset delta: 0, 1, 2, ...
  void add(const record_data& record);
  // Adds a record at an explicit delta, above every delta so far.
  void add_at(int32_t offset_delta, const record_data& record);

  int32_t record_count() const noexcept { return _count; }
  // Encoded size of the records so far, before compression.
  size_t uncompressed_records_bytes() const noexcept { return _records.size(); }
  // Batch size if built uncompressed.
  size_t uncompressed_size_bytes() const noexcept { return k_batch_header_bytes + _records.size(); }

  // Appends the batch to `out` (several builds concatenate into a stream).
  // Precondition: at least one record, or options.last_offset_delta set.
  // Errors: compression_failed; message_too_large past an int32 batchLength.
  // On error `out` is as it was.
  status build(std::vector<std::byte>& out) const;
  result<std::vector<std::byte>> build() const;

 private:
  batch_options _options;
  std::vector<std::byte> _records;
  int32_t _count = 0;
  int32_t _next_offset_delta = 0;
  int64_t _base_timestamp = -1;
  int64_t _max_timestamp = -1;
};

// A transaction marker: a control batch (isControl and isTransactional set,
// no sequence, uncompressed, CreateTime) holding one control record whose key
// is {version 0, type} and whose value is {version 0, coordinator_epoch}.
struct txn_marker_options {
  control_type type = control_type::commit;  // commit or abort
  int32_t coordinator_epoch = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int64_t timestamp_ms = -1;
  int64_t base_offset = 0;
  int32_t partition_leader_epoch = -1;
};

std::vector<std::byte> build_control_batch(const txn_marker_options& options);

}  // namespace ringlog::record
