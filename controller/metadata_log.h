// metadata_log: the cluster metadata log, __cluster_metadata-0, a partition
// directory of Kafka-format segments in the metadata log dir (the first of
// log.dirs). Records are KRaft metadata records (metadata_records.h), one
// batch per controller commit; docs/formats/metadata_log.md has the layout.
//
// open() recovers the partition like any other (a torn tail is cut, every
// batch past the recovery point CRC-checked; with no checkpoint of its own the
// whole log is re-read, which is small), replay() hands every durable record
// to a callback in offset order, and append() writes one batch and returns
// once it is fdatasync'd.
//
// log_manager must not load this directory too (it skips the topic
// k_metadata_topic): two partition_logs on one directory would each believe
// they own its tail.
//
// Thread safety: owned by the controller shard (shard 0); every call happens
// there. Lifetime: close() before destruction; the flusher it owns outlives
// the log.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"
#include "controller/metadata_records.h"
#include "engine/log/flusher.h"
#include "engine/log/log_config.h"
#include "engine/log/log_manager.h"
#include "engine/log/partition_log.h"
#include "engine/runtime/task.h"

namespace ringlog::controller {

inline constexpr std::string_view k_metadata_topic = storage::k_cluster_metadata_topic;
// The directory name in the metadata log dir.
inline constexpr std::string_view k_metadata_partition_dir = "__cluster_metadata-0";

// The largest batch the metadata log takes. Kafka's raft caps a batch at
// 8 MiB and splits larger operations; we keep one operation in one batch (one
// fsync, atomic at replay), so the cap is higher and callers bound their
// operations (controller.h) to stay under it.
inline constexpr int32_t k_metadata_batch_bytes_max = 64 << 20;

struct replay_report {
  int64_t batches = 0;
  int64_t records = 0;
  uint64_t bytes = 0;
};

class metadata_log {
 public:
  // Opens (creating when missing) <log_dir>/__cluster_metadata-0 and recovers
  // it. On the controller shard.
  static task<result<std::unique_ptr<metadata_log>>> open(std::string log_dir);
  ~metadata_log();
  metadata_log(const metadata_log&) = delete;
  metadata_log& operator=(const metadata_log&) = delete;

  // Calls on_record(record, offset) for every durable record, in order; the
  // first error (a record that does not decode, or the callback's) ends the
  // replay and is returned, naming the offset.
  using record_callback = std::function<status(const metadata_record&, int64_t offset)>;
  task<result<replay_report>> replay(record_callback on_record);

  // Writes `records` (at least one) as one batch and returns once it is
  // durable, with the offsets its records got (base_offset + i for the i-th).
  // Errors: the batch is too large (record::errc::message_too_large), or the
  // write or sync failed (the log is then offline: every later append fails
  // too, until a restart recovers it).
  task<result<storage::append_info>> append(std::span<const metadata_record> records);

  // The offset the next appended record gets.
  int64_t next_offset() const noexcept { return _log->log_end_offset(); }
  const storage::partition_log& log() const noexcept { return *_log; }

  // Flushes and seals the log; call once, before destruction.
  task<status> close();

  // The log's settings: no retention (without snapshots every record is
  // needed to rebuild the image) and batches up to k_metadata_batch_bytes_max.
  static storage::log_config config();

 private:
  metadata_log() = default;

  storage::flusher _flusher;  // declared first: outlives _log
  std::unique_ptr<storage::partition_log> _log;
  bool _closed = false;
};

}  // namespace ringlog::controller
