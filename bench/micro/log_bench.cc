// Storage engine micro-benchmarks (Google Benchmark; not part of ctest).
//
// Workloads:
//   BM_DurableAppend/P/B/I   P partitions, batches of B KiB of 1 KiB records,
//                            I appends in flight (spread round-robin over the
//                            partitions), every append durable (group commit)
//                            before it counts; 512 MiB per run. Reported as
//                            bytes/s; bench/micro/run-log.sh sets it against
//                            fio's buffered 1 MiB writes with fdatasync every
//                            8 MiB on the same disk.
//   BM_ReadSlices            fetch-style reads of a 256 MiB partition: look up
//                            1 MiB from a random batch, pread the slice.
//   BM_IndexLookup/W/E       offset index lookups, W = 0 near the tail (recent
//                            reads), 1 uniformly random; E entries: 262,144 is
//                            a full default segment (1 GiB, an entry per
//                            4 KiB), 1,310,720 a full 10 MiB index.
//   BM_Crc32c                CRC-32C over 1 MiB buffers.
//   BM_Recovery              reopen after an unclean stop with 512 MiB past
//                            the recovery point (page cache warm): seconds
//                            per GiB re-read and CRC-checked.
// Files go to $RINGLOG_BENCH_DIR (default: ./ringlog-data/bench).
// $RINGLOG_BENCH_SYNCFS_MIN_FILES overrides the flusher's syncfs threshold
// (0: one fdatasync per file) for the append workloads.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/crc32c.h"
#include "engine/log/flusher.h"
#include "engine/log/offset_index.h"
#include "engine/log/partition_log.h"
#include "engine/record/batch_builder.h"
#include "engine/runtime/io.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/when_all.h"

namespace ringlog::storage {
namespace {

namespace fs = std::filesystem;

std::string bench_dir(const std::string& name) {
  const char* d = std::getenv("RINGLOG_BENCH_DIR");
  std::string dir = std::string(d ? d : "./ringlog-data/bench") + "/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<std::byte> make_batch(size_t batch_bytes) {
  record::batch_builder b({});
  std::string value(1000, 'v');
  const size_t records = std::max<size_t>(1, batch_bytes / 1024);
  const int64_t now = wall_ms();
  for (size_t i = 0; i < records; ++i) b.add({.value = record::as_bytes(value), .timestamp_ms = now});
  return std::move(*b.build());
}

struct append_run {
  std::vector<std::unique_ptr<partition_log>> logs;
  flusher flush;
  uint64_t bytes_target = 0;
  uint64_t bytes_done = 0;
  size_t next_partition = 0;
  bool failed = false;
};

task<void> appender(append_run* run, size_t batch_bytes) {
  auto batch = make_batch(batch_bytes);
  while (run->bytes_done < run->bytes_target && !run->failed) {
    partition_log& log = *run->logs[run->next_partition++ % run->logs.size()];
    run->bytes_done += batch.size();
    auto r = co_await log.append(batch);
    if (!r) run->failed = true;
  }
}

task<bool> durable_append(std::string dir, int partitions, size_t batch_bytes, int in_flight,
                          uint64_t total_bytes, int64_t* elapsed_ns) {
  append_run run;
  run.bytes_target = total_bytes;
  // A/B switch for the flush strategy (flusher.h): min files for one syncfs.
  if (const char* v = std::getenv("RINGLOG_BENCH_SYNCFS_MIN_FILES")) {
    run.flush.set_syncfs_min_files(std::atoi(v));
  }
  for (int p = 0; p < partitions; ++p) {
    auto log = co_await partition_log::open(dir + "/bench-" + std::to_string(p), log_config{}, run.flush,
                                            recovery_state{});
    if (!log) co_return false;
    run.logs.push_back(std::move(*log));
  }
  const int64_t t0 = monotonic_ns();
  std::vector<task<void>> all;
  for (int i = 0; i < in_flight; ++i) all.push_back(appender(&run, batch_bytes));
  co_await when_all(std::move(all));
  *elapsed_ns = monotonic_ns() - t0;
  for (auto& l : run.logs) (void)co_await l->close();
  co_return !run.failed;
}

void BM_DurableAppend(benchmark::State& state) {
  const int partitions = static_cast<int>(state.range(0));
  const size_t batch_bytes = static_cast<size_t>(state.range(1)) * 1024;
  const int in_flight = static_cast<int>(state.range(2));
  const uint64_t total = uint64_t{512} << 20;
  runtime rt(runtime_options{.shards = 1});
  if (!rt.start()) {
    state.SkipWithError("runtime");
    return;
  }
  for (auto _ : state) {
    const std::string dir = bench_dir("append");
    int64_t ns = 0;
    if (!rt.block_on(0, durable_append(dir, partitions, batch_bytes, in_flight, total, &ns))) {
      state.SkipWithError("append failed");
      break;
    }
    state.SetIterationTime(static_cast<double>(ns) / 1e9);
    fs::remove_all(dir);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total));
  rt.stop();
}
BENCHMARK(BM_DurableAppend)
    ->ArgNames({"partitions", "batch_kib", "in_flight"})
    ->Args({1, 16, 64})
    ->Args({1, 16, 512})
    ->Args({1, 1024, 8})
    ->Args({1, 1024, 32})
    ->Args({1000, 16, 256})
    ->Args({1000, 1024, 16})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

task<bool> fill_log(std::string dir, uint64_t bytes, flusher* f, std::unique_ptr<partition_log>* out) {
  auto log = co_await partition_log::open(dir, log_config{}, *f, recovery_state{});
  if (!log) co_return false;
  auto batch = make_batch(64 * 1024);
  for (uint64_t done = 0; done < bytes; done += batch.size()) {
    if (!co_await (*log)->append(batch, durability::page_cache)) co_return false;
  }
  if (!co_await (*log)->flush()) co_return false;
  *out = std::move(*log);
  co_return true;
}

task<uint64_t> read_slices(partition_log* log, int reads, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::byte> buf(1 << 20);
  uint64_t bytes = 0;
  for (int i = 0; i < reads; ++i) {
    const int64_t offset = static_cast<int64_t>(rng() % static_cast<uint64_t>(log->durable_end()));
    auto s = co_await log->read(offset, 1 << 20);
    if (!s || s->bytes == 0) co_return 0;
    auto n = co_await io::read(s->file->fd, std::span(buf.data(), s->bytes), s->position);
    if (!n) co_return 0;
    bytes += *n;
  }
  co_return bytes;
}

void BM_ReadSlices(benchmark::State& state) {
  runtime rt(runtime_options{.shards = 1});
  if (!rt.start()) return state.SkipWithError("runtime");
  const std::string dir = bench_dir("read");
  flusher f;
  std::unique_ptr<partition_log> log;
  if (!rt.block_on(0, fill_log(dir + "/p-0", uint64_t{256} << 20, &f, &log))) {
    rt.stop();
    return state.SkipWithError("fill failed");
  }
  uint64_t bytes = 0;
  uint64_t seed = 1;
  for (auto _ : state) bytes += rt.block_on(0, read_slices(log.get(), 256, seed++));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  (void)rt.block_on(0, [](partition_log* l) { return l->close(); }(log.get()));
  log.reset();
  rt.stop();
  fs::remove_all(dir);
}
BENCHMARK(BM_ReadSlices)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_IndexLookup(benchmark::State& state) {
  const std::string dir = bench_dir("index");
  auto idx = offset_index::open(dir + "/00000000000000000000.index", 0, offset_index::default_max_bytes,
                                index_access::read_write);
  if (!idx) return state.SkipWithError("open");
  const auto wanted = static_cast<uint32_t>(state.range(1));
  for (uint32_t i = 0; i < wanted && !idx->is_full(); ++i) {
    (void)idx->append(int64_t{i} * 16 + 15, i * 1024 + 1);
  }
  const int64_t last = idx->last_entry().offset;
  std::mt19937_64 rng(42);
  std::vector<int64_t> targets(1 << 16);
  for (auto& t : targets) {
    t = state.range(0) == 0 ? last - static_cast<int64_t>(rng() % 4096)
                            : static_cast<int64_t>(rng() % static_cast<uint64_t>(last));
  }
  size_t i = 0;
  uint64_t sum = 0;
  for (auto _ : state) sum += idx->lookup(targets[i++ & (targets.size() - 1)]).position;
  benchmark::DoNotOptimize(sum);
  state.SetLabel(state.range(0) == 0 ? "tail" : "random");
  fs::remove_all(dir);
}
BENCHMARK(BM_IndexLookup)
    ->ArgNames({"random", "entries"})
    ->Args({0, 262'144})
    ->Args({1, 262'144})
    ->Args({0, 1'310'720})
    ->Args({1, 1'310'720});

void BM_Crc32c(benchmark::State& state) {
  std::vector<std::byte> buf(1 << 20, std::byte{0x5a});
  uint32_t c = 0;
  for (auto _ : state) c ^= crc32c(buf);
  benchmark::DoNotOptimize(c);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * buf.size()));
}
BENCHMARK(BM_Crc32c);

task<int64_t> reopen(std::string dir, flusher* f) {
  const int64_t t0 = monotonic_ns();
  auto log = co_await partition_log::open(dir, log_config{}, *f, recovery_state{.recovery_point = 0});
  const int64_t ns = monotonic_ns() - t0;
  if (!log) co_return -1;
  (void)co_await (*log)->close();
  co_return ns;
}

void BM_Recovery(benchmark::State& state) {
  runtime rt(runtime_options{.shards = 1});
  if (!rt.start()) return state.SkipWithError("runtime");
  const std::string dir = bench_dir("recovery");
  flusher f;
  std::unique_ptr<partition_log> log;
  const uint64_t bytes = uint64_t{512} << 20;
  if (!rt.block_on(0, fill_log(dir + "/p-0", bytes, &f, &log))) return state.SkipWithError("fill");
  (void)rt.block_on(0, [](partition_log* l) { return l->close(); }(log.get()));
  log.reset();
  for (auto _ : state) {
    const int64_t ns = rt.block_on(0, reopen(dir + "/p-0", &f));
    if (ns < 0) return state.SkipWithError("reopen");
    state.SetIterationTime(static_cast<double>(ns) / 1e9);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  rt.stop();
  fs::remove_all(dir);
}
BENCHMARK(BM_Recovery)->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ringlog::storage

BENCHMARK_MAIN();
