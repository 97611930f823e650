// The producer side of ringlog-perf, shared by `produce` and `e2e`: one
// connection's state and the coroutines that drive it.
//
// Partitions: each connection owns a set of partitions and appends records to
// one batch per partition, the partition chosen by --partitioner
// (partitioner.h): sticky (default) fills the current partition's batch and
// moves to the next partition when that batch is full or sent; round-robin
// spreads records one by one. A batch is ready when it is full
// (--batch-bytes, uncompressed), when its oldest record has waited
// --linger-ms, or at the end of the run; once one is ready, every non-empty
// batch of the connection goes in the request, up to --request-max-bytes,
// the first left out leading the next request (Kafka's accumulator drains a
// ready node the same way, max.request.size and drainIndex). Sticky,
// unthrottled or while all --in-flight slots are taken, keeps filling the next
// partitions' batches (up to one request of full batches) so the next request
// carries them all, as a Kafka producer's accumulator does when the
// application outruns the sender.
// Up to --in-flight requests are outstanding; a reader coroutine matches
// responses in order.
//
// Latency of a record: from its enqueue time to the response acknowledging its
// batch (with acks=0: to the send). Under --rate each record has a scheduled
// time (start + i / rate per connection) and its enqueue time is that, so a
// stalled broker cannot hide queueing delay (no coordinated omission).
//
// Thread safety: a producer_state is touched only by the shard running it,
// except `stats` (its own mutex) and `acked_total` (atomic).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "bench/perf/cluster.h"
#include "bench/perf/kafka_connection.h"
#include "bench/perf/options.h"
#include "bench/perf/stats.h"
#include "engine/record/batch_builder.h"
#include "engine/runtime/event.h"
#include "engine/runtime/task.h"

namespace ringlog::perf {

struct sent_batch {
  int32_t partition = 0;
  uint64_t wire_bytes = 0;
  std::vector<int64_t> enqueue_ns;  // one per record
};

struct in_flight_request {
  int32_t correlation_id = 0;
  int64_t sent_ns = 0;  // when its send began
  std::vector<sent_batch> batches;
};

struct open_batch {
  int32_t partition = 0;
  std::optional<record::batch_builder> builder;
  std::vector<int64_t> enqueue_ns;
  bool full = false;
};

// One connection's whole state; lives (on the heap) for the whole run and is
// touched only by the shard that runs the connection.
struct producer_state {
  const perf_options* opt = nullptr;
  shard_stats* stats = nullptr;
  api_versions_in_use versions;
  std::span<const std::byte> payload_pool;  // each value is a slice of this
  uint64_t rng = 0;                         // picks the slice (xorshift64)
  std::vector<int32_t> partitions;
  uint64_t budget = 0;      // records to send; 0 in duration mode
  int64_t interval_ns = 0;  // between scheduled records; 0 unthrottled
  int64_t end_ns = std::numeric_limits<int64_t>::max();
  // e2e: the first 8 bytes of each value carry the record's enqueue time
  // (CLOCK_MONOTONIC ns, big-endian); needs record_size >= 8.
  bool stamp_values = false;
  // Added to on every acknowledged record when set (e2e waits for them).
  std::atomic<uint64_t>* acked_total = nullptr;

  kafka_connection conn;
  event ev;  // an in-flight slot freed, a request was queued, or the run ended
  std::deque<in_flight_request> in_flight;
  bool sender_done = false;
  bool failed = false;
  std::vector<std::byte> value_scratch;  // a stamped value being built
};

// Connects and runs the connection until its budget or end time; errors go
// to st->stats.
task<void> run_producer(producer_state* st);

// Runs the producers given (on the calling shard) to their end.
task<void> run_producers(std::vector<producer_state*> producers);

// Spreads the producer connections for options `o` over `shards` shards:
// partitions, record budgets and rates. Returns the states; per_shard[i]
// lists those to run on shard i. `payload_pool` and `stats` must outlive them.
std::vector<std::unique_ptr<producer_state>> make_producers(
    const perf_options& o, const topic_setup& setup, std::span<const std::byte> payload_pool,
    std::vector<std::unique_ptr<shard_stats>>& stats, int64_t start_ns,
    std::vector<std::vector<producer_state*>>& per_shard);

// 4 MiB (plus one record) of pseudo-random bytes: record values are slices of
// it at pseudo-random offsets, so values differ and compression sees
// realistic, incompressible data rather than one value repeated.
std::vector<std::byte> make_payload_pool(uint32_t record_size);

}  // namespace ringlog::perf
