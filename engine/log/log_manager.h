// log_manager: every partition log of the node, across its log dirs and
// shards.
//
// Each partition belongs to the shard hash_of(tp) % shards; its log object
// and every call on it live there. A partition lives in one log dir, chosen at
// creation as the dir holding the fewest partitions (Kafka's rule).
//
// Per log dir, as Kafka keeps them: `recovery-point-offset-checkpoint` and
// `log-start-offset-checkpoint` (written every checkpoint interval and at
// stop), `cleaner-offset-checkpoint` (each compacted log's first dirty
// offset, written after every clean and at stop), and the clean-shutdown
// marker `.kafka_cleanshutdown` (written at stop after every log is flushed;
// removed at start). With the marker, start-up re-reads nothing; without it,
// each log re-reads from its recovery point.
//
// Each shard runs a log cleaner (cleaner.h) over its logs whose
// cleanup.policy includes compact, beside its retention loop; both start in
// start() and stop in stop() before the logs close.
//
// Start-up loads the partitions of every shard in parallel (each shard opens
// its own, several at a time). Deleting a partition renames its directory
// `<topic>-<partition>.<id>-delete` and removes the files in the background,
// as Kafka does; leftovers from a crash are removed at the next start.
//
// Thread safety: start() and stop() from the main thread; get/create/remove
// on the partition's owning shard; write_checkpoints on any shard.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "engine/log/checkpoint.h"
#include "engine/log/cleaner.h"
#include "engine/log/flusher.h"
#include "engine/log/log_config.h"
#include "engine/log/partition_log.h"
#include "engine/log/topic_partition.h"
#include "engine/runtime/cancel.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/task.h"

namespace ringlog::storage {

struct log_manager_config {
  std::vector<std::string> log_dirs{"./ringlog-data"};
  log_config defaults;
  int64_t retention_check_interval_ms = 300'000;
  // Kafka's log.flush.offset.checkpoint.interval.ms.
  int64_t checkpoint_interval_ms = 60'000;
  int64_t segment_delete_delay_ms = 60'000;
  // flusher::set_syncfs_min_files (ringlog.flush.syncfs.min.files).
  int32_t syncfs_min_files = k_default_syncfs_min_files;
  // Partitions one shard opens at once during start-up.
  size_t load_parallelism = 32;
  // log.cleaner.enable: run each shard's cleaner loop. Off, compacted logs
  // keep growing (their cleaner checkpoints are kept as they were).
  bool cleaner_enable = true;
  // log.cleaner.*; dedupe_buffer_bytes is the broker's total
  // (log.cleaner.dedupe.buffer.size), split evenly over the shards.
  cleaner_config cleaner;
};

// What start() found, summed over shards.
struct load_report {
  size_t partitions = 0;
  size_t segments_scanned = 0;
  uint64_t bytes_truncated = 0;
  bool clean_shutdown = true;
};

inline constexpr const char* k_clean_shutdown_file = ".kafka_cleanshutdown";
// The KRaft metadata log's topic. Its partition directory (in the first log
// dir) belongs to the controller, which opens it on its own shard
// (controller/metadata_log.h); start() does not load it as a data partition,
// as Kafka's LogManager does not: two logs on one directory would corrupt it.
inline constexpr std::string_view k_cluster_metadata_topic = "__cluster_metadata";

// The name a partition directory is renamed to while it is deleted
// (<topic>-<partition>.<unique>-delete, the topic cut to fit NAME_MAX, as
// Kafka names it); start-up removes any directory whose name ends -delete.
std::string delete_dir_name(const topic_partition& tp, uint64_t unique);

class log_manager {
 public:
  log_manager(runtime& rt, log_manager_config config);
  ~log_manager();
  log_manager(const log_manager&) = delete;
  log_manager& operator=(const log_manager&) = delete;

  // The log config of an existing topic at load time (topic overrides come
  // from the metadata image); the defaults unless set.
  void set_topic_config(std::function<log_config(std::string_view topic)> f) {
    _topic_config = std::move(f);
  }

  // Main thread: opens every partition on its shard and starts the retention
  // and checkpoint loops.
  result<load_report> start();
  // Main thread: stops the loops, closes every log (flush, seal), writes the
  // checkpoints and the clean-shutdown markers.
  status stop();

  unsigned shard_of(const topic_partition& tp) const noexcept;

  // Owning shard only.
  partition_log* get(const topic_partition& tp) noexcept;
  // Owning shard only: the existing log, or a new one in the emptiest dir.
  task<result<partition_log*>> create(topic_partition tp, log_config config);
  task<status> remove(topic_partition tp);
  // Partitions of the calling shard.
  size_t local_partitions() const noexcept;

  // Any shard: gathers recovery points and log start offsets from every shard
  // and writes each log dir's checkpoint files.
  task<status> write_checkpoints();
  // The calling shard: one retention pass over its logs; returns segments deleted.
  size_t apply_retention(int64_t now_ms);
  // The calling shard's log cleaner.
  log_cleaner& cleaner() noexcept { return *local().cleaner; }
  // Any shard: gathers every compacted log's first dirty offset and writes
  // each log dir's cleaner-offset-checkpoint (serialised on shard 0).
  task<void> write_cleaner_checkpoints();

 private:
  struct local_log {
    std::unique_ptr<partition_log> log;
    size_t dir_index = 0;
  };
  struct shard_state {
    flusher flush;
    std::unordered_map<topic_partition, local_log, topic_partition_hash> logs;
    std::unique_ptr<log_cleaner> cleaner;
    cancel_source stop;
    bool loops_running = false;
    bool cleaner_running = false;
  };
  struct dir_state {
    std::string path;
    std::atomic<int64_t> partitions{0};
    bool clean_shutdown = false;
    std::unordered_map<std::string, int64_t> recovery_points;  // "topic-N" -> offset
    std::unordered_map<std::string, int64_t> log_starts;
    std::unordered_map<std::string, int64_t> cleaner_offsets;
  };
  struct checkpoint_rows;

  shard_state& local() noexcept;
  task<result<load_report>> load_shard();
  task<status> close_shard();
  task<void> retention_loop();
  task<void> checkpoint_loop();
  task<void> cleaner_loop();
  checkpoint_rows collect_local() const;
  std::vector<std::vector<checkpoint_entry>> collect_cleaner_local() const;
  // Shard 0: the cleaner checkpoints are written by one task at a time.
  void note_cleaner_checkpoint();
  task<void> cleaner_checkpoint_writer();
  task<status> write_cleaner_checkpoints_now();

  runtime& _rt;
  log_manager_config _config;
  std::function<log_config(std::string_view)> _topic_config;
  std::vector<std::unique_ptr<shard_state>> _shards;
  std::vector<std::unique_ptr<dir_state>> _dirs;
  bool _started = false;
  // Shard 0 only.
  bool _cleaner_checkpoint_wanted = false;
  bool _cleaner_checkpoint_writing = false;
};

}  // namespace ringlog::storage
