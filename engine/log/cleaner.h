// log_cleaner: log compaction (cleanup.policy=compact, or compact,delete) for
// the logs of one shard, Kafka's LogCleaner algorithm (docs/compaction.md).
//
// A pass picks the filthiest compacted log: the one whose dirty section (the
// bytes from the cleaner checkpoint, its "first dirty offset", up to the
// first uncleanable offset) is the largest share of the log, above
// min.cleanable.dirty.ratio — or any log whose oldest dirty record passed
// max.compaction.lag.ms, or whose kept tombstones reached their delete
// horizon. The first uncleanable offset is the base of the first segment
// that is active, not wholly durable, or has a record newer than
// min.compaction.lag.ms: only whole closed segments are ever cleaned.
//
// Cleaning a log:
//   1. Map: read the dirty section, putting XXH64(key) -> offset into the
//      bounded offset_map, stopping where it fills; the map then covers
//      [first dirty, end offset).
//   2. Rewrite every closed segment below the end offset, from the log start,
//      in groups whose total size fits a segment (Kafka's grouping), each
//      into one new segment with the base offset of the group's first,
//      keeping a record when its offset is past the map, or its key's map
//      entry is not newer than it and it has a value or its tombstone is
//      still within delete.retention.ms (the batch's delete horizon).
//      Records without a key in the mapped range go (Kafka drops them: a
//      compacted topic refuses them at produce). Control and transactional
//      batches are kept whole (no transactions yet). A batch keeps its base
//      offset, lastOffsetDelta, producer fields and codec: copied as it is
//      when every record stays (and it needs no new horizon), rebuilt with
//      the records that stay otherwise (offsets keep their gaps), or kept as
//      an empty batch (header only) when it is the last of its producer id in
//      the group, or the group's last batch, so a cleaned segment always ends
//      where the segments it replaces ended.
//   3. Swap, crash-safe as Kafka does it: write `<base>.log.cleaned` and its
//      indexes, sync them, rename them `.swap` (indexes first, the .log last:
//      the .log's rename, made durable by a directory fsync, is the commit
//      point), rename the replaced segments' files `*.deleted`, sync the
//      directory (so the old names are gone before the new files take
//      them), and rename the `.swap` files to their final names. Recovery
//      (recovery.cc) deletes `.cleaned` files and finishes any `.swap`.
//   4. The first dirty offset becomes the end offset; log_manager writes it
//      to the log dir's cleaner-offset-checkpoint.
//
// The cleaner shares the shard with the produce path: all its I/O goes
// through io_uring, it yields every cleaner_config::yield_bytes of work,
// and a token bucket holds its reads and writes to
// log.cleaner.io.max.bytes.per.second. It reads only closed segments and
// swaps them in one synchronous step, so appends, reads, retention and
// truncation run alongside; a group that changed underneath (retention,
// truncation) is not swapped, and a truncation anywhere in the log ends the
// clean (its offset map may name records the truncation removed).
//
// Thread safety: owned by one shard; every call happens on it. Lifetime: a
// log must be removed (remove()) before it is closed or destroyed; the
// cleaner must be stopped (stop(), then wait until no clean is running)
// before it is destroyed.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "engine/log/offset_map.h"
#include "engine/log/partition_log.h"
#include "engine/runtime/cancel.h"
#include "engine/runtime/task.h"

namespace ringlog::storage {

// Cleaner-wide settings (Kafka's log.cleaner.* broker keys).
struct cleaner_config {
  // This cleaner's share of log.cleaner.dedupe.buffer.size (log_manager
  // splits the broker's value evenly over the shards). Allocated at the
  // first clean, kept afterwards.
  size_t dedupe_buffer_bytes = size_t{128} << 20;
  // log.cleaner.io.buffer.load.factor: the share of map slots used.
  double dedupe_buffer_load_factor = 0.9;
  // log.cleaner.io.max.bytes.per.second: reads and writes together. Kafka's
  // default is no limit.
  double io_max_bytes_per_second = std::numeric_limits<double>::infinity();
  // Read chunk (log.cleaner.io.buffer.size is 512 KiB in Kafka, split
  // between reading and writing); grows for a larger batch.
  size_t io_buffer_bytes = size_t{256} << 10;
  // log.cleaner.backoff.ms: the sleep when no log needs cleaning.
  int64_t backoff_ms = 15'000;
  // file.delete.delay.ms: the replaced segments' *.deleted files go after it.
  int64_t file_delete_delay_ms = 60'000;
  // Work (bytes read) between two yields to the rest of the shard.
  size_t yield_bytes = size_t{64} << 10;
  // A log whose clean failed (an I/O error, a corrupt batch) is left alone
  // this long (Kafka marks it uncleanable until restart).
  int64_t failed_log_retry_ms = 600'000;
};

// What one clean did.
struct clean_report {
  int64_t first_dirty_offset = 0;  // where the map started
  int64_t end_offset = 0;          // the next first dirty offset
  bool map_full = false;           // the map filled before the uncleanable offset
  size_t map_entries = 0;
  size_t groups = 0;  // cleaned segments written
  size_t segments_replaced = 0;
  size_t groups_skipped = 0;  // changed underneath (retention, truncation)
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  int64_t records_read = 0;
  int64_t records_removed = 0;
  int64_t tombstones_removed = 0;
  int64_t keyless_removed = 0;
  int64_t empty_batches_kept = 0;
  bool aborted = false;  // stop() or remove() came first; nothing was swapped after it
};

// The moments of the swap, for tests that simulate a crash at each one (a
// copy of the directory taken there is what a crash would leave).
enum class clean_step {
  cleaned_written,       // <base>.*.cleaned complete and synced, nothing renamed
  swap_indexes_renamed,  // the indexes are .swap, the .log still .cleaned
  swap_committed,        // <base>.log.swap renamed and the directory synced
  old_segment_renamed,   // one more replaced segment's files renamed .deleted
  old_segments_deleted,  // all of them, directory synced
  final_log_renamed,     // <base>.log at its final name, the indexes still .swap
  swapped,               // every file at its final name
};

class log_cleaner {
 public:
  // `wall` gives the time of delete horizons and compaction lags (a
  // manual_clock in tests); it must outlive the cleaner.
  explicit log_cleaner(cleaner_config config, const clock& wall = default_clock());
  ~log_cleaner();
  log_cleaner(const log_cleaner&) = delete;
  log_cleaner& operator=(const log_cleaner&) = delete;

  // Starts considering `log` (any policy: its config is read at each pass),
  // from `first_dirty_offset` (its cleaner checkpoint; the log start when
  // it has none).
  void add(partition_log* log, int64_t first_dirty_offset);
  // Stops considering `log`, aborting a clean of it in progress (the
  // .cleaned files go, nothing is swapped after) and waiting for it to end.
  task<void> remove(partition_log* log);
  // The first dirty offset of a log added, or nullopt.
  std::optional<int64_t> first_dirty_offset(const partition_log* log) const;

  // One pass: cleans the filthiest log that needs it; nullopt when none
  // does (or the cleaner is stopped). An error is that log's: it is left
  // alone for failed_log_retry_ms.
  task<result<std::optional<clean_report>>> clean_once();
  // Cleans `log` (added before) now, whatever its dirty ratio, up to its
  // first uncleanable offset (tests, tools; not while clean_once runs).
  task<result<clean_report>> clean(partition_log& log);

  // Aborts a clean in progress and makes every later call a no-op.
  void stop();
  bool stopped() const noexcept { return _stopped; }
  // A clean (or the assessment before it) is running.
  bool busy() const noexcept { return _working != nullptr; }

  const cleaner_config& config() const noexcept { return _config; }
  // Test seam: called at each step of every swap (clean_step).
  void set_step_hook(std::function<void(clean_step)> hook) { _step_hook = std::move(hook); }

 private:
  struct log_state {
    int64_t first_dirty_offset = 0;
    // The earliest delete horizon of a tombstone the last clean kept: when it
    // passes, the log is cleaned again even if barely dirty.
    int64_t next_delete_horizon_ms = std::numeric_limits<int64_t>::max();
    int64_t retry_after_ms = 0;
    // The log's truncation count when first_dirty_offset was set: after a
    // truncation the records past its point are new, so the log is mapped
    // again from its start (Kafka moves the checkpoint back instead, being
    // told the truncation point).
    uint64_t truncations = 0;
  };
  struct assessment;
  struct group;
  struct output;
  class throttle;

  static const clock& default_clock();
  task<result<assessment>> assess(partition_log& log, const log_state& st, int64_t now_ms);
  task<result<clean_report>> run_clean(partition_log& log, log_state& st, assessment a,
                                       int64_t now_ms);
  task<status> build_offset_map(partition_log& log, const assessment& a, clean_report& report);
  task<result<bool>> clean_group(partition_log& log, const log_config& config, const group& g,
                                 uint64_t truncations, int64_t now_ms, clean_report& report,
                                 int64_t& next_horizon);
  task<result<std::unordered_map<int64_t, int64_t>>> last_batches_of_producers(
      const group& g, clean_report& report);
  bool swap_in(partition_log& log, const group& g, uint64_t truncations,
               std::unique_ptr<segment>& cleaned, std::vector<std::string>& deleted);
  void step(clean_step s) {
    if (_step_hook) _step_hook(s);
  }
  bool aborting() const noexcept { return _stopped || _abort_current; }
  task<status> pace(uint64_t bytes);

  cleaner_config _config;
  const clock& _clock;
  std::unordered_map<partition_log*, log_state> _logs;
  std::optional<offset_map> _map;
  std::unique_ptr<throttle> _throttle;
  // The log being assessed or cleaned, and that clean's cancel source (its
  // throttle sleeps join it).
  partition_log* _working = nullptr;
  cancel_source* _working_cancel = nullptr;
  bool _abort_current = false;
  bool _stopped = false;
  uint64_t _since_yield = 0;
  std::function<void(clean_step)> _step_hook;
};

}  // namespace ringlog::storage
