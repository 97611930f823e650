// Runtime micro-benchmarks (Google Benchmark; not part of ctest).
//
// Workloads:
//   BM_TaskAwait          co_await of a finished-in-place child task: one
//                         symmetric transfer down and one back.
//   BM_YieldThroughLoop   co_await yield(): the coroutine goes round the
//                         shard loop (ready queue, one io_uring_enter).
//   BM_NopRoundTrip       one IORING_OP_NOP submitted and completed.
//   BM_CrossShardCall     invoke_on(other shard, fn) and back, over MSG_RING or
//                         the eventfd inbox, shards pinned or not.
//   BM_ThreadPingPong     the machine's floor for a cross-shard call: two
//                         plain threads waking each other through eventfds
//                         (a round trip is two wake-ups, like a call and its
//                         return).
//   BM_Write4kFdatasync   4 KiB sequential write then fdatasync, one at a time,
//                         on a file in $RINGLOG_BENCH_DIR (default: cwd); the
//                         figure fio's "write 4k + fdatasync=1" is set against
//                         (bench/micro/run.sh runs both). The file is first
//                         fallocated to 1 GiB, as fio lays out its file, so
//                         both measure data syncs rather than one of them also
//                         journaling size and extent changes on every sync.
//                         linked:0 awaits the write, then the fdatasync;
//                         linked:1 submits them as one io_uring chain.
//
// Each benchmark's iteration loop runs inside a coroutine on shard 0 while the
// main thread waits in block_on, so the measured code is the shard's own.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <memory>
#include <string>
#include <vector>

#include "engine/runtime/invoke.h"
#include "engine/runtime/io.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/task.h"

namespace ringlog {
namespace {

std::unique_ptr<runtime> make_runtime(bool msg_ring, bool pinned = false) {
  auto rt = std::make_unique<runtime>(
      runtime_options{.shards = 2, .pin_threads = pinned, .use_msg_ring = msg_ring});
  if (status st = rt->start(); !st) {
    std::fprintf(stderr, "runtime start failed: %s\n", st.error().message().c_str());
    std::exit(1);
  }
  return rt;
}

task<int> child(int v) { co_return v + 1; }

task<void> task_await_loop(benchmark::State* state) {
  int v = 0;
  for (auto _ : *state) v = co_await child(v);
  benchmark::DoNotOptimize(v);
}

void BM_TaskAwait(benchmark::State& state) {
  auto rt = make_runtime(true);
  rt->block_on(0, task_await_loop(&state));
}
BENCHMARK(BM_TaskAwait)->UseRealTime();

task<void> yield_loop(benchmark::State* state) {
  for (auto _ : *state) co_await yield();
}

void BM_YieldThroughLoop(benchmark::State& state) {
  auto rt = make_runtime(true);
  rt->block_on(0, yield_loop(&state));
}
BENCHMARK(BM_YieldThroughLoop)->UseRealTime();

task<void> nop_loop(benchmark::State* state) {
  for (auto _ : *state) {
    if (!co_await io::nop()) state->SkipWithError("nop failed");
  }
}

void BM_NopRoundTrip(benchmark::State& state) {
  auto rt = make_runtime(true);
  rt->block_on(0, nop_loop(&state));
}
BENCHMARK(BM_NopRoundTrip)->UseRealTime();

task<void> cross_loop(benchmark::State* state) {
  unsigned sum = 0;
  for (auto _ : *state) sum += co_await invoke_on(1, [] { return shard::current()->id(); });
  benchmark::DoNotOptimize(sum);
}

void BM_CrossShardCall(benchmark::State& state) {
  auto rt = make_runtime(state.range(0) == 1, state.range(1) == 1);
  state.SetLabel(rt->features() + (state.range(1) == 1 ? ", pinned" : ", unpinned"));
  rt->block_on(0, cross_loop(&state));
}
BENCHMARK(BM_CrossShardCall)
    ->ArgNames({"msg_ring", "pinned"})
    ->Args({1, 1})
    ->Args({0, 1})
    ->Args({1, 0})
    ->UseRealTime();

void BM_ThreadPingPong(benchmark::State& state) {
  const int there = ::eventfd(0, EFD_CLOEXEC);
  const int back = ::eventfd(0, EFD_CLOEXEC);
  std::atomic<bool> done{false};
  std::thread peer([&] {
    uint64_t v;
    while (::read(there, &v, sizeof v) == sizeof v && !done.load()) {
      v = 1;
      (void)::write(back, &v, sizeof v);
    }
  });
  uint64_t v = 1;
  for (auto _ : state) {
    v = 1;
    (void)::write(there, &v, sizeof v);
    (void)::read(back, &v, sizeof v);
  }
  done.store(true);
  v = 1;
  (void)::write(there, &v, sizeof v);
  peer.join();
  ::close(there);
  ::close(back);
}
BENCHMARK(BM_ThreadPingPong)->UseRealTime();

task<void> write_sync_loop(benchmark::State* state, int fd, bool linked) {
  std::vector<std::byte> block(4096, std::byte{0x5a});
  uint64_t offset = 0;
  for (auto _ : *state) {
    if (linked) {
      if (!co_await io::write_fdatasync(fd, block, offset)) {
        state->SkipWithError("write_fdatasync failed");
        break;
      }
    } else {
      auto w = co_await io::write(fd, block, offset);
      if (!w || *w != block.size()) {
        state->SkipWithError("write failed");
        break;
      }
      if (!co_await io::fdatasync(fd)) {
        state->SkipWithError("fdatasync failed");
        break;
      }
    }
    offset += block.size();
  }
  state->SetBytesProcessed(static_cast<int64_t>(offset));
}

void BM_Write4kFdatasync(benchmark::State& state) {
  const char* dir = std::getenv("RINGLOG_BENCH_DIR");
  std::string path = std::string(dir ? dir : ".") + "/ringlog-bench-XXXXXX";
  int fd = ::mkstemp(path.data());
  if (fd < 0) {
    state.SkipWithError("cannot create the benchmark file");
    return;
  }
  if (::fallocate(fd, 0, 0, off_t{1} << 30) != 0) {
    state.SkipWithError("fallocate failed");
    ::close(fd);
    return;
  }
  auto rt = make_runtime(true, state.range(1) == 1);
  rt->block_on(0, write_sync_loop(&state, fd, state.range(0) == 1));
  ::close(fd);
  ::unlink(path.c_str());
}
BENCHMARK(BM_Write4kFdatasync)
    ->ArgNames({"linked", "pinned"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->UseRealTime()
    ->MinTime(3.0);

}  // namespace
}  // namespace ringlog

BENCHMARK_MAIN();
