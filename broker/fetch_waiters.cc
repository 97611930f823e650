#include "broker/fetch_waiters.h"

#include <algorithm>

#include "engine/runtime/invoke.h"
#include "engine/runtime/spawn.h"

namespace ringlog::broker {
namespace {

task<void> notify_on_home(std::shared_ptr<fetch_wakeup> w) {
  co_await switch_to(w->shard);
  w->fired = true;
  w->ready.notify_all();
}

}  // namespace

void fetch_waiters::add(const storage::topic_partition& tp, std::shared_ptr<fetch_wakeup> w) {
  _waiters[tp].push_back(std::move(w));
}

void fetch_waiters::remove(const storage::topic_partition& tp, const fetch_wakeup* w) {
  auto it = _waiters.find(tp);
  if (it == _waiters.end()) return;
  auto& list = it->second;
  list.erase(std::remove_if(list.begin(), list.end(), [w](const auto& p) { return p.get() == w; }),
             list.end());
  if (list.empty()) _waiters.erase(it);
}

void fetch_waiters::wake(const storage::topic_partition& tp) {
  auto it = _waiters.find(tp);
  if (it == _waiters.end()) return;
  std::vector<std::shared_ptr<fetch_wakeup>> list = std::move(it->second);
  _waiters.erase(it);
  for (auto& w : list) fire(std::move(w));
}

void fetch_waiters::fire(std::shared_ptr<fetch_wakeup> w) {
  if (w->shard == shard::current()->id()) {
    w->fired = true;
    w->ready.notify_all();
    return;
  }
  spawn(notify_on_home(std::move(w)), "fetch wakeup");
}

}  // namespace ringlog::broker
