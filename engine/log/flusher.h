// flusher: group commit for the logs of one shard.
//
// A log whose writes completed marks itself dirty. While no round runs, the
// first dirty log starts one; a round takes every dirty log and makes what
// they wrote durable, and when that completes moves each log's durable end to
// where its written end stood when the round began. Appends that complete
// while a round is in flight wait for the next round, which starts as soon as
// the current one ends: the fsync cost is shared by every append that arrived
// during one fsync's latency, so durable throughput does not drop with
// concurrency (DESIGN.md, "Write path").
//
// Before a round takes the dirty logs it waits, for at most
// write_wait_ns (250 us), for the logs that are not dirty but have a write in
// flight (logs call write_begun/write_ended around each writev) to complete
// one: a produce request touching several partitions issues one write per
// partition, and they complete one by one on io-wq workers. Starting the
// round at the first completion left the others for the next round, so such
// a request waited for two fdatasync rounds instead of one (8 partitions,
// one request in flight: round trip p50 2.8-3.7 ms without the wait,
// 1.6-2.1 ms with it). A log that is already dirty is not waited for: it
// syncs in this round anyway, and its writes in flight then overlap the sync
// instead of delaying it. The bound keeps many independent appenders (1,000
// partitions) from falling into lockstep, all copying and then all syncing:
// waiting for every write there cost about 10%.
//
// How a round syncs, per filesystem:
//   - fewer than `syncfs_min_files` files to sync: one fdatasync per unsynced
//     segment file (plus one fsync of a partition directory that gained a
//     segment), all submitted at once;
//   - at least that many: one syncfs(2) of the filesystem, on a blocking
//     thread (io_uring has no syncfs). Many concurrent fdatasyncs each wait
//     for their own journal commit and device cache flush; one syncfs writes
//     back every dirty file and commits and flushes once. Measured on ext4
//     with 256 of 1,000 partitions dirty per round: syncfs 2-3x the MiB/s of
//     the concurrent fdatasyncs (BENCHMARKS.md). It also writes back whatever
//     else is dirty on that filesystem (logs with relaxed flush.ms, other
//     programs), which is why few files still go one by one.
//   If a syncfs fails, the round falls back to per-file syncs for those logs,
//   so the error (EIO, ENOSPC) is charged to the files that have it (each
//   descriptor keeps its own writeback-error cursor). syncfs reports
//   writeback errors since Linux 5.8; Ringlog requires 6.1.
//
// Thread safety: one per shard, used only on it. Lifetime: outlives its logs.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/result.h"
#include "engine/runtime/task.h"

namespace ringlog {
class event;
}

namespace ringlog::storage {

class partition_log;

// Default of flusher::syncfs_min_files (ringlog.flush.syncfs.min.files).
inline constexpr int32_t k_default_syncfs_min_files = 16;
inline constexpr int64_t k_default_write_wait_ns = 250'000;

class flusher {
 public:
  flusher();
  ~flusher();
  flusher(const flusher&) = delete;
  flusher& operator=(const flusher&) = delete;

  // Files on one filesystem from which a round uses one syncfs; 0: never.
  void set_syncfs_min_files(int32_t n) noexcept { _syncfs_min_files = n; }

  // Queues `log` for the next round and starts a round if none is running.
  void mark_dirty(partition_log* log);

  uint64_t rounds() const noexcept { return _rounds; }
  // fdatasync/fsync calls, and syncfs calls, issued so far.
  uint64_t syncs() const noexcept { return _syncs; }
  uint64_t syncfs_calls() const noexcept { return _syncfs_calls; }
  bool idle() const noexcept { return !_running; }

  // The longest a round waits for writes in flight (see above); tests raise
  // it to make the wait deterministic.
  void set_write_wait_ns(int64_t ns) noexcept { _write_wait_ns = ns; }

  // Bracket each write of a log whose appends wait for rounds.
  void write_begun(partition_log* log);
  void write_ended(partition_log* log) noexcept;

 private:
  task<void> run();

  std::vector<partition_log*> _dirty;
  bool _running = false;
  int32_t _syncfs_min_files = k_default_syncfs_min_files;
  uint64_t _rounds = 0;
  uint64_t _syncs = 0;
  uint64_t _syncfs_calls = 0;
  // Logs with a write in flight, and how many of them the starting round
  // still waits for (each log's _awaited_by_round says which).
  std::vector<partition_log*> _writing;
  size_t _awaited = 0;
  int64_t _write_wait_ns = k_default_write_wait_ns;
  std::unique_ptr<event> _writes_done;  // notified when _awaited reaches 0
};

}  // namespace ringlog::storage
