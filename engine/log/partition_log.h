// partition_log: one partition's log — its directory of segments, the offsets
// it assigns, and the three ends readers and writers care about:
//
//   log end offset (LEO)  next offset to assign; includes writes in flight
//   written end           every batch before it is in the page cache
//   durable end           every batch before it is fdatasync'd; on a single
//                         node this is the high watermark consumers see
//
// append() validates one batch (CRC, sizes), assigns its offsets in place,
// writes it through io_uring at the end of the active segment and, by
// default, returns only once the batch is durable: the shard's flusher
// (group commit) syncs every dirty segment of every log in one round, so
// concurrent appends share fdatasyncs. Appends of one log may overlap; their
// writes complete in any order but the written end only moves over a
// contiguous prefix, so a reader never sees a hole.
//
// An I/O error while writing or syncing takes the log offline: later appends
// fail with errc::log_offline, reads keep serving what is durable, and the
// next start-up's recovery truncates whatever was torn (Kafka's answer to a
// failed log dir, without taking the other partitions down).
//
// Thread safety: owned by one shard; every call happens on it.
#pragma once

#include <coroutine>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "engine/log/log_config.h"
#include "engine/log/segment.h"
#include "engine/record/record_batch.h"
#include "engine/runtime/cancel.h"
#include "engine/runtime/task.h"

namespace ringlog::storage {

class flusher;

enum class durability {
  fsync,       // return when the batch is durable (the default: acks after fdatasync)
  page_cache,  // return when the batch is written; a flush round syncs it later
};

enum class read_bound {
  high_watermark,  // what consumers may see: the durable end, or the written
                   // end for a topic whose flush.messages / flush.ms relax
                   // durability (it is never fsync'd before it is read)
  durable,         // up to the durable end
  written,         // up to the written end (replication, tools)
};

struct append_info {
  int64_t base_offset = -1;
  int64_t last_offset = -1;
};

// ListOffsets' special timestamps (Kafka's ListOffsetsRequest constants).
inline constexpr int64_t k_latest_timestamp = -1;
inline constexpr int64_t k_earliest_timestamp = -2;
inline constexpr int64_t k_max_timestamp = -3;

// An offset found by timestamp, with the timestamp of its record (-1 for the
// latest/earliest answers, as Kafka returns them).
struct timestamp_and_offset {
  int64_t timestamp = -1;
  int64_t offset = -1;
};

// What one retention pass removed.
struct retention_report {
  size_t segments = 0;
  uint64_t bytes = 0;
};

// A byte range of one segment file that a caller can send with splice or
// sendfile. It may end inside a batch (as Kafka's fetch does); clients drop a
// trailing partial batch. Empty (bytes == 0) at the end of the log.
struct read_slice {
  std::shared_ptr<segment_file> file;
  uint64_t position = 0;
  uint32_t bytes = 0;
  // The size of the slice's first batch (it may pass the read's max_bytes:
  // a read returns at least one whole batch), 0 for an empty slice.
  uint32_t first_batch_bytes = 0;
};

// What start-up knows about a log from the log dir's checkpoints.
struct recovery_state {
  // Everything before this offset was durable at the last checkpoint; only
  // segments past it are re-read and CRC-checked.
  int64_t recovery_point = 0;
  int64_t log_start_offset = 0;
  // The broker stopped cleanly: no segment needs re-reading.
  bool clean_shutdown = false;
};

// Counters of one open: what recovery did.
struct recovery_report {
  size_t segments = 0;
  size_t segments_scanned = 0;
  uint64_t bytes_scanned = 0;
  uint64_t bytes_truncated = 0;
  size_t segments_deleted = 0;
  size_t indexes_rebuilt = 0;
};

// What a log tells the owner of its producer state (broker/producer_state.h)
// about the moments Kafka snapshots that state: a segment roll and a clean
// close. The interface keeps engine/log free of broker types; the log itself
// never reads or writes the state.
//
// Lifetime: the log does not own its hooks; they must outlive it, or be
// cleared with set_producer_state_hooks(nullptr) before they die. close()
// clears them as it calls before_close: nothing is called after that.
class producer_state_hooks {
 public:
  virtual ~producer_state_hooks() = default;
  // The active segment rolled: the new one starts at new_base_offset and no
  // batch at or past it is written yet. Called inside append(), which must
  // not suspend here: take what is needed and write in the background.
  virtual void on_roll(int64_t new_base_offset) = 0;
  // close() has waited for every write and flushed; `log_end_offset` is the
  // end (durable unless the log is offline). Awaited before the active
  // segment is sealed: finish any background work here.
  virtual task<void> before_close(int64_t log_end_offset) = 0;
};

class partition_log {
 public:
  // Opens the log in `dir` (created when missing), recovers it (see
  // recovery.cc) and returns it ready to append. Runs on the owning shard.
  static task<result<std::unique_ptr<partition_log>>> open(std::string dir, log_config config,
                                                           flusher& flusher, recovery_state state);
  ~partition_log();
  partition_log(const partition_log&) = delete;
  partition_log& operator=(const partition_log&) = delete;

  // Appends one v2 record batch. `batch` is validated (record_batch_view::parse
  // with max_message_bytes) and its baseOffset rewritten in place. With
  // relaxed() durability, `d` is page_cache whatever the caller asks: the
  // topic chose to acknowledge before the fsync, as Kafka does.
  task<result<append_info>> append(std::span<std::byte> batch, durability d = durability::fsync);
  // The same for a batch the caller has already validated with
  // record_batch_view::parse (at this log's max.message.bytes): `view` covers
  // exactly `batch`. Saves the second CRC pass on the produce path.
  task<result<append_info>> append(record::record_batch_view view, std::span<std::byte> batch,
                                   durability d = durability::fsync);

  // The bytes from the batch holding `offset` onwards, at most
  // max(max_bytes, that batch's size), not past `bound`. offset == the bound's
  // end gives an empty slice; an offset below the log start or past the end is
  // errc::offset_out_of_range.
  task<result<read_slice>> read(int64_t offset, uint32_t max_bytes,
                                read_bound bound = read_bound::high_watermark);

  // ListOffsets: k_latest_timestamp gives the durable end (the high
  // watermark), k_earliest_timestamp the log start offset, k_max_timestamp
  // the offset of the record with the largest timestamp; otherwise the first
  // offset whose record timestamp is >= `timestamp`, or nullopt when every
  // record is older. Only durable data is considered. Compacted segments may
  // keep a batch's max timestamp with fewer records (or none) under it: the
  // search then goes on in the next segments.
  task<result<std::optional<timestamp_and_offset>>> offset_for_timestamp(int64_t timestamp);

  // Removes every batch from the one holding `offset` onwards (replication
  // truncates a diverged tail). Segments past it are deleted; the log end
  // becomes the start of that batch. Not while appends are in flight.
  task<status> truncate_to(int64_t offset);

  // DeleteRecords: moves the log start offset up to `offset` (at most the
  // durable end) and deletes the segments wholly below it.
  task<result<int64_t>> delete_records_before(int64_t offset);

  // One retention pass (Kafka's delete policy): drops the oldest segments
  // whose newest record is older than retention.ms, then oldest segments
  // while the log exceeds retention.bytes by at least their size (both only
  // when cleanup.policy includes delete), then segments wholly below the log
  // start offset (any policy). Never the active segment. Deleted files are renamed *.deleted and unlinked after
  // `delete_delay_ms` in the background.
  retention_report apply_retention(int64_t now_ms, int64_t delete_delay_ms);

  // Bytes of all segments.
  uint64_t size_bytes() const noexcept;

  // Replaces the log's settings (a topic config change), on the owning shard.
  // max.message.bytes, segment.bytes and segment.ms apply from the next
  // append (the active segment rolls by the new limits, as in Kafka),
  // retention.* from the next retention pass, flush.* at once;
  // segment.index.bytes and index.interval.bytes from the next segment on
  // (the active segment's indexes keep their size). Going from
  // relaxed durability to fsync-per-batch never moves the high watermark
  // back: what was visible when the change came stays visible while the
  // flusher makes it durable.
  void set_config(const log_config& config);
  const log_config& config() const noexcept { return _config; }

  // Makes everything written so far durable.
  task<status> flush();
  // Returns once every offset below `end_offset` is durable (at once when
  // it is, or when the topic's flush.messages / flush.ms relax durability).
  // For an answer that repeats an earlier append's offsets (an idempotent
  // producer's retry) while that append may still be waiting for its sync.
  task<status> wait_durable(int64_t end_offset);
  // Waits for writes in flight, flushes, and seals the active segment's
  // indexes (trims them, so Kafka's tools read them as Kafka's own) and
  // makes them durable: each with an fdatasync, or, with
  // `caller_syncs_filesystem`, not at all (a broker stopping thousands of
  // partitions syncs each log dir's filesystem once afterwards).
  enum class index_sync { each_file, caller_syncs_filesystem };
  task<status> close(index_sync sync = index_sync::each_file);

  int64_t log_start_offset() const noexcept { return _log_start_offset; }
  int64_t log_end_offset() const noexcept { return _next_offset; }
  int64_t written_end() const noexcept { return _written.offset; }
  int64_t durable_end() const noexcept { return _durable.offset; }
  // The high watermark on a single node (see read_bound::high_watermark).
  int64_t high_watermark() const noexcept { return visible_end().offset; }
  // flush.messages or flush.ms is set: appends return once written, and the
  // flusher syncs every flush.messages messages or flush.ms milliseconds.
  bool relaxed() const noexcept {
    return _config.flush_interval_ms >= 0 ||
           _config.flush_interval_messages != std::numeric_limits<int64_t>::max();
  }
  bool offline() const noexcept { return _offline.has_value(); }
  const std::string& dir() const noexcept { return _dir; }
  size_t segment_count() const noexcept { return _segments.size(); }
  const recovery_report& recovery() const noexcept { return _recovery; }
  const segment& segment_at(size_t i) const noexcept { return *_segments[i]; }

  // Installs (or, with nullptr, removes) the producer-state hooks.
  void set_producer_state_hooks(producer_state_hooks* hooks) noexcept { _hooks = hooks; }

 private:
  friend class flusher;
  // The cleaner (cleaner.h) swaps cleaned segments in for the ones they replace.
  friend class log_cleaner;
  friend struct durable_waiter;
  friend struct write_waiter;

  // A point in the log: an offset and where its batch starts (or the end of
  // the bytes before it) in the segment with base offset segment_base.
  struct position {
    int64_t offset = 0;
    int64_t segment_base = 0;
    uint64_t bytes = 0;
  };
  struct pending_write {
    position end;
    bool done = false;
  };
  struct queued_write {
    std::shared_ptr<segment_file> file;
    uint64_t position;
    std::span<const std::byte> bytes;
    struct write_waiter* waiter;
  };
  // What one flush round syncs for this log.
  struct sync_plan {
    position target;
    std::vector<std::shared_ptr<segment_file>> files;
    bool sync_dir = false;
    // The active segment's file, always open: names the log's filesystem to
    // syncfs without opening anything (a round of directory syncs only, or a
    // directory that cannot be opened because descriptors ran out).
    std::shared_ptr<segment_file> anchor;
  };

  partition_log(std::string dir, log_config config, flusher& flusher) noexcept;

  segment& active() noexcept { return *_segments.back(); }
  // The end of what consumers see: the written end when relaxed, otherwise
  // the durable end, but never below _visible_floor (see set_config).
  position visible_end() const noexcept {
    if (relaxed()) return _written;
    return _durable.offset >= _visible_floor.offset ? _durable : _visible_floor;
  }
  segment* find_segment(int64_t offset) noexcept;
  status roll(int64_t now_ms);
  void write_completed(uint64_t seq);
  task<void> writer();
  task<void> flush_after(int64_t delay_ms);
  void note_relaxed_write(const std::shared_ptr<segment_file>& file, uint64_t from, uint64_t to);
  void go_offline(error e);
  // Takes the first segment out of the log, renaming its files *.deleted and
  // scheduling their removal.
  void delete_oldest_segment(int64_t delete_delay_ms);

  // Flusher interface.
  sync_plan begin_sync();
  void end_sync(const sync_plan& plan, const status& st);
  bool has_unsynced() const noexcept { return _written.offset > _durable.offset || _dir_dirty; }

  std::string _dir;
  uint64_t _dev = 0;  // st_dev of _dir: the flusher's syncfs groups logs by filesystem
  log_config _config;
  flusher& _flusher;
  std::vector<std::unique_ptr<segment>> _segments;
  int64_t _log_start_offset = 0;
  int64_t _next_offset = 0;
  position _written;
  position _durable;
  // The written end when the log last went from relaxed to fsync-per-batch:
  // consumers had seen up to it, so the high watermark stays there until the
  // durable end passes it.
  position _visible_floor;
  std::deque<pending_write> _pending;
  uint64_t _pending_first_seq = 0;
  std::vector<queued_write> _write_queue;
  bool _writer_running = false;
  std::vector<std::shared_ptr<segment_file>> _unsynced;
  bool _dir_dirty = false;
  // Relaxed durability: messages written since the last flush round began,
  // and the pending flush.ms timer.
  int64_t _unflushed_messages = 0;
  bool _flush_timer_armed = false;
  cancel_source _flush_timer_cancel;
  // Relaxed durability: where the log's writes not yet handed to writeback
  // start (see start_writeback in partition_log.cc).
  std::shared_ptr<segment_file> _writeback_file;
  uint64_t _writeback_from = 0;
  bool _in_flusher = false;  // queued for the next flush round
  bool _syncing = false;     // taken by a round that has not ended yet
  // Writes handed to the kernel and not yet completed (fsync-per-batch logs
  // only), this log's place in the flusher's list of writing logs, and
  // whether the round about to start waits for this log (flusher.h).
  uint32_t _writes_in_flight = 0;
  size_t _writing_index = 0;
  bool _awaited_by_round = false;
  std::vector<struct durable_waiter*> _waiters;
  std::optional<error> _offline;
  recovery_report _recovery;
  producer_state_hooks* _hooks = nullptr;
  // truncate_to calls so far: the cleaner (cleaner.h) does not swap a clean
  // that a truncation overtook, and re-maps a truncated log.
  uint64_t _truncations = 0;
};

}  // namespace ringlog::storage
