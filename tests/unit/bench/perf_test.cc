// ringlog-perf's testable parts: the latency histogram (accuracy against exact
// percentiles, merge, extremes), the argument parser (good and bad input) and
// the producer's partition choice (sticky and round-robin).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/perf/histogram.h"
#include "bench/perf/options.h"
#include "bench/perf/partitioner.h"
#include "bench/perf/stats.h"
#include "engine/record/batch_builder.h"

namespace ringlog::perf {
namespace {

uint64_t seed_from_env() {
  if (const char* s = std::getenv("RINGLOG_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// The exact percentile as the histogram defines it: the value of rank
// ceil(p% of n) in sorted order.
uint64_t exact_percentile(std::vector<uint64_t> sorted, double p) {
  const auto n = static_cast<double>(sorted.size());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * n));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void expect_within_1pct(const latency_histogram& h, std::vector<uint64_t> values,
                        const char* what) {
  std::sort(values.begin(), values.end());
  for (const double p : {0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    const uint64_t exact = exact_percentile(values, p);
    const uint64_t got = h.percentile(p);
    const double err = std::abs(static_cast<double>(got) - static_cast<double>(exact));
    EXPECT_LE(err, 0.01 * static_cast<double>(exact))
        << what << ": p" << p << " expected about " << exact << ", got " << got;
  }
}

TEST(PerfHistogram, BucketsCoverEveryValueAndStayNarrow) {
  std::mt19937_64 rng(7);
  std::vector<uint64_t> probes = {0,
                                  1,
                                  255,
                                  256,
                                  257,
                                  511,
                                  512,
                                  1000,
                                  123456789,
                                  UINT64_MAX,
                                  UINT64_MAX - 1,
                                  uint64_t{1} << 63};
  for (int i = 0; i < 10000; ++i) probes.push_back(rng() >> (rng() % 64));
  for (const uint64_t v : probes) {
    const size_t b = latency_histogram::bucket_of(v);
    ASSERT_LT(b, latency_histogram::k_buckets) << v;
    EXPECT_LE(latency_histogram::bucket_low(b), v) << v;
    EXPECT_GE(latency_histogram::bucket_high(b), v) << v;
    const uint64_t width = latency_histogram::bucket_high(b) - latency_histogram::bucket_low(b);
    EXPECT_LE(static_cast<double>(width), static_cast<double>(v) / 128.0 + 1e-9) << v;
  }
  // Adjacent buckets tile the range without gaps.
  for (size_t b = 0; b + 1 < latency_histogram::k_buckets; ++b) {
    ASSERT_EQ(latency_histogram::bucket_high(b) + 1, latency_histogram::bucket_low(b + 1)) << b;
  }
  EXPECT_EQ(latency_histogram::bucket_high(latency_histogram::k_buckets - 1), UINT64_MAX);
}

TEST(PerfHistogram, PercentilesWithinOnePercentOnUniformValues) {
  latency_histogram h;
  std::vector<uint64_t> values;
  for (uint64_t v = 1; v <= 100000; ++v) {
    h.record(v);
    values.push_back(v);
  }
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 100000u);
  EXPECT_NEAR(h.mean(), 50000.5, 1e-6);
  expect_within_1pct(h, values, "uniform 1..100000");
}

TEST(PerfHistogram, PercentilesWithinOnePercentOnSeededLongTail) {
  const uint64_t seed = seed_from_env();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (RINGLOG_SEED= replays)");
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> latency_us(7.0, 1.5);  // ~1 ms median, long tail
  latency_histogram h;
  std::vector<uint64_t> values;
  for (int i = 0; i < 200000; ++i) {
    const auto v = static_cast<uint64_t>(latency_us(rng));
    h.record(v);
    values.push_back(v);
  }
  expect_within_1pct(h, values, "lognormal");
  EXPECT_EQ(h.max(), *std::max_element(values.begin(), values.end()));
}

TEST(PerfHistogram, MergeEqualsRecordingEverythingInOne) {
  latency_histogram a, b, all;
  std::mt19937_64 rng(11);
  std::vector<uint64_t> values;
  for (int i = 0; i < 50000; ++i) {
    const uint64_t v = rng() % 5'000'000;
    (i % 3 == 0 ? a : b).record(v);
    all.record(v);
    values.push_back(v);
  }
  latency_histogram merged;
  merged.merge(a);
  merged.merge(b);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_EQ(merged.mean(), all.mean());
  for (const double p : {50.0, 90.0, 99.0, 99.9}) {
    EXPECT_EQ(merged.percentile(p), all.percentile(p)) << "p" << p;
  }
  expect_within_1pct(merged, values, "merged");
  latency_histogram empty;
  merged.merge(empty);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
}

TEST(PerfHistogram, MaxIsExactAndReportedAtP100) {
  latency_histogram h;
  h.record_n(10, 1000);
  h.record(987654);
  EXPECT_EQ(h.max(), 987654u);
  EXPECT_EQ(h.percentile(100), 987654u);
  EXPECT_EQ(h.percentile(99.9), 10u);  // rank 1000 of 1001 is still a 10
  EXPECT_EQ(h.percentile(50), 10u);
}

TEST(PerfHistogram, ZeroAndHugeValues) {
  latency_histogram h;
  EXPECT_EQ(h.percentile(50), 0u) << "an empty histogram reports 0";
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  h.record(0);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.percentile(100), 0u);
  h.record(UINT64_MAX);
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), UINT64_MAX);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.percentile(100), UINT64_MAX);
  h.reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(99), 0u);
}

TEST(PerfHistogram, PercentileLadderForPlots) {
  latency_histogram h;
  for (uint64_t us = 1; us <= 100'000; ++us) h.record(us);  // 1 us .. 100 ms, uniform
  const std::string json = percentiles_json(h);
  ASSERT_GE(json.size(), 2u);
  EXPECT_EQ(json.front(), '[');
  EXPECT_EQ(json.back(), ']');
  EXPECT_EQ(json.rfind("[[0,0.001],", 0), 0u) << json;  // the minimum, exact
  EXPECT_NE(json.find(",[99.999,"), std::string::npos) << json;
  EXPECT_NE(json.find(",[100,100.000]]"), std::string::npos) << json;  // the maximum, exact
  // [p, ms] pairs, both ascending; each ms within 1% of the exact percentile.
  std::vector<std::pair<double, double>> pairs;
  for (size_t pos = 1; pos < json.size() - 1;) {
    ASSERT_EQ(json[pos], '[') << json.substr(pos);
    char* end = nullptr;
    const double p = std::strtod(json.c_str() + pos + 1, &end);
    ASSERT_EQ(*end, ',');
    const double ms = std::strtod(end + 1, &end);
    ASSERT_EQ(*end, ']');
    pairs.emplace_back(p, ms);
    pos = static_cast<size_t>(end - json.c_str()) + 1;
    if (json[pos] == ',') ++pos;
  }
  ASSERT_EQ(pairs.size(), 27u);
  for (size_t i = 1; i < pairs.size(); ++i) {
    EXPECT_GT(pairs[i].first, pairs[i - 1].first);
    EXPECT_GE(pairs[i].second, pairs[i - 1].second);
  }
  for (const auto& [p, ms] : pairs) {
    const double exact = std::max(1.0, std::ceil(p / 100.0 * 100'000)) / 1000.0;
    EXPECT_NEAR(ms, exact, 0.01 * exact + 0.0005) << "p" << p;
  }
  EXPECT_EQ(percentiles_json(latency_histogram{}).rfind("[[0,0.000],", 0), 0u)
      << "an empty histogram gives zeros";
}

parse_result parse(std::vector<std::string_view> args) { return parse_args(args); }

TEST(PerfArgs, ProduceWithEveryFlag) {
  const auto r = parse({"produce",
                        "--bootstrap",
                        "127.0.0.1:9092",
                        "--topic",
                        "t",
                        "--partitions",
                        "8",
                        "--record-size=100",
                        "--records",
                        "5000",
                        "--rate",
                        "1000",
                        "--acks",
                        "all",
                        "--batch-bytes",
                        "16384",
                        "--linger-ms",
                        "5",
                        "--compression",
                        "zstd",
                        "--connections",
                        "4",
                        "--in-flight",
                        "3",
                        "--shards",
                        "2",
                        "--timeout-ms",
                        "1000",
                        "--client-id",
                        "me",
                        "--json",
                        "--request-max-bytes",
                        "65536",
                        "--partitioner",
                        "round-robin"});
  ASSERT_TRUE(r.ok()) << r.error;
  const perf_options& o = r.options;
  EXPECT_EQ(o.cmd, command::produce);
  EXPECT_FALSE(o.help);
  EXPECT_EQ(o.common.bootstrap_host, "127.0.0.1");
  EXPECT_EQ(o.common.bootstrap_port, 9092);
  EXPECT_EQ(o.common.topic, "t");
  EXPECT_EQ(o.common.records, 5000u);
  EXPECT_EQ(o.common.connections, 4u);
  EXPECT_EQ(o.common.shards, 2u);
  EXPECT_EQ(o.common.client_id, "me");
  EXPECT_TRUE(o.common.json);
  EXPECT_EQ(o.produce.partitions, 8);
  EXPECT_EQ(o.produce.record_size, 100u);
  EXPECT_EQ(o.produce.rate, 1000u);
  EXPECT_EQ(o.produce.acks, -1);
  EXPECT_EQ(o.produce.batch_bytes, 16384u);
  EXPECT_EQ(o.produce.linger_ms, 5u);
  EXPECT_EQ(o.produce.codec, record::compression::zstd);
  EXPECT_EQ(o.produce.in_flight, 3u);
  EXPECT_EQ(o.common.timeout_ms, 1000);
  EXPECT_EQ(o.produce.request_max_bytes, 65536u);
  EXPECT_EQ(o.produce.partitioner, partitioner_kind::round_robin);
}

TEST(PerfArgs, ProduceDefaults) {
  const auto r = parse({"produce", "--bootstrap=localhost:9092", "--topic=t", "--duration", "2.5"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.options.common.bootstrap_host, "localhost");
  EXPECT_DOUBLE_EQ(r.options.common.duration_s, 2.5);
  EXPECT_EQ(r.options.common.records, 0u);
  EXPECT_EQ(r.options.produce.acks, -1);
  EXPECT_EQ(r.options.produce.record_size, 1024u);
  EXPECT_EQ(r.options.produce.codec, record::compression::none);
  EXPECT_EQ(r.options.produce.in_flight, 5u);
  EXPECT_EQ(r.options.produce.request_max_bytes, 1u << 20);
  EXPECT_EQ(r.options.produce.partitioner, partitioner_kind::sticky);
  EXPECT_FALSE(r.options.common.json);
}

TEST(PerfArgs, ConsumeFlags) {
  const auto r = parse({"consume", "--bootstrap", "[::1]:9092", "--topic", "t", "--records", "10",
                        "--from-beginning", "--verify", "--fetch-max-bytes", "1000000",
                        "--partition-max-bytes", "65536", "--max-wait-ms", "0"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.options.cmd, command::consume);
  EXPECT_EQ(r.options.common.bootstrap_host, "::1");
  EXPECT_TRUE(r.options.consume.from_beginning);
  EXPECT_TRUE(r.options.consume.verify);
  EXPECT_EQ(r.options.consume.fetch_max_bytes, 1000000);
  EXPECT_EQ(r.options.consume.partition_max_bytes, 65536);
  EXPECT_EQ(r.options.consume.max_wait_ms, 0);
}

TEST(PerfArgs, E2eTakesProduceAndFetchFlagsAndWarmup) {
  const auto r = parse({"e2e", "--bootstrap", "h:1", "--topic", "t", "--rate", "1000", "--duration",
                        "60", "--warmup", "10", "--partitions", "4", "--max-wait-ms", "100",
                        "--verify", "--record-size", "8"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.options.cmd, command::e2e);
  EXPECT_EQ(r.options.produce.rate, 1000u);
  EXPECT_EQ(r.options.produce.partitions, 4);
  EXPECT_EQ(r.options.consume.max_wait_ms, 100);
  EXPECT_TRUE(r.options.consume.verify);
  EXPECT_DOUBLE_EQ(warmup_seconds(r.options), 10.0);
  EXPECT_EQ(r.options.produce.partitioner, partitioner_kind::sticky);
  auto d = parse({"e2e", "--bootstrap", "h:1", "--topic", "t", "--rate", "1", "--duration", "30"});
  ASSERT_TRUE(d.ok()) << d.error;
  EXPECT_DOUBLE_EQ(warmup_seconds(d.options), 3.0) << "the default warm-up is 10% of the run";
  d = parse({"e2e", "--bootstrap", "h:1", "--topic", "t", "--rate", "1", "--records", "30"});
  ASSERT_TRUE(d.ok()) << d.error;
  EXPECT_DOUBLE_EQ(warmup_seconds(d.options), 0.0);
}

TEST(PerfArgs, HelpForToolAndCommands) {
  auto r = parse({"--help"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.options.help);
  EXPECT_EQ(r.options.cmd, command::none);
  r = parse({"produce", "--help"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.options.help);
  EXPECT_EQ(r.options.cmd, command::produce);
  r = parse({"consume", "--topic", "t", "-h"});  // help wins over missing flags
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.options.help);
  EXPECT_NE(help_text(command::produce).find("--in-flight"), std::string_view::npos);
  EXPECT_NE(help_text(command::produce).find("--partitioner"), std::string_view::npos);
  EXPECT_NE(help_text(command::e2e).find("--partitioner"), std::string_view::npos);
  EXPECT_NE(help_text(command::consume).find("--verify"), std::string_view::npos);
  EXPECT_NE(help_text(command::e2e).find("--warmup"), std::string_view::npos);
  EXPECT_NE(help_text(command::none).find("produce"), std::string_view::npos);
}

struct bad_case {
  std::vector<std::string_view> args;
  std::string_view expected_error_part;
};

TEST(PerfArgs, BadArgumentsAreRejectedWithAClearMessage) {
  const std::vector<bad_case> cases = {
      {{}, "missing command"},
      {{"fetch"}, "unknown command 'fetch'"},
      {{"produce", "--bootstrap", "h:1", "--topic", "t", "--records", "1", "--bogus", "1"},
       "unknown flag --bogus"},
      {{"produce", "--bootstrap", "h:1", "--topic", "t", "--records", "1", "--verify"},
       "unknown flag --verify"},  // a consume flag
      {{"consume", "--bootstrap", "h:1", "--topic", "t", "--records", "1", "--acks", "1"},
       "unknown flag --acks"},
      {{"produce", "--bootstrap", "h:1", "--topic", "t", "--records", "12x"},
       "bad value '12x' for --records"},
      {{"produce", "--bootstrap", "h:1", "--topic", "t", "--records", "-5"},
       "bad value '-5' for --records"},
      {{"produce", "--bootstrap", "h:1", "--topic", "t", "--records", "0"},
       "bad value '0' for --records"},
      {{"produce", "--bootstrap", "h:1", "--topic", "t", "--records", ""},
       "bad value '' for --records"},
      {{"produce", "--bootstrap", "h:1", "--topic", "t", "--records", "99999999999999999999999"},
       "bad value"},
      {{"produce", "--bootstrap", "h:1", "--topic", "t", "--records", "1", "--acks", "2"},
       "bad value '2' for --acks"},
      {{"produce", "--bootstrap", "h:1", "--topic", "t", "--records", "1", "--compression",
        "brotli"},
       "bad value 'brotli' for --compression"},
      {{"produce", "--bootstrap", "h:1", "--topic", "t", "--records", "1", "--in-flight", "0"},
       "bad value '0' for --in-flight"},
      {{"produce", "--bootstrap", "h:1", "--topic", "t", "--records", "1", "--partitioner",
        "random"},
       "bad value 'random' for --partitioner"},
      {{"consume", "--bootstrap", "h:1", "--topic", "t", "--records", "1", "--partitioner",
        "sticky"},
       "unknown flag --partitioner"},
      {{"produce", "--bootstrap", "h:1", "--topic", "t", "--duration", "abc"},
       "bad value 'abc' for --duration"},
      {{"produce", "--bootstrap", "h:1", "--topic", "t", "--duration", "-1"}, "bad value '-1'"},
      {{"produce", "--bootstrap", "nohost", "--topic", "t", "--records", "1"},
       "bad value 'nohost' for --bootstrap"},
      {{"produce", "--bootstrap", "h:70000", "--topic", "t", "--records", "1"},
       "bad value 'h:70000' for --bootstrap"},
      {{"produce", "--topic", "t", "--records", "1"}, "missing required --bootstrap"},
      {{"produce", "--bootstrap", "h:1", "--records", "1"}, "missing required --topic"},
      {{"produce", "--bootstrap", "h:1", "--topic", "t"}, "missing required --records"},
      {{"produce", "--bootstrap", "h:1", "--topic", "t", "--records", "1", "--duration", "1"},
       "not both"},
      {{"produce", "--bootstrap", "h:1", "--topic", "t", "--records"},
       "missing value for --records"},
      {{"produce", "--bootstrap", "h:1", "--topic", "t", "--records", "1", "--json=yes"},
       "--json takes no value"},
      {{"produce", "stray"}, "unexpected argument 'stray'"},
      {{"produce", "--bootstrap", "h:1", "--topic", "t", "--records", "1", "--warmup", "1"},
       "unknown flag --warmup"},
      {{"e2e", "--bootstrap", "h:1", "--topic", "t", "--duration", "5"}, "needs a fixed --rate"},
      {{"e2e", "--bootstrap", "h:1", "--topic", "t", "--duration", "5", "--rate", "10",
        "--record-size", "7"},
       "at least 8"},
      {{"e2e", "--bootstrap", "h:1", "--topic", "t", "--duration", "5", "--rate", "10", "--warmup",
        "5"},
       "--warmup must be shorter"},
      {{"e2e", "--bootstrap", "h:1", "--topic", "t", "--duration", "5", "--rate", "10",
        "--from-beginning"},
       "unknown flag --from-beginning"},
  };
  for (const auto& c : cases) {
    std::string joined;
    for (auto a : c.args) joined += std::string(a) + " ";
    const auto r = parse(c.args);
    EXPECT_FALSE(r.ok()) << "accepted: " << joined;
    EXPECT_NE(r.error.find(c.expected_error_part), std::string::npos)
        << "args: " << joined << "\nexpected an error containing '" << c.expected_error_part
        << "', got '" << r.error << "'";
  }
}

// One closed batch in a simulated run: its partition index, first record and
// record count, and its size.
struct closed_batch {
  size_t partition = 0;
  size_t first_record = 0;
  size_t records = 0;
  size_t bytes = 0;
};

// Feeds `n` records of `record_size` bytes through a chooser and real batch
// builders the way the producer's sender does: a batch is closed (and a new
// one started) when its uncompressed size reaches batch_full_at(). Returns
// the full batches in the order they closed and, per partition, the records
// left in its open batch at the end. record_to[i]: the partition of record i.
std::vector<closed_batch> simulate(partition_chooser& chooser, size_t partitions, size_t n,
                                   uint32_t record_size, uint32_t batch_bytes,
                                   std::vector<size_t>& record_to, std::vector<size_t>& left_open) {
  const std::vector<std::byte> value(record_size, std::byte{0x5a});
  const size_t full_at = batch_full_at(batch_bytes, record_size);
  std::vector<std::optional<record::batch_builder>> open(partitions);
  std::vector<size_t> first(partitions, 0);
  for (auto& b : open) b.emplace(record::batch_options{});
  std::vector<closed_batch> closed;
  record_to.clear();
  for (size_t r = 0; r < n; ++r) {
    const size_t i = chooser.next();
    record_to.push_back(i);
    if (open[i]->record_count() == 0) first[i] = r;
    record::record_data rec;
    rec.value = std::span<const std::byte>(value);
    rec.timestamp_ms = 1'700'000'000'000;
    open[i]->add(rec);
    if (open[i]->uncompressed_size_bytes() >= full_at) {
      auto built = open[i]->build();
      EXPECT_TRUE(built.has_value());
      closed.push_back(
          {i, first[i], static_cast<size_t>(open[i]->record_count()), built ? built->size() : 0});
      open[i].emplace(record::batch_options{});
      chooser.closed(i);
    }
  }
  left_open.clear();
  for (const auto& b : open) left_open.push_back(static_cast<size_t>(b->record_count()));
  return closed;
}

TEST(PerfPartitioner, FullAtLeavesRoomForOneMoreRecord) {
  EXPECT_EQ(batch_full_at(65536, 1024), 65536u - 1024 - k_record_overhead_bytes);
  EXPECT_EQ(batch_full_at(1000, 1024), 0u) << "a record larger than a batch: one per batch";
  EXPECT_EQ(batch_full_at(128, 0), 128u - k_record_overhead_bytes);
}

TEST(PerfPartitioner, StickyFillsOneBatchPerPartitionInOrder) {
  struct shape {
    size_t partitions;
    uint32_t record_size;
    uint32_t batch_bytes;
  };
  for (const shape sh : {shape{4, 1024, 65536}, shape{1000, 1024, 65536}, shape{3, 100, 16384},
                         shape{1, 1024, 65536}, shape{7, 5000, 4096}}) {
    SCOPED_TRACE(::testing::Message() << sh.partitions << " partitions, " << sh.record_size
                                      << "-byte records, " << sh.batch_bytes << "-byte batches");
    partition_chooser chooser(partitioner_kind::sticky, sh.partitions);
    // Records per full batch, from a first run of one batch.
    std::vector<size_t> record_to, left_open;
    size_t per_batch = 0;
    {
      partition_chooser probe(partitioner_kind::sticky, 1);
      const size_t enough = sh.batch_bytes / std::max<uint32_t>(sh.record_size, 1) + 2;
      const auto one =
          simulate(probe, 1, enough, sh.record_size, sh.batch_bytes, record_to, left_open);
      ASSERT_FALSE(one.empty());
      per_batch = one[0].records;
    }
    ASSERT_GE(per_batch, 1u);
    // Two and a half rounds over every partition.
    const size_t batches = sh.partitions * 2 + sh.partitions / 2;
    const size_t n = batches * per_batch + per_batch / 2;
    const auto closed =
        simulate(chooser, sh.partitions, n, sh.record_size, sh.batch_bytes, record_to, left_open);
    ASSERT_EQ(closed.size(), batches);
    for (size_t k = 0; k < closed.size(); ++k) {
      const closed_batch& b = closed[k];
      EXPECT_EQ(b.partition, k % sh.partitions) << "batch " << k << ": partitions in order";
      EXPECT_EQ(b.first_record, k * per_batch) << "batch " << k << ": consecutive records";
      EXPECT_EQ(b.records, per_batch) << "batch " << k;
      EXPECT_LE(b.bytes,
                std::max<size_t>(sh.batch_bytes, record::k_batch_header_bytes + sh.record_size +
                                                     k_record_overhead_bytes))
          << "batch " << k << ": at most --batch-bytes (or one record)";
      if (per_batch > 1) {
        EXPECT_GE(b.bytes + sh.record_size + k_record_overhead_bytes, sh.batch_bytes)
            << "batch " << k << ": no room left for another record";
      }
    }
    // Record i sits in batch i / per_batch.
    for (size_t r = 0; r < n; ++r) {
      ASSERT_EQ(record_to[r], (r / per_batch) % sh.partitions) << "record " << r;
    }
    // The half batch at the end is open on the next partition, nowhere else.
    const size_t last = batches % sh.partitions;
    for (size_t p = 0; p < sh.partitions; ++p) {
      EXPECT_EQ(left_open[p], p == last ? per_batch / 2 : 0u) << "partition " << p;
    }
  }
}

TEST(PerfPartitioner, StickyMovesOnWhenItsBatchIsSentBeforeFilling) {
  partition_chooser c(partitioner_kind::sticky, 3);
  EXPECT_EQ(c.next(), 0u);
  EXPECT_EQ(c.next(), 0u) << "sticky: the same partition until its batch closes";
  c.closed(1);  // another partition's batch: no move
  EXPECT_EQ(c.next(), 0u);
  c.closed(0);  // the sticky batch lingered out and was sent
  EXPECT_EQ(c.next(), 1u);
  c.closed(1);
  c.closed(2);
  EXPECT_EQ(c.next(), 0u) << "wraps round to the first partition";
  EXPECT_EQ(c.current(), 0u);
  partition_chooser one(partitioner_kind::sticky, 1);
  one.closed(0);
  EXPECT_EQ(one.next(), 0u);
}

TEST(PerfPartitioner, RoundRobinSendsRecordIToPartitionIModP) {
  for (const size_t p : {size_t{1}, size_t{7}, size_t{64}, size_t{1000}}) {
    partition_chooser c(partitioner_kind::round_robin, p);
    for (size_t i = 0; i < 5 * p + 3; ++i) {
      ASSERT_EQ(c.next(), i % p) << p << " partitions, record " << i;
      if (i % 5 == 0) c.closed(i % p);  // closing batches changes nothing
    }
  }
  // With real batches too: record i to partition i % P, whatever fills.
  partition_chooser c(partitioner_kind::round_robin, 5);
  std::vector<size_t> record_to, left_open;
  const auto closed = simulate(c, 5, 1003, 1024, 16384, record_to, left_open);
  ASSERT_EQ(record_to.size(), 1003u);
  for (size_t i = 0; i < record_to.size(); ++i) ASSERT_EQ(record_to[i], i % 5) << i;
  ASSERT_FALSE(closed.empty());
  for (const closed_batch& b : closed) EXPECT_LE(b.bytes, 16384u);
}

}  // namespace
}  // namespace ringlog::perf
