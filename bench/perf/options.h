// ringlog-perf's command line: the subcommands, their flags with defaults,
// the --help texts, and a parser that never exits or prints (main does), so
// the tests can feed it good and bad argument lists.
//
// Flags take `--name value` or `--name=value`. Every number is checked in
// full (no trailing characters) and against its range; an unknown flag, a bad
// value or a missing required flag gives an error message, and main exits 2.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "engine/record/batch_header.h"

namespace ringlog::perf {

enum class command { none, produce, consume, e2e };

// Which partition a keyless record goes to (partitioner.h).
//  sticky: one partition until its batch is closed (full at --batch-bytes, or
//    sent), then the next partition in order: Kafka's default for keyless
//    records since 2.4 (KIP-480).
//  round_robin: record i to partition i % partitions.
enum class partitioner_kind { sticky, round_robin };

struct common_options {
  std::string bootstrap_host;
  uint16_t bootstrap_port = 0;
  std::string topic;
  // Exactly one of records and duration_s bounds a run.
  uint64_t records = 0;
  double duration_s = 0;
  unsigned connections = 1;
  unsigned shards = 1;
  bool json = false;
  std::string client_id = "ringlog-perf";
  // Produce: the request's timeout and the wait for each response. Consume
  // with --records: give up after this long without a record.
  int32_t timeout_ms = 30000;
};

struct produce_options {
  int32_t partitions = 0;  // 0: use the topic as it is; > 0: create it if missing
  uint32_t record_size = 1024;
  uint64_t rate = 0;  // records/s over all connections; 0 = unthrottled
  int16_t acks = -1;
  uint32_t batch_bytes = 64 * 1024;
  uint32_t linger_ms = 0;
  record::compression codec = record::compression::none;
  unsigned in_flight = 5;
  uint32_t request_max_bytes = 1 << 20;  // Kafka's max.request.size default
  partitioner_kind partitioner = partitioner_kind::sticky;
};

struct consume_options {
  bool from_beginning = false;
  int32_t fetch_max_bytes = 50 << 20;
  int32_t partition_max_bytes = 1 << 20;
  int32_t max_wait_ms = 500;
  bool verify = false;
};

struct e2e_options {
  // Records enqueued in the first warmup_s seconds are consumed but not
  // measured. Negative: the default, 10% of --duration (0 with --records).
  double warmup_s = -1;
};

struct perf_options {
  command cmd = command::none;
  bool help = false;  // print the help of cmd (or the tool's when none) and exit 0
  common_options common;
  produce_options produce;
  consume_options consume;
  e2e_options e2e;
};

struct parse_result {
  perf_options options;
  std::string error;  // empty on success
  bool ok() const noexcept { return error.empty(); }
};

// e2e's warm-up in seconds, the default applied.
double warmup_seconds(const perf_options& o);

// `args` excludes the program name: {"produce", "--topic", "t", ...}.
parse_result parse_args(std::span<const std::string_view> args);

std::string_view help_text(command cmd);
std::string_view compression_name(record::compression c);
std::string_view partitioner_name(partitioner_kind p);

}  // namespace ringlog::perf
