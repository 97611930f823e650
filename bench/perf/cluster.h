// The start-up conversation of ringlog-perf with a broker: ApiVersions (which
// versions to use), Metadata (partition count), CreateTopics, ListOffsets.
// Runs once, on one shard, before the load starts. Errors name the API and the
// Kafka error.
//
// Single-broker assumption: every request goes to the bootstrap broker, which
// is fine for one broker (ringlog today); a cluster whose leaders are spread
// over several brokers needs routing by leader, not done yet.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "bench/perf/kafka_connection.h"
#include "bench/perf/options.h"
#include "engine/runtime/task.h"

namespace ringlog::perf {

// The version of each API we use: the highest both sides speak.
struct api_versions_in_use {
  int16_t produce = -1;
  int16_t fetch = -1;
  int16_t metadata = -1;
  int16_t list_offsets = -1;
  int16_t create_topics = -1;  // -1: the broker does not offer CreateTopics
};

// The newest version in [ours_min, ours_max] the broker also speaks, or -1.
int16_t pick_version(int16_t ours_min, int16_t ours_max, int16_t theirs_min, int16_t theirs_max);

task<result<api_versions_in_use>> negotiate_versions(kafka_connection& c,
                                                     const std::string& client_id);

// Partition ids of `topic`, sorted; an empty vector when the topic does not exist.
task<result<std::vector<int32_t>>> topic_partitions(kafka_connection& c,
                                                    const api_versions_in_use& v,
                                                    const std::string& topic,
                                                    const std::string& client_id);

// Creates `topic` with `partitions` partitions (replication factor: the
// broker's default) and waits until Metadata shows every partition.
task<status> create_topic(kafka_connection& c, const api_versions_in_use& v,
                          const std::string& topic, int32_t partitions,
                          const std::string& client_id);

// ListOffsets at `timestamp` (-2 earliest, -1 latest) for each partition, in
// the order given.
task<result<std::vector<int64_t>>> list_offsets(kafka_connection& c, const api_versions_in_use& v,
                                                const std::string& topic,
                                                const std::vector<int32_t>& partitions,
                                                int64_t timestamp, const std::string& client_id);

// What a command needs before its load starts.
struct topic_setup {
  api_versions_in_use versions;
  std::vector<int32_t> partitions;  // sorted
  std::vector<int64_t> offsets;     // per partition, when asked for
};

// Kafka's ListOffsets timestamps.
inline constexpr int64_t k_earliest_offset = -2;
inline constexpr int64_t k_latest_offset = -1;
inline constexpr int64_t k_no_offsets = 0;

// Connects to the bootstrap broker, negotiates versions, finds the topic
// (creating it with `create_partitions` partitions when that is > 0 and the
// topic is missing) and, unless offsets_at is k_no_offsets, lists the
// partitions' offsets at that timestamp.
task<result<topic_setup>> prepare_topic(const perf_options* o, int32_t create_partitions,
                                        int64_t offsets_at);

}  // namespace ringlog::perf
