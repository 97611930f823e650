// flusher: group commit for the logs of one shard.
//
// A log whose writes completed marks itself dirty. While no round runs, the
// first dirty log starts one; a round takes every dirty log, submits one
// fdatasync per unsynced segment file (plus one fsync of the partition
// directory when a segment was created) all at once, and when they complete
// moves each log's durable end to where its written end stood when the round
// began. Appends that complete while a round is in flight wait for the next
// round, which starts as soon as the current one ends: the fsync cost is
// shared by every append that arrived during one fsync's latency, so durable
// throughput does not drop with concurrency (DESIGN.md, "Write path").
//
// The number of syncs in a round grows with the number of dirty segments;
// the kernel runs them concurrently (io-wq) and ext4/xfs merge their journal
// commits. See BENCHMARKS.md for 1 vs 1,000 partitions.
//
// Thread safety: one per shard, used only on it. Lifetime: outlives its logs.
#pragma once

#include <cstdint>
#include <vector>

#include "base/result.h"
#include "engine/runtime/task.h"

namespace ringlog::storage {

class partition_log;

class flusher {
 public:
  flusher() = default;
  flusher(const flusher&) = delete;
  flusher& operator=(const flusher&) = delete;

  // Queues `log` for the next round and starts a round if none is running.
  void mark_dirty(partition_log* log);

  uint64_t rounds() const noexcept { return _rounds; }
  uint64_t syncs() const noexcept { return _syncs; }
  bool idle() const noexcept { return !_running; }

 private:
  task<void> run();

  std::vector<partition_log*> _dirty;
  bool _running = false;
  uint64_t _rounds = 0;
  uint64_t _syncs = 0;
};

}  // namespace ringlog::storage
