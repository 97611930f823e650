#include "bench/perf/e2e.h"

#include <fmt/format.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

#include "base/clock.h"
#include "bench/perf/cluster.h"
#include "bench/perf/consumer.h"
#include "bench/perf/producer.h"
#include "bench/perf/sharded_run.h"
#include "bench/perf/stats.h"
#include "engine/runtime/when_all.h"

namespace ringlog::perf {
namespace {

// What the shards share: the consumers' goal, and the producers still running
// (the last to finish sets the goal to every record acknowledged).
struct e2e_shared {
  consume_goal goal;
  std::atomic<uint64_t> acked{0};
  std::atomic<unsigned> producers_left{0};
  int64_t drain_timeout_ns = 0;
};

task<void> producer_then_goal(producer_state* st, e2e_shared* shared) {
  co_await run_producer(st);
  if (shared->producers_left.fetch_sub(1) == 1) {
    shared->goal.deadline_ns = monotonic_ns() + shared->drain_timeout_ns;
    shared->goal.target = shared->acked.load();
  }
}

task<void> e2e_shard(std::vector<producer_state*> producers, std::vector<consumer_state*> consumers,
                     e2e_shared* shared) {
  std::vector<task<void>> all;
  for (consumer_state* c : consumers) all.push_back(run_consumer(c));
  for (producer_state* p : producers) all.push_back(producer_then_goal(p, shared));
  co_await when_all(std::move(all));
}

}  // namespace

int run_e2e(const perf_options& o) {
  runtime_options ro;
  ro.shards = o.common.shards;
  runtime rt(ro);
  if (auto s = rt.start(); !s) {
    std::fprintf(stderr, "ringlog-perf: runtime: %s\n", s.error().message().c_str());
    return 1;
  }
  // Consumers start at the end of the log as it is now: only this run's records.
  auto setup = rt.block_on(0, prepare_topic(&o, o.produce.partitions, k_latest_offset));
  if (!setup) {
    std::fprintf(stderr, "ringlog-perf: %s\n", setup.error().message().c_str());
    rt.stop();
    return 1;
  }
  const std::vector<std::byte> pool = make_payload_pool(o.produce.record_size);
  std::vector<std::unique_ptr<shard_stats>> produce_stats, e2e_stats;
  for (unsigned i = 0; i < rt.size(); ++i) {
    produce_stats.push_back(std::make_unique<shard_stats>());
    e2e_stats.push_back(std::make_unique<shard_stats>());
  }
  e2e_shared shared;
  shared.drain_timeout_ns = int64_t{o.common.timeout_ms} * 1'000'000;
  const int64_t start = monotonic_ns();
  const double warmup_s = warmup_seconds(o);
  std::vector<std::vector<producer_state*>> producers(rt.size());
  std::vector<std::vector<consumer_state*>> consumers(rt.size());
  const auto pstates = make_producers(o, *setup, pool, produce_stats, start, producers);
  const auto cstates = make_consumers(o, *setup, shared.goal, e2e_stats, consumers);
  for (const auto& p : pstates) {
    p->stamp_values = true;
    p->acked_total = &shared.acked;
  }
  for (const auto& c : cstates) {
    c->e2e = true;
    c->measure_from_ns = start + static_cast<int64_t>(warmup_s * 1e9);
  }
  shared.producers_left = static_cast<unsigned>(pstates.size());

  std::function<task<void>(unsigned)> make = [&](unsigned shard_id) {
    return e2e_shard(producers[shard_id], consumers[shard_id], &shared);
  };
  // Progress shows the consumer side: records/s received and e2e latency.
  run_totals received = run_sharded(rt, e2e_stats, make);
  rt.stop();

  run_totals produced;
  for (auto& s : produce_stats) {
    std::lock_guard lock(s->mu);
    produced.records += s->records;
    produced.requests += s->requests;
    produced.errors += s->errors;
    if (produced.first_error.empty()) produced.first_error = s->first_error;
    produced.latency.merge(s->total);
    produced.request.merge(s->request);
  }
  // Every acknowledged record must come back; a shortfall is an error.
  if (received.records < produced.records) {
    ++received.errors;
    if (received.first_error.empty()) {
      received.first_error = std::to_string(produced.records - received.records) +
                             " acknowledged records not consumed within " +
                             std::to_string(o.common.timeout_ms) + " ms";
    }
  }
  received.errors += produced.errors;
  if (received.first_error.empty()) received.first_error = produced.first_error;
  const auto ms = [](uint64_t us) { return fmt::format("{:.3f}", static_cast<double>(us) / 1000); };
  const auto& pl = produced.latency;
  const auto& pr = produced.request;
  std::vector<summary_field> extra = {
      {"topic", json_string(o.common.topic)},
      {"partitions", std::to_string(setup->partitions.size())},
      {"record_size", std::to_string(o.produce.record_size)},
      {"rate", std::to_string(o.produce.rate)},
      {"acks", std::to_string(o.produce.acks)},
      {"batch_bytes", std::to_string(o.produce.batch_bytes)},
      {"linger_ms", std::to_string(o.produce.linger_ms)},
      {"partitioner", json_string(partitioner_name(o.produce.partitioner))},
      {"compression", json_string(compression_name(o.produce.codec))},
      {"producer_connections", std::to_string(pstates.size())},
      {"consumer_connections", std::to_string(cstates.size())},
      {"shards", std::to_string(rt.size())},
      {"warmup_s", fmt::format("{:.3f}", warmup_s)},
      {"produced", std::to_string(produced.records)},
      {"produce_latency_ms", latency_summary_json(pl)},
      {"produce_request_latency_ms", latency_summary_json(pr)},
  };
  print_summary("e2e", received, o.common.json, extra);
  if (!o.common.json) {
    std::printf("produced: %llu records; produce latency ms: p50 %s  p99 %s  p99.9 %s  max %s\n",
                static_cast<unsigned long long>(produced.records), ms(pl.percentile(50)).c_str(),
                ms(pl.percentile(99)).c_str(), ms(pl.percentile(99.9)).c_str(),
                ms(pl.max()).c_str());
    std::printf("produce requests: %llu; round trip ms: p50 %s  p99 %s  p99.9 %s  max %s\n",
                static_cast<unsigned long long>(produced.requests), ms(pr.percentile(50)).c_str(),
                ms(pr.percentile(99)).c_str(), ms(pr.percentile(99.9)).c_str(),
                ms(pr.max()).c_str());
  }
  return received.errors == 0 ? 0 : 1;
}

}  // namespace ringlog::perf
