// A partition's name and its directory name in a log dir: `<topic>-<partition>`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringlog::storage {

struct topic_partition {
  std::string topic;
  int32_t partition = 0;

  std::string dir_name() const { return topic + "-" + std::to_string(partition); }
  // Splits `<topic>-<partition>` at the last '-'; nullopt for anything else
  // (a `-delete` directory, a stray file).
  static std::optional<topic_partition> from_dir_name(std::string_view name);

  bool operator==(const topic_partition&) const = default;
};

// XXH64 of the topic and partition: which shard owns the partition
// (hash % shards) and the key of per-shard maps.
uint64_t hash_of(const topic_partition& tp) noexcept;

struct topic_partition_hash {
  size_t operator()(const topic_partition& tp) const noexcept { return hash_of(tp); }
};

}  // namespace ringlog::storage
