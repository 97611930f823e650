// group_coordinator: the consumer groups of one shard. A group lives on the
// shard that owns its __consumer_offsets partition (Kafka's partitionFor:
// abs(javaStringHashCode(group id)) % offsets.topic.num.partitions), so every
// group API hops there (invoke_on) and runs the group's logic on its one
// thread. A timer loop on the shard ticks the groups (session expiry,
// rebalance deadlines).
//
// Durability: offset commits, each completed rebalance (GroupMetadataValue)
// and deletions (tombstones) are appended to the group's __consumer_offsets
// partition, on this same shard, in Kafka's record formats
// (group_records.h); a commit is answered once its records are fsync'd. At
// start, load() replays every local partition (the latest value per key
// wins, tombstones delete) before the listeners open.
//
// Thread safety: one per shard, touched only by that shard (run, load and
// stop run on it too).
// Invariant: every group in the map has a non-Dead state; a group with no
// members and no offsets may be dropped.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "broker/group/group.h"
#include "engine/runtime/cancel.h"
#include "engine/runtime/event.h"
#include "engine/runtime/task.h"

namespace ringlog::storage {
class log_manager;
class partition_log;
}  // namespace ringlog::storage

namespace ringlog::broker {

inline constexpr std::string_view k_offsets_topic = "__consumer_offsets";

// Java's String.hashCode over the UTF-16 code units of `s` (UTF-8 in; an
// invalid byte counts as U+FFFD, as Java's decoder makes it).
int32_t java_string_hash(std::string_view s) noexcept;
// The __consumer_offsets partition of a group (Kafka's Utils.abs maps INT_MIN to 0).
int32_t offsets_partition_for(std::string_view group_id, int32_t num_partitions) noexcept;

// One record for __consumer_offsets; a null value is a tombstone.
struct group_record {
  std::vector<std::byte> key;
  std::optional<std::vector<std::byte>> value;
};

class group_coordinator {
 public:
  // `time` gives "now" to lookups and to the background tick (tests pass a
  // manual clock); it must outlive the coordinator.
  explicit group_coordinator(const group_limits& limits, const clock& time = system_time());
  ~group_coordinator();
  group_coordinator(const group_coordinator&) = delete;
  group_coordinator& operator=(const group_coordinator&) = delete;

  // The group, with every member whose session or join deadline has passed
  // already removed: expiry happens at the deadline as Kafka's timers do,
  // not at the next tick (a DeleteGroups 3 ms after the last session ended
  // finds the group Empty).
  group* find(const std::string& id);
  group& get_or_create(const std::string& id);
  // Drops a group (DeleteGroups); parked calls get `why` first.
  void erase(const std::string& id, kafka_error why);
  const std::unordered_map<std::string, std::unique_ptr<group>>& groups() const noexcept {
    return _groups;
  }
  bool stopped() const noexcept { return _stopped; }

  void tick(int64_t now_ms);
  // tick() at the coordinator's now: before a request that lists groups.
  void tick_now() { tick(now_ms()); }
  // On the shard: ticks every `interval_ms` until stop().
  task<void> run(int64_t interval_ms);
  // On the shard: every parked call gets COORDINATOR_NOT_AVAILABLE, the loop ends.
  void stop();

  std::string new_member_id(std::string_view client_id);

  // Where the records go: the shard's __consumer_offsets partitions.
  void attach(storage::log_manager* logs, int32_t num_partitions) noexcept {
    _logs = logs;
    _num_partitions = num_partitions;
  }
  // Appends `records` of `group_id` to its partition and waits for the fsync.
  // NONE, or COORDINATOR_NOT_AVAILABLE when the partition is missing or the
  // append fails (clients retry it).
  task<kafka_error> append(std::string group_id, std::vector<group_record> records);
  // Writes the group's metadata if its generation moved since the last write
  // and it is Stable or Empty (a rebalance completed).
  task<kafka_error> store_group(std::string group_id);
  // A member's SyncGroup answer for `generation` waits here until the write
  // of that generation's metadata (started by the leader's SyncGroup) ended,
  // so no member learns an assignment a crash could undo. Its error, or NONE
  // (also when the group is gone or moved on: the caller's answer stands).
  task<kafka_error> wait_stored(std::string group_id, int32_t generation);
  // The same in the background, after a change made outside a handler (a
  // session expiry, a leave).
  void store_later(const group& g);
  // offsets.retention.minutes: tombstones for the expired offsets of every
  // group (and for an Empty group left without offsets, the group itself),
  // written in the background; memory follows once they are durable.
  void expire_offsets(int64_t wall_now_ms, int64_t retention_ms);
  // Replays the shard's __consumer_offsets partitions.
  task<status> load();
  // COORDINATOR_LOAD_IN_PROGRESS until load() is done.
  bool loading() const noexcept { return _loading; }

 private:
  // The group as it is, without expiring anyone (the coordinator's own
  // writes and replay).
  group* lookup(const std::string& id) noexcept;
  task<status> load_partition(storage::partition_log& log);
  task<void> remove_offsets(std::string group_id,
                            std::vector<std::pair<std::string, int32_t>> expired);
  void apply(std::span<const std::byte> key,
             const std::optional<std::span<const std::byte>>& value);

  int64_t now_ms() const noexcept { return _time.monotonic_ns() / 1'000'000; }

  group_limits _limits;
  const clock& _time;
  std::unordered_map<std::string, std::unique_ptr<group>> _groups;
  std::mt19937_64 _random;
  cancel_source _stop;
  event _stored;  // a group metadata write ended
  bool _stopped = false;
  bool _loading = false;
  storage::log_manager* _logs = nullptr;
  int32_t _num_partitions = 0;
};

}  // namespace ringlog::broker
