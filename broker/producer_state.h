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
// State is rebuilt lazily: the first produce to a partition after start scans
// the tail of its log (the last k_rebuild_offsets offsets) for idempotent
// batches, so a retry after a restart or a crash is still recognised. Until
// the scan ends, produces to that partition queue in arrival order.
//
// Thread safety: a partition's state lives on the partition's shard
// (producer_states is per shard); only that shard touches it.
#pragma once

#include <coroutine>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/log/topic_partition.h"
#include "engine/runtime/task.h"

namespace ringlog::storage {
class partition_log;
}

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
  size_t producers() const noexcept { return _producers.size(); }

 private:
  struct entry {
    int16_t epoch = -1;
    std::deque<batch_record> batches;
  };
  std::unordered_map<int64_t, entry> _producers;
};

class producer_states {
 public:
  // The partition's producers once its state is rebuilt; the caller awaits
  // this before checking sequences. Queued callers resume in arrival order.
  task<partition_producers*> get(const storage::topic_partition& tp, storage::partition_log& log);
  // The partition is gone (deleted): forget its state.
  void forget(const storage::topic_partition& tp) { _partitions.erase(tp); }

 private:
  struct partition_state {
    // The log the state was built from: a topic deleted and created again
    // gets a new log, and the old producers must not carry over.
    storage::partition_log* log = nullptr;
    partition_producers producers;
    bool ready = false;
    bool loading = false;
    std::vector<std::coroutine_handle<>> queued;
  };
  struct queue_awaiter {
    partition_state* state;
    bool await_ready() const noexcept { return state->ready; }
    void await_suspend(std::coroutine_handle<> h) { state->queued.push_back(h); }
    void await_resume() const noexcept {}
  };
  task<void> rebuild(storage::topic_partition tp, storage::partition_log* log,
                     partition_state* state);

  std::unordered_map<storage::topic_partition, std::unique_ptr<partition_state>,
                     storage::topic_partition_hash>
      _partitions;
};

}  // namespace ringlog::broker
