// group_records: the records a group coordinator keeps in __consumer_offsets,
// in Kafka's own key/value formats (so Kafka's tools read them and we read
// Kafka's):
//   key   int16 version 0/1: OffsetCommitKey   group, topic, partition
//         int16 version 2:   GroupMetadataKey  group
//   value OffsetCommitValue  v0-v3 read; we write v3 (v1 when an expire
//                            timestamp is set, as Kafka does)
//         GroupMetadataValue v0-v3 read; we write v3 (v4, flexible, skipped)
//   a null value is a tombstone (the offset, or the whole group, is gone).
//
// Pure functions, any thread. Decoders are bounded: a short or malformed
// buffer gives std::nullopt, never a read past its end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "broker/group/offsets.h"

namespace ringlog::broker {

struct offset_key {
  std::string group;
  std::string topic;
  int32_t partition = 0;
};

// What GroupMetadataValue holds: a group as of its last completed rebalance.
struct group_snapshot {
  std::string protocol_type;
  int32_t generation = 0;
  std::optional<std::string> protocol;
  std::optional<std::string> leader;
  int64_t current_state_timestamp_ms = -1;
  struct member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    int32_t rebalance_timeout_ms = -1;
    int32_t session_timeout_ms = 0;
    std::vector<std::byte> subscription;
    std::vector<std::byte> assignment;
  };
  std::vector<member> members;
};

struct parsed_key {
  enum class kind { offset, group, other } type = kind::other;
  offset_key offset;  // kind::offset
  std::string group;  // kind::group (and kind::offset)
};

std::vector<std::byte> encode_offset_key(const offset_key& k);
std::vector<std::byte> encode_offset_value(const committed_offset& c);
std::vector<std::byte> encode_group_key(const std::string& group);
std::vector<std::byte> encode_group_value(const group_snapshot& g);

std::optional<parsed_key> decode_key(std::span<const std::byte> b);
std::optional<committed_offset> decode_offset_value(std::span<const std::byte> b);
std::optional<group_snapshot> decode_group_value(std::span<const std::byte> b);

}  // namespace ringlog::broker
