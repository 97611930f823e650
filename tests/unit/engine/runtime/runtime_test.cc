// The runtime under load and at its edges: many concurrent operations,
// cancellation and timeouts, timer order, cross-shard calls both ways (with
// MSG_RING and with the eventfd fallback), errors as values, spawn failures
// logged, and a stop that drains.
#include <fcntl.h>
#include <sched.h>
#include <netinet/in.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <limits>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/runtime/cancel.h"
#include "engine/runtime/invoke.h"
#include "engine/runtime/io.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/task.h"
#include "engine/runtime/timer.h"
#include "engine/runtime/when_all.h"

namespace ringlog {
namespace {

using namespace std::chrono_literals;

std::string temp_file() {
  std::string path = ::testing::TempDir() + "ringlog_rt_XXXXXX";
  int fd = ::mkstemp(path.data());
  EXPECT_GE(fd, 0);
  ::close(fd);
  return path;
}

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

class RuntimeTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    rt = std::make_unique<runtime>(runtime_options{.shards = 2, .ring_entries = 256,
                                                   .pin_threads = false, .use_msg_ring = GetParam()});
    status st = rt->start();
    ASSERT_TRUE(st) << st.error().message();
    if (GetParam() && !rt->msg_ring_enabled()) {
      GTEST_SKIP() << "kernel lacks IORING_OP_MSG_RING";
    }
    if (!GetParam()) {
      ASSERT_FALSE(rt->msg_ring_enabled());
    }
  }
  void TearDown() override { rt->stop(); }

  std::unique_ptr<runtime> rt;
};

task<int> add_async(int a, int b) {
  co_await yield();
  co_return a + b;
}

task<int> nested_sum(int depth) {
  if (depth == 0) co_return 0;
  co_return 1 + co_await nested_sum(depth - 1);
}

TEST_P(RuntimeTest, BlockOnReturnsTheTaskValue) {
  EXPECT_EQ(rt->block_on(0, add_async(2, 3)), 5);
  // Deep await chains resume by symmetric transfer, not recursion: 100,000
  // nested frames would overflow the shard's stack otherwise. GCC turns the
  // transfer into a tail call only when optimising, so sanitizer (-O0)
  // builds check a shallower chain.
#if defined(__SANITIZE_ADDRESS__)
  constexpr int depth = 1'000;
#else
  constexpr int depth = 100'000;
#endif
  EXPECT_EQ(rt->block_on(1, nested_sum(depth)), depth);
}

task<int> throws_after_yield() {
  co_await yield();
  throw std::runtime_error("boom");
}

TEST_P(RuntimeTest, ExceptionsReachTheAwaiter) {
  EXPECT_THROW(rt->block_on(0, throws_after_yield()), std::runtime_error);
}

task<status> write_then_read(int fd, uint32_t index) {
  std::byte out[4];
  store_be32(out, index * 2654435761u);
  auto w = co_await io::write(fd, out, index * 4ull);
  if (!w) co_return w.error();
  if (*w != 4) co_return error::from_errno(EIO, "short write");
  std::byte in[4] = {};
  auto r = co_await io::read(fd, in, index * 4ull);
  if (!r) co_return r.error();
  if (*r != 4 || load_be32(in) != index * 2654435761u) co_return error::from_errno(EIO, "mismatch");
  co_return ok();
}

task<size_t> ten_thousand_ops(int fd) {
  std::vector<task<status>> ops;
  for (uint32_t i = 0; i < 10'000; ++i) ops.push_back(write_then_read(fd, i));
  std::vector<status> results = co_await when_all(std::move(ops));
  size_t good = 0;
  for (auto& r : results) good += r.has_value() ? 1 : 0;
  co_return good;
}

TEST_P(RuntimeTest, TenThousandConcurrentOperationsAllComplete) {
  // 256 SQ entries against 10,000 operations in flight: the SQ fills within a
  // turn and must be flushed early, never dropping an operation.
  const std::string path = temp_file();
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(rt->block_on(0, ten_thousand_ops(fd)), 10'000u);
  EXPECT_EQ(::lseek(fd, 0, SEEK_END), 40'000);
  ::close(fd);
  ::unlink(path.c_str());
}

task<std::vector<std::string>> io_errors(std::string ro_path) {
  std::vector<std::string> out;
  int fds[2];
  if (::pipe(fds) != 0) co_return out;
  ::close(fds[1]);
  // Writing to a closed fd.
  auto w = co_await io::write(fds[1], as_bytes("x"), 0);
  out.push_back(w ? "ok" : w.error().message());
  out.push_back(w ? "0" : std::to_string(w.error().sys_errno()));
  ::close(fds[0]);
  // Writing to a read-only fd.
  int ro = ::open(ro_path.c_str(), O_RDONLY);
  auto w2 = co_await io::write(ro, as_bytes("x"), 0);
  out.push_back(w2 ? "ok" : std::to_string(w2.error().sys_errno()));
  ::close(ro);
  // Opening a missing file.
  auto o = co_await io::openat(AT_FDCWD, "/nonexistent/ringlog/file", O_RDONLY, 0);
  out.push_back(o ? "ok" : o.error().message());
  // fdatasync of a closed fd.
  auto s = co_await io::fdatasync(ro);
  out.push_back(s ? "ok" : s.error().message());
  co_return out;
}

TEST_P(RuntimeTest, IoErrorsAreValuesWithErrnoAndOperation) {
  const std::string path = temp_file();
  auto out = rt->block_on(1, io_errors(path));
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0], "write: Bad file descriptor (errno 9)");
  EXPECT_EQ(out[1], "9");
  EXPECT_EQ(out[2], "9");  // EBADF: fd not open for writing
  EXPECT_EQ(out[3], "openat: No such file or directory (errno 2)");
  EXPECT_EQ(out[4], "fdatasync: Bad file descriptor (errno 9)");
  ::unlink(path.c_str());
}

task<std::vector<std::string>> cancellations() {
  std::vector<std::string> out;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) co_return out;
  std::byte buf[16];

  // A recv with nothing to read, cancelled by its source from another task.
  cancel_source src;
  auto canceller = [](cancel_source& s) -> task<void> {
    (void)co_await sleep_for(5ms);
    s.cancel();
  };
  auto [r, done] = co_await when_all(
      [](int fd, std::span<std::byte> b, cancel_source& s) -> task<result<size_t>> {
        co_return co_await io::recv(fd, b).with_cancel(s);
      }(sv[0], buf, src),
      [](task<void> t) -> task<bool> {
        co_await std::move(t);
        co_return true;
      }(canceller(src)));
  out.push_back(r ? "ok" : r.error().message());

  // Joining an already cancelled source fails at once.
  auto r2 = co_await io::recv(sv[0], buf).with_cancel(src);
  out.push_back(r2 ? "ok" : r2.error().message());

  // A linked timeout.
  const int64_t t0 = monotonic_ns();
  auto r3 = co_await io::recv(sv[0], buf).with_timeout(20ms);
  out.push_back(r3 ? "ok" : r3.error().message());
  out.push_back(monotonic_ns() - t0 >= 19'000'000 ? "waited" : "early");

  // A timeout that does not fire: data is there.
  ::send(sv[1], "hi", 2, 0);
  auto r4 = co_await io::recv(sv[0], buf).with_timeout(5s);
  out.push_back(r4 ? std::to_string(*r4) : r4.error().message());

  // A cancelled sleep.
  cancel_source src2;
  auto [slept, _] = co_await when_all(
      [](cancel_source& s) -> task<status> { co_return co_await sleep_for(10s).with_cancel(s); }(src2),
      [](cancel_source& s) -> task<bool> {
        (void)co_await sleep_for(1ms);
        s.cancel();
        co_return true;
      }(src2));
  out.push_back(slept ? "ok" : slept.error().message());
  ::close(sv[0]);
  ::close(sv[1]);
  co_return out;
}

TEST_P(RuntimeTest, CancellationAndTimeouts) {
  auto out = rt->block_on(0, cancellations());
  ASSERT_EQ(out.size(), 6u);
  EXPECT_EQ(out[0], "recv: Operation canceled (errno 125)");
  EXPECT_EQ(out[1], "recv: Operation canceled (errno 125)");
  EXPECT_EQ(out[2], "recv: Connection timed out (errno 110)");
  EXPECT_EQ(out[3], "waited");
  EXPECT_EQ(out[4], "2");
  EXPECT_EQ(out[5], "sleep: Operation canceled (errno 125)");
}

task<void> sleeper(int id, std::chrono::milliseconds d, std::vector<int>* order) {
  auto st = co_await sleep_for(d);
  if (st) order->push_back(id);
}

task<std::vector<int>> timer_order() {
  std::vector<int> order;
  std::vector<task<void>> sleepers;
  // Set out of order; 2 and 3 share a deadline and must keep their order.
  const int64_t deadline = monotonic_ns() + 30'000'000;
  sleepers.push_back(sleeper(1, 50ms, &order));
  sleepers.push_back([](int64_t d, std::vector<int>* o) -> task<void> {
    if (co_await sleep_until(d)) o->push_back(2);
  }(deadline, &order));
  sleepers.push_back([](int64_t d, std::vector<int>* o) -> task<void> {
    if (co_await sleep_until(d)) o->push_back(3);
  }(deadline, &order));
  sleepers.push_back(sleeper(4, 10ms, &order));
  sleepers.push_back(sleeper(5, 0ms, &order));
  sleepers.push_back(sleeper(6, 40ms, &order));
  const int64_t t0 = monotonic_ns();
  co_await when_all(std::move(sleepers));
  order.push_back(static_cast<int>((monotonic_ns() - t0) / 1'000'000));
  co_return order;
}

TEST_P(RuntimeTest, TimersFireInDeadlineOrder) {
  auto order = rt->block_on(1, timer_order());
  ASSERT_EQ(order.size(), 7u);
  EXPECT_EQ(std::vector<int>(order.begin(), order.end() - 1), (std::vector<int>{5, 4, 2, 3, 6, 1}));
  EXPECT_GE(order.back(), 50);  // the longest sleep was honoured
}

// Kafka's "never" is Long.MAX_VALUE milliseconds. Such sleeps must last until
// cancelled; wrapped around to the past they fired at once.
task<std::vector<std::string>> never_sleeps() {
  std::vector<std::string> out;
  cancel_source src;
  auto [by_ms, by_ns, canceller] = co_await when_all(
      [](cancel_source& s) -> task<status> {
        co_return co_await sleep_for_ms(std::numeric_limits<int64_t>::max()).with_cancel(s);
      }(src),
      [](cancel_source& s) -> task<status> {
        co_return co_await sleep_for(std::chrono::nanoseconds::max()).with_cancel(s);
      }(src),
      [](cancel_source& s) -> task<bool> {
        (void)co_await sleep_for(20ms);
        s.cancel();
        co_return true;
      }(src));
  (void)canceller;
  out.push_back(by_ms ? "fired" : by_ms.error().message());
  out.push_back(by_ns ? "fired" : by_ns.error().message());
  co_return out;
}

TEST_P(RuntimeTest, SleepsPastTheEndOfTheClockLastUntilCancelled) {
  auto out = rt->block_on(0, never_sleeps());
  EXPECT_EQ(out, (std::vector<std::string>{"sleep: Operation canceled (errno 125)",
                                           "sleep: Operation canceled (errno 125)"}));
}

task<unsigned> where_am_i() {
  co_await yield();
  co_return shard::current()->id();
}

task<std::vector<unsigned>> cross_calls(unsigned other, int n) {
  const unsigned home = shard::current()->id();
  std::vector<unsigned> seen;
  // A plain function and a task, one after the other.
  seen.push_back(co_await invoke_on(other, [] { return shard::current()->id(); }));
  seen.push_back(shard::current()->id());
  seen.push_back(co_await invoke_on(other, [] { return where_am_i(); }));
  seen.push_back(shard::current()->id());
  // Many at once.
  std::vector<task<unsigned>> many;
  for (int i = 0; i < n; ++i) many.push_back(invoke_on(other, [] { return where_am_i(); }));
  auto all = co_await when_all(std::move(many));
  const bool all_remote = std::all_of(all.begin(), all.end(), [&](unsigned s) { return s == other; });
  seen.push_back(all_remote ? other : 999);
  seen.push_back(shard::current()->id() == home ? home : 999);
  co_return seen;
}

TEST_P(RuntimeTest, CrossShardCallsInBothDirections) {
  EXPECT_EQ(rt->block_on(0, cross_calls(1, 2000)), (std::vector<unsigned>{1, 0, 1, 0, 1, 0}));
  EXPECT_EQ(rt->block_on(1, cross_calls(0, 2000)), (std::vector<unsigned>{0, 1, 0, 1, 0, 1}));
}

task<unsigned> ping_pong(unsigned a, unsigned b, int rounds) {
  unsigned hops = 0;
  for (int i = 0; i < rounds; ++i) {
    co_await switch_to(b);
    hops += shard::current()->id() == b;
    co_await switch_to(a);
    hops += shard::current()->id() == a;
  }
  co_return hops;
}

task<std::vector<unsigned>> concurrent_ping_pong() {
  // Both shards send work to each other at the same time.
  auto [x, y] = co_await when_all(ping_pong(0, 1, 500),
                                  invoke_on(1, [] { return ping_pong(1, 0, 500); }));
  co_return std::vector<unsigned>{x, y};
}

TEST_P(RuntimeTest, HopsInBothDirectionsAtOnce) {
  EXPECT_EQ(rt->block_on(0, concurrent_ping_pong()), (std::vector<unsigned>{1000, 1000}));
}

task<void> throw_on_other_shard() {
  co_await invoke_on(1, []() -> int { throw std::logic_error("remote failure"); });
}

task<unsigned> catch_remote() {
  try {
    co_await throw_on_other_shard();
  } catch (const std::logic_error&) {
    co_return shard::current()->id();  // back home despite the exception
  }
  co_return 999;
}

TEST_P(RuntimeTest, ExceptionsFromAnotherShardComeHome) {
  EXPECT_EQ(rt->block_on(0, catch_remote()), 0u);
}

std::mutex g_lines_mu;
std::vector<std::string> g_lines;
void capture(log_level, std::string_view line) {
  std::lock_guard lock(g_lines_mu);
  g_lines.emplace_back(line);
}

task<status> failing_task() {
  co_await yield();
  co_return error::from_errno(ENOSPC, "write", "segment 00000000000000000042.log");
}

task<int> throwing_task() {
  co_await yield();
  throw std::runtime_error("bad thing");
}

task<void> spawn_failures() {
  spawn(failing_task(), "flush");
  spawn(throwing_task(), "cleaner");
  for (int i = 0; i < 10; ++i) co_await yield();
}

TEST_P(RuntimeTest, SpawnedFailuresAreLogged) {
  g_lines.clear();
  set_log_hook(&capture);
  rt->block_on(0, spawn_failures());
  set_log_hook(nullptr);
  std::lock_guard lock(g_lines_mu);
  auto has = [&](std::string_view needle) {
    return std::any_of(g_lines.begin(), g_lines.end(),
                       [&](const std::string& l) { return l.find(needle) != std::string::npos; });
  };
  EXPECT_TRUE(has("[shard 0] task flush failed: write: No space left on device (errno 28): "
                  "segment 00000000000000000042.log"));
  EXPECT_TRUE(has("[shard 0] task cleaner threw: bad thing"));
}

INSTANTIATE_TEST_SUITE_P(HopTransport, RuntimeTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "msg_ring" : "eventfd";
                         });

// Stop: pending operations are cancelled, loops that watch stopping() end,
// operations issued while stopping still complete, and stop() returns.
task<void> accept_loop(int listen_fd, std::atomic<int>* cancelled) {
  while (!shard::current()->stopping()) {
    auto fd = co_await io::accept(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (!fd && fd.error().sys_errno() == ECANCELED) cancelled->fetch_add(1);
  }
}

task<void> flush_on_stop(int fd, std::atomic<int>* flushed) {
  while (!shard::current()->stopping()) (void)co_await sleep_for(1h);
  // The shutdown path still does I/O.
  auto w = co_await io::write(fd, as_bytes("final"), 0);
  auto s = co_await io::fdatasync(fd);
  if (w && s) flushed->fetch_add(1);
}

task<void> start_background(int listen_fd, int file_fd, std::atomic<int>* cancelled,
                            std::atomic<int>* flushed) {
  spawn(accept_loop(listen_fd, cancelled), "accept");
  spawn(flush_on_stop(file_fd, flushed), "flush");
  co_return;
}

TEST(RuntimeStop, DrainsInFlightWorkAndEnds) {
  runtime rt(runtime_options{.shards = 2, .pin_threads = false});
  ASSERT_TRUE(rt.start());
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(lfd, 16), 0);
  const std::string path = temp_file();
  int ffd = ::open(path.c_str(), O_RDWR);
  std::atomic<int> cancelled{0};
  std::atomic<int> flushed{0};
  rt.block_on(0, start_background(lfd, ffd, &cancelled, &flushed));
  rt.block_on(1, start_background(lfd, ffd, &cancelled, &flushed));
  EXPECT_EQ(rt.live_tasks(), 4);
  const int64_t t0 = monotonic_ns();
  rt.stop();
  EXPECT_LT(monotonic_ns() - t0, 5'000'000'000);
  EXPECT_EQ(cancelled.load(), 2);
  EXPECT_EQ(flushed.load(), 2);
  EXPECT_EQ(rt.live_tasks(), 0);
  char buf[8] = {};
  EXPECT_EQ(::pread(ffd, buf, 5, 0), 5);
  EXPECT_STREQ(buf, "final");
  ::close(lfd);
  ::close(ffd);
  ::unlink(path.c_str());
}

TEST(RuntimeStart, ReportsAnUnusableRingAsAnError) {
  // More SQ entries than io_uring allows (32768): set-up fails with EINVAL,
  // and start() reports it instead of crashing.
  runtime rt(runtime_options{.shards = 1, .ring_entries = 1u << 20, .pin_threads = false});
  status st = rt.start();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().sys_errno(), EINVAL);
  EXPECT_EQ(st.error().op(), "io_uring_queue_init");
}

}  // namespace
}  // namespace ringlog

namespace ringlog {
namespace {

task<int> cores_allowed() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) co_return -1;
  co_return CPU_COUNT(&set);
}

TEST(RuntimePinning, PinnedShardsRunOnOneCoreEach) {
  runtime pinned(runtime_options{.shards = 2, .pin_threads = true});
  ASSERT_TRUE(pinned.start());
  EXPECT_EQ(pinned.block_on(0, cores_allowed()), 1);
  EXPECT_EQ(pinned.block_on(1, cores_allowed()), 1);
  pinned.stop();
  cpu_set_t process;
  CPU_ZERO(&process);
  ASSERT_EQ(::sched_getaffinity(0, sizeof process, &process), 0);
  runtime free_threads(runtime_options{.shards = 1});
  ASSERT_TRUE(free_threads.start());
  EXPECT_EQ(free_threads.block_on(0, cores_allowed()), CPU_COUNT(&process)) << "unpinned by default";
  free_threads.stop();
}

}  // namespace
}  // namespace ringlog
