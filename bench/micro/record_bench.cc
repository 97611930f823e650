// Record micro-benchmarks (Google Benchmark; not part of ctest).
//
// Workloads:
//   BM_ValidateRecords   validate_records over one uncompressed batch, what a
//                        Produce now does for every uncompressed batch (and
//                        for every batch bound for a compacted topic): args
//                        are the batch's records and each value's bytes. The
//                        figure to compare is bytes/s against the broker's
//                        produce rate (BENCHMARKS.md).
//   BM_ParseBatch        record_batch_view::parse alone (header checks and
//                        CRC-32C), what every produce already paid.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "engine/record/batch_builder.h"
#include "engine/record/record.h"
#include "engine/record/record_batch.h"

namespace {

using namespace ringlog;

std::vector<std::byte> make_batch(int records, int value_bytes) {
  record::batch_builder b({});
  const std::string value(static_cast<size_t>(value_bytes), 'v');
  for (int i = 0; i < records; ++i) {
    const std::string key = "key-" + std::to_string(i);
    b.add({.key = record::as_bytes(key), .value = record::as_bytes(value),
           .timestamp_ms = 1'700'000'000'000 + i});
  }
  return std::move(*b.build());
}

void BM_ValidateRecords(benchmark::State& state) {
  const auto batch = make_batch(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  auto view = record::record_batch_view::parse(batch, {});
  std::vector<std::byte> scratch;
  for (auto _ : state) {
    auto st = record::validate_records(*view, scratch);
    benchmark::DoNotOptimize(st);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(batch.size()));
}
BENCHMARK(BM_ValidateRecords)->Args({64, 1024})->Args({640, 100})->Args({16, 65536});

void BM_ParseBatch(benchmark::State& state) {
  const auto batch = make_batch(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  for (auto _ : state) {
    auto view = record::record_batch_view::parse(batch, {});
    benchmark::DoNotOptimize(view);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(batch.size()));
}
BENCHMARK(BM_ParseBatch)->Args({64, 1024})->Args({640, 100})->Args({16, 65536});

}  // namespace

BENCHMARK_MAIN();
