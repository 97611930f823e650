// run_blocking: the call runs on another thread, the caller resumes on its
// own shard with the value, the shard keeps serving meanwhile, and many
// concurrent calls from several shards all come back.
#include "engine/runtime/blocking.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "engine/runtime/invoke.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/task.h"
#include "engine/runtime/timer.h"
#include "engine/runtime/when_all.h"

namespace ringlog {
namespace {

using namespace std::chrono_literals;

struct call_site {
  std::thread::id thread;
  unsigned shard_before = 0;
  unsigned shard_after = 0;
  std::thread::id caller;
  int value = 0;
};

task<call_site> one_call(int v) {
  call_site c;
  c.caller = std::this_thread::get_id();
  c.shard_before = shard::current()->id();
  c.value = co_await run_blocking([v, &c] {
    c.thread = std::this_thread::get_id();
    return v * 2;
  });
  c.shard_after = shard::current()->id();
  RINGLOG_ASSERT(std::this_thread::get_id() == c.caller, "resumed on another thread");
  co_return c;
}

TEST(Blocking, RunsOnAnotherThreadAndResumesOnTheCallersShard) {
  runtime rt(runtime_options{.shards = 2, .ring_entries = 64});
  ASSERT_TRUE(rt.start());
  for (unsigned s = 0; s < 2; ++s) {
    call_site c = rt.block_on(s, one_call(21));
    EXPECT_EQ(c.value, 42);
    EXPECT_NE(c.thread, c.caller) << "the call must leave the shard thread";
    EXPECT_EQ(c.shard_before, s);
    EXPECT_EQ(c.shard_after, s);
  }
  rt.stop();
}

task<int> ticks_while_blocked() {
  // A 50 ms blocking call; the shard's timers keep firing meanwhile.
  int ticks = 0;
  bool done = false;
  auto ticker = [](int* n, bool* stop) -> task<void> {
    while (!*stop) {
      co_await sleep_for(1ms);
      ++*n;
    }
  };
  auto blocker = [](bool* stop) -> task<void> {
    const int rc = co_await run_blocking([] {
      ::usleep(50'000);
      return 0;
    });
    RINGLOG_ASSERT(rc == 0, "usleep job failed");
    *stop = true;
  };
  std::vector<task<void>> both;
  both.push_back(ticker(&ticks, &done));
  both.push_back(blocker(&done));
  co_await when_all(std::move(both));
  co_return ticks;
}

TEST(Blocking, TheShardKeepsServingWhileACallBlocks) {
  runtime rt(runtime_options{.shards = 1, .ring_entries = 64});
  ASSERT_TRUE(rt.start());
  const int ticks = rt.block_on(0, ticks_while_blocked());
  EXPECT_GE(ticks, 10) << "1 ms timers during a 50 ms blocking call";
  rt.stop();
}

task<int> many_calls(int n) {
  std::vector<task<call_site>> calls;
  for (int i = 0; i < n; ++i) calls.push_back(one_call(i));
  std::vector<call_site> results = co_await when_all(std::move(calls));
  int sum = 0;
  for (const auto& c : results) sum += c.value;
  co_return sum;
}

TEST(Blocking, ManyConcurrentCallsFromTwoShardsAllReturn) {
  runtime rt(runtime_options{.shards = 2, .ring_entries = 64});
  ASSERT_TRUE(rt.start());
  std::atomic<int> total{0};
  std::thread other([&] { total += rt.block_on(1, many_calls(500)); });
  total += rt.block_on(0, many_calls(500));
  other.join();
  EXPECT_EQ(total.load(), 2 * 2 * (499 * 500 / 2));
  rt.stop();
}

}  // namespace
}  // namespace ringlog
