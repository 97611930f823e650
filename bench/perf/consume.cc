#include "bench/perf/consume.h"

#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

#include "base/clock.h"
#include "bench/perf/cluster.h"
#include "bench/perf/consumer.h"
#include "bench/perf/sharded_run.h"
#include "bench/perf/stats.h"

namespace ringlog::perf {

int run_consume(const perf_options& o) {
  runtime_options ro;
  ro.shards = o.common.shards;
  runtime rt(ro);
  if (auto s = rt.start(); !s) {
    std::fprintf(stderr, "ringlog-perf: runtime: %s\n", s.error().message().c_str());
    return 1;
  }
  const int64_t at = o.consume.from_beginning ? k_earliest_offset : k_latest_offset;
  auto setup = rt.block_on(0, prepare_topic(&o, 0, at));
  if (!setup) {
    std::fprintf(stderr, "ringlog-perf: %s\n", setup.error().message().c_str());
    rt.stop();
    return 1;
  }
  consume_goal goal;
  if (o.common.records != 0) {
    goal.target = o.common.records;
  } else {
    goal.deadline_ns = monotonic_ns() + static_cast<int64_t>(o.common.duration_s * 1e9);
  }
  std::vector<std::unique_ptr<shard_stats>> stats;
  for (unsigned i = 0; i < rt.size(); ++i) stats.push_back(std::make_unique<shard_stats>());
  std::vector<std::vector<consumer_state*>> per_shard(rt.size());
  const auto states = make_consumers(o, *setup, goal, stats, per_shard);
  if (o.common.records != 0) {
    for (const auto& st : states) st->idle_timeout_ns = int64_t{o.common.timeout_ms} * 1'000'000;
  }
  std::function<task<void>(unsigned)> make = [&per_shard](unsigned shard_id) {
    return run_consumers(per_shard[shard_id]);
  };
  run_totals totals = run_sharded(rt, stats, make);
  rt.stop();

  std::vector<summary_field> extra = {
      {"topic", json_string(o.common.topic)},
      {"partitions", std::to_string(setup->partitions.size())},
      {"from_beginning", o.consume.from_beginning ? "true" : "false"},
      {"verify", o.consume.verify ? "true" : "false"},
      {"fetch_max_bytes", std::to_string(o.consume.fetch_max_bytes)},
      {"partition_max_bytes", std::to_string(o.consume.partition_max_bytes)},
      {"connections", std::to_string(states.size())},
      {"shards", std::to_string(rt.size())},
      {"fetch_version", std::to_string(setup->versions.fetch)},
  };
  print_summary("consume", totals, o.common.json, extra);
  return totals.errors == 0 ? 0 : 1;
}

}  // namespace ringlog::perf
