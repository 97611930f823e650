// fetch_waiters: how a parked Fetch learns that a partition it reads has new
// data, across shards.
//
// A long-polling Fetch (max_wait_ms > 0, fewer than min_bytes available) lives
// on its connection's shard; the partitions it reads live on their owning
// shards. It creates one fetch_wakeup on its shard and registers it with each
// partition it waits on, on that partition's shard. When an append makes new
// data visible there, the owning shard wakes every registered wakeup: it
// hops to the wakeup's shard and notifies its event. Registration checks the
// partition's end first, so data appended between the Fetch's read and its
// registration wakes it at once instead of being missed.
//
// Thread safety: one fetch_waiters per shard, touched only by that shard.
// fetch_wakeup is shared (shared_ptr) between its shard and the owning
// shards, but its fields are only touched on its own shard.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/log/topic_partition.h"
#include "engine/runtime/event.h"
#include "engine/runtime/task.h"

namespace ringlog::broker {

struct fetch_wakeup {
  explicit fetch_wakeup(unsigned shard_id) : shard(shard_id) {}
  const unsigned shard;
  bool fired = false;  // only read and written on `shard`
  event ready;
};

class fetch_waiters {
 public:
  // Owning shard: `w` is woken at the next wake(tp).
  void add(const storage::topic_partition& tp, std::shared_ptr<fetch_wakeup> w);
  // Owning shard: forgets `w` (the Fetch ended).
  void remove(const storage::topic_partition& tp, const fetch_wakeup* w);
  // Owning shard: new data is visible in tp; wakes and forgets its waiters.
  void wake(const storage::topic_partition& tp);
  // Wakes `w` on its own shard (hops there when needed).
  static void fire(std::shared_ptr<fetch_wakeup> w);

  size_t size() const noexcept { return _waiters.size(); }

 private:
  std::unordered_map<storage::topic_partition, std::vector<std::shared_ptr<fetch_wakeup>>,
                     storage::topic_partition_hash>
      _waiters;
};

}  // namespace ringlog::broker
