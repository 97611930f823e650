// event: notify wakes every waiter once, deadlines time out, cancellation
// ends a wait, and a notify racing a fired timer resumes the waiter once.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <vector>

#include "base/clock.h"
#include "engine/runtime/cancel.h"
#include "engine/runtime/event.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/task.h"
#include "engine/runtime/timer.h"
#include "engine/runtime/when_all.h"

namespace ringlog {
namespace {

using namespace std::chrono_literals;

class EventTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rt = std::make_unique<runtime>(runtime_options{.shards = 1, .ring_entries = 64});
    ASSERT_TRUE(rt->start());
  }
  void TearDown() override { rt->stop(); }
  std::unique_ptr<runtime> rt;
};

task<wake_reason> wait_once(event& ev, std::vector<int>& order, int id) {
  auto why = co_await ev.wait();
  order.push_back(id);
  co_return why;
}

task<void> notify_later(event& ev) {
  co_await sleep_for(1ms);
  ev.notify_all();
}

TEST_F(EventTest, NotifyWakesEveryWaiterOnce) {
  auto run = [](event* ev) -> task<std::vector<int>> {
    std::vector<int> order;
    std::vector<task<wake_reason>> waits;
    for (int i = 0; i < 3; ++i) waits.push_back(wait_once(*ev, order, i));
    std::vector<task<void>> kick;
    kick.push_back(notify_later(*ev));
    auto waiting = when_all(std::move(waits));
    auto kicking = when_all(std::move(kick));
    std::vector<task<void>> both;
    both.push_back([](task<std::vector<wake_reason>> w) -> task<void> {
      auto reasons = co_await std::move(w);
      for (auto r : reasons) EXPECT_EQ(r, wake_reason::notified);
    }(std::move(waiting)));
    both.push_back(std::move(kicking));
    co_await when_all(std::move(both));
    EXPECT_FALSE(ev->has_waiters());
    co_return order;
  };
  event ev;
  auto order = rt->block_on(0, run(&ev));
  EXPECT_EQ(order.size(), 3u);
}

TEST_F(EventTest, WaitUntilTimesOutWithoutNotify) {
  auto run = [](event* ev) -> task<wake_reason> {
    const int64_t start = monotonic_ns();
    auto why = co_await ev->wait_until(start + 5'000'000);
    EXPECT_GE(monotonic_ns() - start, 5'000'000);
    EXPECT_FALSE(ev->has_waiters());
    co_return why;
  };
  event ev;
  EXPECT_EQ(rt->block_on(0, run(&ev)), wake_reason::timed_out);
}

TEST_F(EventTest, NotifyBeforeDeadlineWakesEarly) {
  auto run = [](event* ev) -> task<wake_reason> {
    spawn(notify_later(*ev), "notify");
    const int64_t start = monotonic_ns();
    auto why = co_await ev->wait_until(start + 10'000'000'000);
    EXPECT_LT(monotonic_ns() - start, 5'000'000'000);
    co_return why;
  };
  event ev;
  EXPECT_EQ(rt->block_on(0, run(&ev)), wake_reason::notified);
}

TEST_F(EventTest, CancelEndsTheWait) {
  auto cancel_later = [](cancel_source* src) -> task<void> {
    co_await sleep_for(1ms);
    src->cancel();
  };
  auto run = [](event* ev, cancel_source* src, task<void> canceller) -> task<wake_reason> {
    spawn(std::move(canceller), "cancel");
    auto why = co_await ev->wait(src);
    EXPECT_FALSE(ev->has_waiters());
    co_return why;
  };
  event ev;
  cancel_source src;
  EXPECT_EQ(rt->block_on(0, run(&ev, &src, cancel_later(&src))), wake_reason::cancelled);
  // An already cancelled source ends a wait at once.
  auto again = [](event* e, cancel_source* s) -> task<wake_reason> { co_return co_await e->wait(s); };
  EXPECT_EQ(rt->block_on(0, again(&ev, &src)), wake_reason::cancelled);
}

// The timer fires and schedules the waiter; a notify in the same turn, before
// the waiter runs, must not resume it a second time.
TEST_F(EventTest, NotifyAfterTimerFiredResumesOnce) {
  auto run = [](event* ev) -> task<int> {
    int resumed = 0;
    auto waiter = [](event* e, int* count) -> task<void> {
      (void)co_await e->wait_until(monotonic_ns());
      ++*count;
    };
    spawn(waiter(ev, &resumed), "waiter");
    // Let the timer fire (next turn), then notify while the waiter may be queued.
    co_await sleep_for(0ms);
    ev->notify_all();
    co_await sleep_for(2ms);
    co_return resumed;
  };
  event ev;
  EXPECT_EQ(rt->block_on(0, run(&ev)), 1);
}

}  // namespace
}  // namespace ringlog
