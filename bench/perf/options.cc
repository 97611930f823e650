#include "bench/perf/options.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <type_traits>

namespace ringlog::perf {
namespace {

constexpr std::string_view k_tool_help =
    R"(ringlog-perf: a Kafka-protocol load generator (produce and fetch throughput, latency)

Usage: ringlog-perf <command> [flags]

Commands:
  produce   send records at a target rate or unthrottled; produce latency percentiles
  consume   fetch a topic and count records and bytes; fetch round-trip percentiles
  e2e       produce at a fixed rate and consume at once; end-to-end latency percentiles

Run 'ringlog-perf <command> --help' for the flags of a command.
Progress goes to stderr every second, the summary to stdout (--json: one JSON object).
Exit status: 0 ok, 1 the run failed (connection lost, error codes in responses),
2 bad arguments.
)";

constexpr std::string_view k_produce_help =
    R"(Usage: ringlog-perf produce --bootstrap HOST:PORT --topic T (--records N | --duration S) [flags]

Builds RecordBatch v2 batches per partition, records spread over the partitions
by --partitioner, and sends them with Produce v7+ (version negotiated by
ApiVersions).
Latency of a record: from its enqueue time (its scheduled time under --rate)
to the response acknowledging its batch (with --acks 0: to the send).

  --bootstrap HOST:PORT    broker to connect to (required)
  --topic T                topic (required)
  --partitions N           create the topic with N partitions if it is missing
                           (default 0: the topic must exist)
  --records N              records to send in total
  --duration S             or: send for S seconds (fractions allowed)
  --record-size BYTES      value size of each record (default 1024; keys are null)
  --rate R                 records/s over all connections; 0 = unthrottled (default 0)
  --acks -1|0|1|all        (default -1)
  --batch-bytes B          close a batch at about B bytes, uncompressed (default 65536)
  --linger-ms L            wait up to L ms for a batch to fill (default 0)
  --partitioner P          sticky|round-robin (default sticky). sticky: records go
                           to one partition until its batch is full or sent, then
                           to the next (Kafka's default for keyless records,
                           KIP-480); round-robin: record i to partition i % N
  --compression C          none|gzip|snappy|lz4|zstd (default none)
  --connections C          connections, spread over the shards (default 1)
  --in-flight K            requests in flight per connection (default 5)
  --request-max-bytes B    batches per request up to B bytes, at least one (default 1048576)
  --shards S               io_uring shards (threads) (default 1)
  --timeout-ms T           Produce timeout and response wait (default 30000)
  --client-id ID           (default ringlog-perf)
  --json                   print the summary as one JSON object
  --help                   this text
)";

constexpr std::string_view k_e2e_help =
    R"(Usage: ringlog-perf e2e --bootstrap HOST:PORT --topic T --rate R (--duration S | --records N) [flags]

End-to-end latency, the OpenMessaging Benchmark way: producers send at a fixed
rate with each record's enqueue time (CLOCK_MONOTONIC ns) in the first 8 bytes
of its value; consumers in the same process fetch from the latest offsets at
the start, decode every record and measure receipt minus that time. Records
enqueued during the warm-up are consumed but not measured. The run ends when
every acknowledged record has been consumed (or --timeout-ms after the
producers finish, which counts as an error).

  --bootstrap HOST:PORT    broker to connect to (required)
  --topic T                topic (required)
  --partitions N           create the topic with N partitions if it is missing
  --rate R                 records/s over all producer connections (required, > 0)
  --duration S             produce for S seconds
  --records N              or: produce N records
  --warmup S               seconds not measured (default 10% of --duration, 0 with --records)
  --record-size BYTES      value size, at least 8 (default 1024)
  --acks -1|0|1|all        (default -1)
  --batch-bytes B          (default 65536)
  --linger-ms L            (default 0)
  --partitioner P          sticky|round-robin (default sticky; see produce --help)
  --compression C          none|gzip|snappy|lz4|zstd (default none)
  --in-flight K            requests in flight per producer connection (default 5)
  --request-max-bytes B    (default 1048576)
  --connections C          producer connections; consumers: min(C, partitions) (default 1)
  --shards S               io_uring shards (threads) (default 1)
  --fetch-max-bytes B      Fetch max_bytes (default 52428800)
  --partition-max-bytes B  Fetch partition_max_bytes (default 1048576)
  --max-wait-ms W          Fetch max_wait_ms (default 500)
  --verify                 check every batch's CRC-32C too
  --timeout-ms T           Produce timeout; the wait for the last records (default 30000)
  --client-id ID           (default ringlog-perf)
  --json                   print the summary as one JSON object
  --help                   this text
)";

constexpr std::string_view k_consume_help =
    R"(Usage: ringlog-perf consume --bootstrap HOST:PORT --topic T (--records N | --duration S) [flags]

Fetches every partition of the topic (Fetch v11+, start offsets by ListOffsets)
and counts records and bytes from the batch headers only (recordsCount,
batchLength); bytes are whole batches as stored. Latency: each Fetch's round trip.

  --bootstrap HOST:PORT    broker to connect to (required)
  --topic T                topic (required)
  --records N              stop after N records
  --duration S             or: fetch for S seconds
  --from-beginning         start at the earliest offsets (default: the latest)
  --fetch-max-bytes B      Fetch max_bytes (default 52428800)
  --partition-max-bytes B  Fetch partition_max_bytes (default 1048576)
  --max-wait-ms W          Fetch max_wait_ms (default 500)
  --verify                 check every batch's header and CRC-32C
  --connections C          connections (partitions are split over them) (default 1)
  --shards S               io_uring shards (threads) (default 1)
  --timeout-ms T           with --records: fail after T ms without a record (default 30000)
  --client-id ID           (default ringlog-perf)
  --json                   print the summary as one JSON object
  --help                   this text
)";

template <class T>
bool parse_int(std::string_view text, T& out, T min, T max) {
  if (text.empty()) return false;
  long long v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  if (v < static_cast<long long>(min) || v > static_cast<long long>(max)) return false;
  out = static_cast<T>(v);
  return true;
}

template <>
bool parse_int<uint64_t>(std::string_view text, uint64_t& out, uint64_t min, uint64_t max) {
  if (text.empty() || text[0] == '-') return false;
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  if (v < min || v > max) return false;
  out = v;
  return true;
}

bool parse_double(std::string_view text, double& out) {
  if (text.empty()) return false;
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) return false;
  out = v;
  return true;
}

bool parse_host_port(std::string_view text, std::string& host, uint16_t& port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view h = text.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty()) return false;
  if (!parse_int<uint16_t>(text.substr(colon + 1), port, 1, 65535)) return false;
  host = std::string(h);
  return true;
}

std::optional<record::compression> parse_codec(std::string_view s) {
  if (s == "none") return record::compression::none;
  if (s == "gzip") return record::compression::gzip;
  if (s == "snappy") return record::compression::snappy;
  if (s == "lz4") return record::compression::lz4;
  if (s == "zstd") return record::compression::zstd;
  return std::nullopt;
}

std::string bad_value(std::string_view flag, std::string_view value, std::string_view want) {
  return "bad value '" + std::string(value) + "' for " + std::string(flag) + " (want " +
         std::string(want) + ")";
}

constexpr std::string_view k_common_valued[] = {"--bootstrap", "--topic",       "--records",
                                                "--duration",  "--connections", "--shards",
                                                "--client-id", "--timeout-ms"};
constexpr std::string_view k_produce_valued[] = {
    "--partitions",        "--record-size", "--rate",        "--acks",
    "--batch-bytes",       "--linger-ms",   "--compression", "--in-flight",
    "--request-max-bytes", "--partitioner"};
constexpr std::string_view k_consume_valued[] = {"--fetch-max-bytes", "--partition-max-bytes",
                                                 "--max-wait-ms"};

// Whether `flag` is a flag with a value for this command.
bool takes_value(std::string_view flag, bool producing, bool consuming, bool e2e) {
  const auto in = [flag](const auto& list) {
    for (const std::string_view f : list) {
      if (f == flag) return true;
    }
    return false;
  };
  return in(k_common_valued) || (producing && in(k_produce_valued)) ||
         (consuming && in(k_consume_valued)) || (e2e && flag == "--warmup");
}

}  // namespace

std::string_view compression_name(record::compression c) {
  switch (c) {
    case record::compression::none:
      return "none";
    case record::compression::gzip:
      return "gzip";
    case record::compression::snappy:
      return "snappy";
    case record::compression::lz4:
      return "lz4";
    case record::compression::zstd:
      return "zstd";
  }
  return "?";
}

std::string_view partitioner_name(partitioner_kind p) {
  return p == partitioner_kind::sticky ? "sticky" : "round-robin";
}

std::string_view help_text(command cmd) {
  switch (cmd) {
    case command::produce:
      return k_produce_help;
    case command::consume:
      return k_consume_help;
    case command::e2e:
      return k_e2e_help;
    case command::none:
      break;
  }
  return k_tool_help;
}

parse_result parse_args(std::span<const std::string_view> args) {
  parse_result out;
  perf_options& o = out.options;
  if (args.empty()) {
    out.error = "missing command (produce, consume or e2e)";
    return out;
  }
  const std::string_view cmd = args[0];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    o.help = true;
    return out;
  }
  if (cmd == "produce") {
    o.cmd = command::produce;
  } else if (cmd == "consume") {
    o.cmd = command::consume;
  } else if (cmd == "e2e") {
    o.cmd = command::e2e;
  } else {
    out.error = "unknown command '" + std::string(cmd) + "' (want produce, consume or e2e)";
    return out;
  }
  const bool e2e = o.cmd == command::e2e;
  const bool producing = o.cmd == command::produce || e2e;
  const bool consuming = o.cmd == command::consume || e2e;
  bool have_bootstrap = false, have_records = false, have_duration = false;

  for (size_t i = 1; i < args.size(); ++i) {
    std::string_view flag = args[i];
    std::optional<std::string_view> inline_value;
    if (flag == "--help" || flag == "-h") {
      o.help = true;
      return out;
    }
    if (!flag.starts_with("--")) {
      out.error = "unexpected argument '" + std::string(flag) + "'";
      return out;
    }
    if (const size_t eq = flag.find('='); eq != std::string_view::npos) {
      inline_value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    // Boolean flags take no value.
    const auto boolean = [&](bool& target) {
      if (inline_value) {
        out.error = std::string(flag) + " takes no value";
        return;
      }
      target = true;
    };
    const bool is_json = flag == "--json";
    const bool is_from_beginning = o.cmd == command::consume && flag == "--from-beginning";
    const bool is_verify = consuming && flag == "--verify";
    if (is_json || is_from_beginning || is_verify) {
      boolean(is_json ? o.common.json : is_verify ? o.consume.verify : o.consume.from_beginning);
      if (!out.ok()) return out;
      continue;
    }
    if (!takes_value(flag, producing, consuming, e2e)) {
      out.error = "unknown flag " + std::string(flag) + " for " + std::string(cmd);
      return out;
    }
    std::string_view value;
    if (inline_value) {
      value = *inline_value;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      out.error = "missing value for " + std::string(flag);
      return out;
    }
    constexpr int32_t i32max = std::numeric_limits<int32_t>::max();
    constexpr uint64_t u64max = std::numeric_limits<uint64_t>::max();
    bool good = true;
    std::string_view want = "a number";
    if (flag == "--bootstrap") {
      good = parse_host_port(value, o.common.bootstrap_host, o.common.bootstrap_port);
      want = "HOST:PORT";
      have_bootstrap = good;
    } else if (flag == "--topic") {
      good = !value.empty() && value.size() <= 249;
      want = "a topic name";
      o.common.topic = std::string(value);
    } else if (flag == "--records") {
      good = parse_int<uint64_t>(value, o.common.records, 1, u64max);
      want = "an integer >= 1";
      have_records = good;
    } else if (flag == "--duration") {
      good = parse_double(value, o.common.duration_s) && o.common.duration_s > 0;
      want = "seconds > 0";
      have_duration = good;
    } else if (flag == "--connections") {
      good = parse_int<unsigned>(value, o.common.connections, 1, 1024);
      want = "an integer in [1, 1024]";
    } else if (flag == "--shards") {
      good = parse_int<unsigned>(value, o.common.shards, 1, 64);
      want = "an integer in [1, 64]";
    } else if (flag == "--client-id") {
      o.common.client_id = std::string(value);
    } else if (producing && flag == "--partitions") {
      good = parse_int<int32_t>(value, o.produce.partitions, 1, 1'000'000);
      want = "an integer in [1, 1000000]";
    } else if (producing && flag == "--record-size") {
      good = parse_int<uint32_t>(value, o.produce.record_size, 0, 64u << 20);
      want = "bytes in [0, 67108864]";
    } else if (producing && flag == "--rate") {
      good = parse_int<uint64_t>(value, o.produce.rate, 0, 1'000'000'000);
      want = "records/s in [0, 1e9]";
    } else if (producing && flag == "--acks") {
      if (value == "all") value = "-1";
      good = parse_int<int16_t>(value, o.produce.acks, -1, 1);
      want = "-1, 0, 1 or all";
    } else if (producing && flag == "--batch-bytes") {
      good = parse_int<uint32_t>(value, o.produce.batch_bytes, 128, 256u << 20);
      want = "bytes in [128, 268435456]";
    } else if (producing && flag == "--linger-ms") {
      good = parse_int<uint32_t>(value, o.produce.linger_ms, 0, 3'600'000);
      want = "ms in [0, 3600000]";
    } else if (producing && flag == "--compression") {
      const auto c = parse_codec(value);
      good = c.has_value();
      if (good) o.produce.codec = *c;
      want = "none, gzip, snappy, lz4 or zstd";
    } else if (producing && flag == "--partitioner") {
      good = value == "sticky" || value == "round-robin";
      if (good) {
        o.produce.partitioner =
            value == "sticky" ? partitioner_kind::sticky : partitioner_kind::round_robin;
      }
      want = "sticky or round-robin";
    } else if (producing && flag == "--in-flight") {
      good = parse_int<unsigned>(value, o.produce.in_flight, 1, 1024);
      want = "an integer in [1, 1024]";
    } else if (producing && flag == "--request-max-bytes") {
      good = parse_int<uint32_t>(value, o.produce.request_max_bytes, 1024, 1u << 30);
      want = "bytes in [1024, 1073741824]";
    } else if (flag == "--timeout-ms") {
      good = parse_int<int32_t>(value, o.common.timeout_ms, 1, i32max);
      want = "ms >= 1";
    } else if (e2e && flag == "--warmup") {
      good = parse_double(value, o.e2e.warmup_s) && o.e2e.warmup_s >= 0;
      want = "seconds >= 0";
    } else if (consuming && flag == "--fetch-max-bytes") {
      good = parse_int<int32_t>(value, o.consume.fetch_max_bytes, 1, i32max);
      want = "bytes >= 1";
    } else if (consuming && flag == "--partition-max-bytes") {
      good = parse_int<int32_t>(value, o.consume.partition_max_bytes, 1, i32max);
      want = "bytes >= 1";
    } else if (consuming && flag == "--max-wait-ms") {
      good = parse_int<int32_t>(value, o.consume.max_wait_ms, 0, i32max);
      want = "ms >= 0";
    } else {
      out.error = "unknown flag " + std::string(flag) + " for " + std::string(cmd);
      return out;
    }
    if (!good) {
      out.error = bad_value(flag, value, want);
      return out;
    }
  }

  if (!have_bootstrap) {
    out.error = "missing required --bootstrap HOST:PORT";
  } else if (o.common.topic.empty()) {
    out.error = "missing required --topic";
  } else if (have_records == have_duration) {
    out.error = have_records ? "give --records or --duration, not both"
                             : "missing required --records N or --duration S";
  } else if (e2e && o.produce.rate == 0) {
    out.error = "e2e needs a fixed --rate R > 0";
  } else if (e2e && o.produce.record_size < 8) {
    out.error = "e2e needs --record-size of at least 8 (the timestamp)";
  } else if (e2e && have_duration && o.e2e.warmup_s >= o.common.duration_s) {
    out.error = "--warmup must be shorter than --duration";
  }
  return out;
}

double warmup_seconds(const perf_options& o) {
  if (o.e2e.warmup_s >= 0) return o.e2e.warmup_s;
  return o.common.records != 0 ? 0.0 : o.common.duration_s / 10;
}

}  // namespace ringlog::perf
