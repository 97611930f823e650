// Decoder of the consumer protocol's member assignment bytes (Kafka's
// ConsumerProtocolAssignment, versions 0-3, never flexible): int16 version,
// [topic string, [partition int32]], user data bytes (nullable). DescribeGroups
// returns these bytes opaque; a group of protocol type "consumer" fills them.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ringlog::admin {

struct topic_assignment {
  std::string topic;
  std::vector<int32_t> partitions;
  bool operator==(const topic_assignment&) const = default;
};

struct consumer_assignment {
  int16_t version = 0;
  std::vector<topic_assignment> topics;
  bool operator==(const consumer_assignment&) const = default;
};

// Empty bytes (a member not yet assigned) decode to no topics. nullopt when
// the bytes are truncated, a length is negative, or the version is negative.
// Trailing bytes after the user data are allowed (newer versions may add fields).
std::optional<consumer_assignment> decode_consumer_assignment(std::span<const std::byte> bytes);

// Encodes (version 0, no user data): for tests and symmetry.
std::vector<std::byte> encode_consumer_assignment(const consumer_assignment& a);

}  // namespace ringlog::admin
