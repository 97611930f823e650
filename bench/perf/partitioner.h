// Which of a producer connection's open batches (one per partition) takes the
// next record, and when a batch counts as full. Kept apart from the sender
// coroutine so the unit tests can drive it.
//
//  sticky (the default; Kafka's default for keyless records since 2.4,
//    KIP-480): every record goes to the current partition until its batch is
//    closed, either full (--batch-bytes) or sent before it filled (linger,
//    end of run, drained with other batches); then the next partition in
//    order, so batches are full and every partition gets its turn evenly.
//  round_robin: record i goes to partition i % partitions.
//
// Thread safety: one producer connection (one shard) per instance.
#pragma once

#include <cstddef>
#include <cstdint>

#include "bench/perf/options.h"

namespace ringlog::perf {

// Room one more record needs beyond its value: length, attributes, timestamp
// and offset deltas, key and value lengths, header count (varints, worst case).
inline constexpr size_t k_record_overhead_bytes = 24;

// A batch whose uncompressed size reaches this is full: one more record of
// `record_size` could take it past `batch_bytes`.
constexpr size_t batch_full_at(uint32_t batch_bytes, uint32_t record_size) noexcept {
  const size_t room = size_t{record_size} + k_record_overhead_bytes;
  return batch_bytes > room ? batch_bytes - room : 0;
}

class partition_chooser {
 public:
  partition_chooser(partitioner_kind kind, size_t partitions) noexcept
      : _kind(kind), _partitions(partitions == 0 ? 1 : partitions) {}

  partitioner_kind kind() const noexcept { return _kind; }

  // The index (into the connection's partitions) of the batch that takes the
  // next record.
  size_t next() noexcept {
    if (_kind == partitioner_kind::sticky) return _current;
    const size_t i = _current;
    _current = _current + 1 == _partitions ? 0 : _current + 1;
    return i;
  }

  // The sticky partition now, without choosing (round-robin: the next one).
  size_t current() const noexcept { return _current; }

  // Batch i was closed: it became full, or it was sent before it filled.
  // Call once per batch (a full batch when it fills, not again when sent).
  // Sticky moves on when i is the current partition; round-robin ignores it.
  void closed(size_t i) noexcept {
    if (_kind == partitioner_kind::sticky && i == _current) {
      _current = _current + 1 == _partitions ? 0 : _current + 1;
    }
  }

 private:
  partitioner_kind _kind;
  size_t _partitions;
  size_t _current = 0;
};

}  // namespace ringlog::perf
