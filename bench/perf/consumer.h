// The fetch side of ringlog-perf, shared by `consume` and `e2e`: one
// connection fetching its partitions (all of them in one Fetch, one Fetch at
// a time) and walking the returned batches by their headers only:
// recordsCount and batchLength (with --verify, record_batch_view::parse checks
// each header and CRC-32C). In e2e mode it also decodes every record, reads
// the producer's enqueue time from the first 8 bytes of the value and records
// receipt minus that time (end-to-end latency) instead of the Fetch round trip.
//
// Thread safety: a consumer_state is touched only by the shard running it,
// except `stats` (its own mutex) and `goal` (atomics, shared by all).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "bench/perf/cluster.h"
#include "bench/perf/kafka_connection.h"
#include "bench/perf/options.h"
#include "bench/perf/stats.h"
#include "engine/runtime/task.h"

namespace ringlog::perf {

// When all consumers stop: once `consumed` reaches `target`, or at `deadline_ns`.
struct consume_goal {
  std::atomic<uint64_t> consumed{0};
  std::atomic<uint64_t> target{std::numeric_limits<uint64_t>::max()};
  std::atomic<int64_t> deadline_ns{std::numeric_limits<int64_t>::max()};

  bool reached(int64_t now_ns) const noexcept {
    return interrupted() ||
           consumed.load(std::memory_order_relaxed) >= target.load(std::memory_order_relaxed) ||
           now_ns >= deadline_ns.load(std::memory_order_relaxed);
  }
};

struct consumer_state {
  const perf_options* opt = nullptr;
  shard_stats* stats = nullptr;
  consume_goal* goal = nullptr;
  api_versions_in_use versions;
  std::vector<int32_t> partitions;
  std::vector<int64_t> offsets;  // next offset to fetch, per partition
  // > 0: a run that goes this long without a record, goal unmet, fails.
  int64_t idle_timeout_ns = 0;
  // e2e mode: latency per record from the stamp in its value; records
  // stamped before measure_from_ns (the warm-up) are counted, not measured.
  bool e2e = false;
  int64_t measure_from_ns = 0;

  kafka_connection conn;
  std::vector<std::byte> scratch;  // decompressed records (e2e)
};

// Connects and fetches until the goal is reached or an error; errors go to
// st->stats.
task<void> run_consumer(consumer_state* st);
task<void> run_consumers(std::vector<consumer_state*> consumers);

// Splits the topic's partitions over min(connections, partitions) consumers
// (partition i on consumer i % n), consumer j on shard j % shards. `setup`
// must hold the start offsets.
std::vector<std::unique_ptr<consumer_state>> make_consumers(
    const perf_options& o, const topic_setup& setup, consume_goal& goal,
    std::vector<std::unique_ptr<shard_stats>>& stats,
    std::vector<std::vector<consumer_state*>>& per_shard);

}  // namespace ringlog::perf
