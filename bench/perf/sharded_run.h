// Runs one task per shard, each from its own thread (runtime::block_on), while
// the calling thread prints progress once a second; returns the totals when
// every shard's task has finished. Shared by produce and consume.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "bench/perf/stats.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/task.h"

namespace ringlog::perf {

inline run_totals run_sharded(runtime& rt, std::vector<std::unique_ptr<shard_stats>>& stats,
                              const std::function<task<void>(unsigned)>& make_task) {
  std::atomic<unsigned> running{rt.size()};
  std::atomic<bool> done{false};
  const int64_t start_ns = monotonic_ns();
  std::vector<std::thread> threads;
  threads.reserve(rt.size());
  for (unsigned i = 0; i < rt.size(); ++i) {
    threads.emplace_back([&rt, &make_task, &running, &done, i] {
      rt.block_on(i, make_task(i));
      if (running.fetch_sub(1) == 1) done.store(true, std::memory_order_release);
    });
  }
  run_totals totals = report_progress(stats, done, start_ns);
  for (auto& t : threads) t.join();
  return totals;
}

}  // namespace ringlog::perf
