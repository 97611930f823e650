// producer_state: idempotent producers' sequence numbers per partition, so a
// retried batch is appended once (Kafka's ProducerStateManager, without
// transactions).
//
// For each producer id a partition remembers its epoch and its last five
// batches (first/last sequence and offsets; Kafka's producers keep at most
// five requests in flight per partition). A new batch is:
//   - a duplicate when it matches a remembered batch: answered with that
//     batch's offsets and not appended again;
//   - in sequence when its first sequence follows the last one (wrapping at
//     INT32_MAX), or the producer is unknown here (its state may have been
//     lost with old segments), or it opens a newer epoch at sequence 0;
//   - OUT_OF_ORDER_SEQUENCE_NUMBER otherwise, INVALID_PRODUCER_EPOCH when its
//     epoch is older than the producer's (a fenced zombie).
//
// State is rebuilt lazily, on the first idempotent produce to a partition
// after start, so a retry after a restart or a crash is still recognised:
//   - from the newest producer snapshot (`<offset>.snapshot`, Kafka's file,
//     engine/log/producer_snapshot.h) at or below the log end, plus a scan of
//     the log from that offset to the end;
//   - without a usable snapshot, from a scan of the log's tail (the last
//     k_rebuild_offsets offsets), as before snapshots existed.
// Until that ends, produces to that partition queue in arrival order. Once a
// partition's state is loaded, its log's producer_state_hooks snapshot it, as
// Kafka does: at each segment roll (`<new base offset>.snapshot`, written
// once the log is durable up to that offset) and at clean close (at the log
// end); the newest two are kept. A partition without idempotent produces in
// this run gets no new snapshot: an old one stays valid, since loading it
// scans every batch written after it.
//
// Thread safety: a partition's state lives on the partition's shard
// (producer_states is per shard); only that shard touches it.
#pragma once

#include <coroutine>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/log/partition_log.h"
#include "engine/log/producer_snapshot.h"
#include "engine/log/topic_partition.h"
#include "engine/runtime/task.h"

namespace ringlog::broker {

// How far back the rebuild scan reaches: retries are of batches in flight at
// the crash, at the very end of the log; 20,000 offsets covers five in-flight
// batches of thousands of records each, and bounds the scan to a few MiB of
// page-cache reads for typical records.
inline constexpr int64_t k_rebuild_offsets = 20'000;
inline constexpr size_t k_batches_per_producer = 5;

struct batch_record {
  int32_t first_sequence = 0;
  int32_t last_sequence = 0;
  int64_t first_offset = 0;
  int64_t last_offset = 0;
  // The batch's maxTimestamp, kept for the snapshot (-1: not known; the
  // snapshot then says when it was taken).
  int64_t max_timestamp = -1;
};

// The sequence of a batch's last record (sequences wrap at INT32_MAX).
int32_t last_sequence_of(int32_t base_sequence, int32_t last_offset_delta) noexcept;

enum class sequence_verdict { append, duplicate, out_of_order, fenced_epoch };

struct sequence_check {
  sequence_verdict verdict = sequence_verdict::append;
  batch_record duplicate_of;  // for duplicate
  std::string message;        // for the errors
};

class partition_producers {
 public:
  sequence_check check(int64_t producer_id, int16_t epoch, int32_t first_sequence,
                       int32_t last_sequence) const;
  // A batch accepted for append (or found in the log by the rebuild scan).
  void record(int64_t producer_id, int16_t epoch, const batch_record& batch);
  // A producer as a snapshot holds it: its epoch and, when last_sequence >= 0,
  // its last batch only (Kafka keeps no more; the scan of the log after the
  // snapshot adds the later batches, as in Kafka). Precondition:
  // snapshot_entry_problem(e, ...) found nothing.
  void restore(const storage::producer_snapshot_entry& e);
  // The state as of `end_offset`, Kafka's snapshot entries: per producer its
  // newest batch ending below end_offset (batches are recorded before their
  // append, so later ones may be here already). A producer whose remembered
  // batches all end at or past it is left out: the scan after the snapshot
  // finds them. Unknown timestamps become now_ms. Sorted by producer id.
  std::vector<storage::producer_snapshot_entry> snapshot(int64_t end_offset, int64_t now_ms) const;
  size_t producers() const noexcept { return _producers.size(); }

 private:
  struct entry {
    int16_t epoch = -1;
    std::deque<batch_record> batches;
  };
  std::unordered_map<int64_t, entry> _producers;
};

// Why a snapshot entry cannot describe a producer of a log whose snapshot was
// taken at `snapshot_offset`, or empty when it can.
std::string snapshot_entry_problem(const storage::producer_snapshot_entry& e,
                                   int64_t snapshot_offset);

class producer_states {
 public:
  // The partition's producers once its state is rebuilt; the caller awaits
  // this before checking sequences. Queued callers resume in arrival order.
  task<partition_producers*> get(const storage::topic_partition& tp, storage::partition_log& log);
  // The partition is gone (deleted): forget its state.
  void forget(const storage::topic_partition& tp) { _partitions.erase(tp); }

 private:
  // One partition's producers, and the hooks its log calls once they are
  // loaded. Lives until the log is replaced (a topic deleted and created
  // again: the old log was closed, which cleared the hooks and waited for the
  // snapshot writer) or the broker ends (after every log closed).
  struct partition_state final : storage::producer_state_hooks {
    // The log the state was built from: a topic deleted and created again
    // gets a new log, and the old producers must not carry over.
    storage::partition_log* log = nullptr;
    partition_producers producers;
    bool ready = false;
    bool loading = false;
    std::vector<std::coroutine_handle<>> queued;
    // Snapshots taken at rolls, waiting to be written in order by one
    // writer; at most k_producer_snapshots_kept (older ones would be removed
    // right after being written).
    struct pending_snapshot {
      int64_t offset = 0;
      std::vector<storage::producer_snapshot_entry> entries;
    };
    std::deque<pending_snapshot> unwritten;
    bool writing = false;

    void on_roll(int64_t new_base_offset) override;
    task<void> before_close(int64_t log_end_offset) override;
    task<void> write_unwritten();
  };
  struct queue_awaiter {
    partition_state* state;
    bool await_ready() const noexcept { return state->ready; }
    void await_suspend(std::coroutine_handle<> h) { state->queued.push_back(h); }
    void await_resume() const noexcept {}
  };
  task<void> rebuild(storage::topic_partition tp, storage::partition_log* log,
                     partition_state* state);
  // Restores `producers` from the newest usable snapshot in [log start, end]
  // and returns its offset; removes the snapshots outside that range and the
  // corrupt ones (with a warning naming the file). nullopt: none usable.
  static task<std::optional<int64_t>> restore_snapshot(storage::topic_partition tp,
                                                       storage::partition_log* log, int64_t end,
                                                       partition_producers* producers);

  std::unordered_map<storage::topic_partition, std::unique_ptr<partition_state>,
                     storage::topic_partition_hash>
      _partitions;
};

}  // namespace ringlog::broker
