// offsets: a group's committed offsets, per topic and partition, with the
// commit's metadata string, leader epoch and timestamps (Kafka's
// OffsetAndMetadata).
//
// Thread safety: part of a group, touched only on the group's shard.
// Invariant: one entry per (topic, partition); a later commit replaces it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ringlog::broker {

// offsets.retention.minutes, offsets.retention.check.interval.ms and
// offset.metadata.max.bytes are broker config keys (group_limits, group.h).

struct committed_offset {
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::string metadata;
  int64_t commit_timestamp_ms = -1;
  int64_t expire_timestamp_ms = -1;  // -1: offsets.retention.minutes decides
};

class offset_store {
 public:
  void commit(const std::string& topic, int32_t partition, committed_offset c) {
    _topics[topic][partition] = std::move(c);
  }
  const committed_offset* find(const std::string& topic, int32_t partition) const noexcept {
    auto t = _topics.find(topic);
    if (t == _topics.end()) return nullptr;
    auto p = t->second.find(partition);
    return p == t->second.end() ? nullptr : &p->second;
  }
  bool erase(const std::string& topic, int32_t partition) {
    auto t = _topics.find(topic);
    if (t == _topics.end()) return false;
    const bool erased = t->second.erase(partition) > 0;
    if (t->second.empty()) _topics.erase(t);
    return erased;
  }
  void clear() noexcept { _topics.clear(); }
  bool empty() const noexcept { return _topics.empty(); }
  const std::map<std::string, std::map<int32_t, committed_offset>>& topics() const noexcept {
    return _topics;
  }

 private:
  std::map<std::string, std::map<int32_t, committed_offset>> _topics;
};

}  // namespace ringlog::broker
