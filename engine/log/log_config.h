// Per-partition log settings: the topic-level forms of Kafka's log.* keys
// (segment.bytes, segment.ms, segment.index.bytes, index.interval.bytes,
// max.message.bytes, flush.messages, flush.ms, retention.ms, retention.bytes,
// cleanup.policy, delete.retention.ms, min/max.compaction.lag.ms,
// min.cleanable.dirty.ratio).
// A plain value: the broker builds one per topic from broker defaults and
// topic overrides and hands each partition_log a copy.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

namespace ringlog::storage {

// Kafka's cleanup.policy: "delete", "compact" or "compact,delete" (in any
// order). delete drops old segments by retention.ms / retention.bytes;
// compact keeps the latest record of each key (engine/log/cleaner.h).
enum class cleanup_policy : uint8_t {
  delete_,
  compact,
  compact_delete,
};

struct log_config {
  int64_t segment_bytes = 1'073'741'824;
  int64_t segment_ms = 604'800'000;
  int32_t index_max_bytes = 10'485'760;
  int32_t index_interval_bytes = 4096;
  // Largest batch accepted (Kafka's max.message.bytes: the whole batch).
  int32_t max_message_bytes = 1'048'588;
  int64_t retention_ms = 604'800'000;  // -1: no time limit
  int64_t retention_bytes = -1;        // -1: no size limit
  // -1: every batch is durable before append() returns (Ringlog's default).
  int64_t flush_interval_ms = -1;
  int64_t flush_interval_messages = std::numeric_limits<int64_t>::max();

  cleanup_policy cleanup = cleanup_policy::delete_;
  // How long a tombstone (a record with a null value) stays in a compacted
  // log once the cleaner has seen it (delete.retention.ms).
  int64_t delete_retention_ms = 86'400'000;
  // A record stays uncompacted at least this long (min.compaction.lag.ms)...
  int64_t min_compaction_lag_ms = 0;
  // ...and is compacted within this long whatever the dirty ratio
  // (max.compaction.lag.ms); it also caps the active segment's age.
  int64_t max_compaction_lag_ms = std::numeric_limits<int64_t>::max();
  // The cleaner takes a log once its dirty bytes exceed this share of it
  // (min.cleanable.dirty.ratio).
  double min_cleanable_dirty_ratio = 0.5;

  bool compacted() const noexcept { return cleanup != cleanup_policy::delete_; }
  // retention.ms and retention.bytes apply (the policy includes delete).
  bool deletes_by_retention() const noexcept { return cleanup != cleanup_policy::compact; }
  // The age at which the active segment rolls: segment.ms, or
  // max.compaction.lag.ms when compacting and shorter, since the cleaner
  // never touches the active segment (Kafka's LogConfig.maxSegmentMs).
  int64_t roll_ms() const noexcept {
    if (compacted() && max_compaction_lag_ms > 0) return std::min(segment_ms, max_compaction_lag_ms);
    return segment_ms;
  }
};

}  // namespace ringlog::storage
