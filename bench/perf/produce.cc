#include "bench/perf/produce.h"

#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

#include "base/clock.h"
#include "bench/perf/cluster.h"
#include "bench/perf/producer.h"
#include "bench/perf/sharded_run.h"
#include "bench/perf/stats.h"

namespace ringlog::perf {

int run_produce(const perf_options& o) {
  runtime_options ro;
  ro.shards = o.common.shards;
  runtime rt(ro);
  if (auto s = rt.start(); !s) {
    std::fprintf(stderr, "ringlog-perf: runtime: %s\n", s.error().message().c_str());
    return 1;
  }
  auto setup = rt.block_on(0, prepare_topic(&o, o.produce.partitions, k_no_offsets));
  if (!setup) {
    std::fprintf(stderr, "ringlog-perf: %s\n", setup.error().message().c_str());
    rt.stop();
    return 1;
  }
  const size_t nparts = setup->partitions.size();
  if (o.produce.partitions > 0 && static_cast<int32_t>(nparts) != o.produce.partitions) {
    std::fprintf(stderr, "ringlog-perf: note: topic %s has %zu partitions (asked for %d)\n",
                 o.common.topic.c_str(), nparts, o.produce.partitions);
  }

  const std::vector<std::byte> pool = make_payload_pool(o.produce.record_size);
  std::vector<std::unique_ptr<shard_stats>> stats;
  for (unsigned i = 0; i < rt.size(); ++i) stats.push_back(std::make_unique<shard_stats>());
  std::vector<std::vector<producer_state*>> per_shard(rt.size());
  const auto states = make_producers(o, *setup, pool, stats, monotonic_ns(), per_shard);

  std::function<task<void>(unsigned)> make = [&per_shard](unsigned shard_id) {
    return run_producers(per_shard[shard_id]);
  };
  run_totals totals = run_sharded(rt, stats, make);
  rt.stop();

  std::vector<summary_field> extra = {
      {"topic", json_string(o.common.topic)},
      {"partitions", std::to_string(nparts)},
      {"record_size", std::to_string(o.produce.record_size)},
      {"acks", std::to_string(o.produce.acks)},
      {"batch_bytes", std::to_string(o.produce.batch_bytes)},
      {"linger_ms", std::to_string(o.produce.linger_ms)},
      {"partitioner", json_string(partitioner_name(o.produce.partitioner))},
      {"compression", json_string(compression_name(o.produce.codec))},
      {"rate", std::to_string(o.produce.rate)},
      {"connections", std::to_string(o.common.connections)},
      {"in_flight", std::to_string(o.produce.in_flight)},
      {"shards", std::to_string(rt.size())},
      {"produce_version", std::to_string(setup->versions.produce)},
  };
  print_summary("produce", totals, o.common.json, extra);
  const bool short_run = o.common.records != 0 && totals.records != o.common.records;
  if (short_run && totals.errors == 0) {
    std::fprintf(stderr, "ringlog-perf: %llu of %llu records acknowledged\n",
                 static_cast<unsigned long long>(totals.records),
                 static_cast<unsigned long long>(o.common.records));
  }
  return totals.errors == 0 && !short_run ? 0 : 1;
}

}  // namespace ringlog::perf
