// Per-partition log settings: the topic-level forms of Kafka's log.* keys
// (segment.bytes, segment.ms, segment.index.bytes, index.interval.bytes,
// max.message.bytes, flush.messages, flush.ms, retention.ms, retention.bytes).
// A plain value: the broker builds one per topic from broker defaults and
// topic overrides and hands each partition_log a copy.
#pragma once

#include <cstdint>
#include <limits>

namespace ringlog::storage {

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
};

}  // namespace ringlog::storage
