// log_cleaner: compaction keeps the latest record of each key at its
// original offset, tombstones until their delete horizon, codecs, control
// and transactional batches; leaves the active segment, recent segments and
// barely dirty logs alone; cleans a prefix when its map fills; a crash at any
// step of the swap recovers to a whole log; and log_manager runs it.
#include "engine/log/cleaner.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "engine/log/checkpoint.h"
#include "engine/log/flusher.h"
#include "engine/log/log_manager.h"
#include "engine/log/offset_map.h"
#include "engine/log/partition_log.h"
#include "engine/record/batch_builder.h"
#include "engine/record/record.h"
#include "engine/record/record_batch.h"
#include "engine/runtime/invoke.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/timer.h"

namespace ringlog::storage {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using record::compression;

// ---------------------------------------------------------------- offset map

TEST(OffsetMap, KeepsTheLatestOffsetPerKeyAndFillsAtItsLoadFactor) {
  offset_map map(16 * offset_map::entry_bytes, 0.75);
  EXPECT_EQ(map.slots(), 16u);
  EXPECT_EQ(map.max_entries(), 12u);
  auto key = [](int i) {
    static std::string k;
    k = "key-" + std::to_string(i);
    return *record::as_bytes(k);
  };
  for (int i = 0; i < 12; ++i) {
    ASSERT_FALSE(map.full());
    map.put(key(i), i);
  }
  EXPECT_TRUE(map.full());
  map.put(key(3), 100);  // an existing key still updates
  EXPECT_EQ(map.get(key(3)), 100);
  EXPECT_EQ(map.get(key(4)), 4);
  EXPECT_EQ(map.get(key(99)), -1);
  map.update_latest_offset(100);
  map.update_latest_offset(50);
  EXPECT_EQ(map.latest_offset(), 100);
  map.clear();
  EXPECT_EQ(map.size(), 0u);
  EXPECT_EQ(map.get(key(3)), -1);
  EXPECT_EQ(map.latest_offset(), -1);
}

// ---------------------------------------------------------------- helpers

struct kv {
  std::optional<std::string> key;
  std::optional<std::string> value;  // nullopt: a tombstone
};

struct batch_spec {
  std::vector<kv> records;
  int64_t timestamp_ms = 0;
  compression codec = compression::none;
  int64_t producer_id = -1;
  bool transactional = false;
};

std::vector<std::byte> build(const batch_spec& spec) {
  record::batch_builder b({.producer_id = spec.producer_id,
                           .producer_epoch = static_cast<int16_t>(spec.producer_id >= 0 ? 3 : -1),
                           .base_sequence = spec.producer_id >= 0 ? 0 : -1,
                           .transactional = spec.transactional,
                           .codec = spec.codec});
  int64_t ts = spec.timestamp_ms;
  for (const kv& r : spec.records) {
    record::record_data d;
    if (r.key) d.key = record::as_bytes(*r.key);
    if (r.value) d.value = record::as_bytes(*r.value);
    d.timestamp_ms = ts++;
    b.add(d);
  }
  return std::move(*b.build());
}

struct rec {
  int64_t offset;
  std::optional<std::string> key;
  std::optional<std::string> value;
  int64_t timestamp;
};

struct batch_meta {
  int64_t base;
  int64_t last;
  int32_t count;
  compression codec;
  bool horizon;
  int64_t base_timestamp;
  int64_t producer_id;
  bool control;
  bool transactional;
};

struct contents {
  std::vector<rec> records;
  std::vector<batch_meta> batches;
  std::string problem;  // empty when the log read back whole and in order

  // key -> (offset, value) of its last record.
  std::map<std::string, std::pair<int64_t, std::optional<std::string>>> latest() const {
    std::map<std::string, std::pair<int64_t, std::optional<std::string>>> out;
    for (const rec& r : records) {
      if (r.key) out[*r.key] = {r.offset, r.value};
    }
    return out;
  }
  size_t count_key(const std::string& k) const {
    size_t n = 0;
    for (const rec& r : records) n += r.key == k;
    return n;
  }
};

// Keys with more than one record below `end`: compaction leaves one each
// (the latest one there; newer ones past `end` were not mapped yet).
std::vector<std::string> duplicated_below(const contents& c, int64_t end) {
  std::map<std::string, int> seen;
  std::vector<std::string> out;
  for (const rec& r : c.records) {
    if (r.offset < end && r.key && ++seen[*r.key] == 2) out.push_back(*r.key);
  }
  return out;
}

std::string text(const record::nullable_bytes& b) {
  return std::string(reinterpret_cast<const char*>(b->data()), b->size());
}

// Every batch from the log start to the durable end, through read(): each
// fetch asks for the offset after the last batch seen, which may lie in a
// compaction gap.
task<contents> read_all(partition_log& log) {
  contents out;
  int64_t next = log.log_start_offset();
  int64_t previous_last = -1;
  std::vector<std::byte> scratch;
  while (next < log.durable_end()) {
    auto slice = co_await log.read(next, 1 << 20, read_bound::durable);
    if (!slice) {
      out.problem = fmt::format("read({}): {}", next, slice.error().message());
      co_return out;
    }
    if (slice->bytes == 0) break;
    std::vector<std::byte> bytes(slice->bytes);
    if (::pread(slice->file->fd, bytes.data(), bytes.size(), static_cast<off_t>(slice->position)) !=
        static_cast<ssize_t>(bytes.size())) {
      out.problem = "short pread";
      co_return out;
    }
    record::batch_iterator batches(bytes, {.allow_offset_gaps = true});
    bool any = false;
    for (;;) {
      auto b = batches.next();
      if (!b || !*b) break;  // a slice may end inside a batch
      const auto& v = **b;
      if (v.last_offset() < next) continue;
      if (v.base_offset() <= previous_last) {
        out.problem =
            fmt::format("batch at {} after one ending at {}", v.base_offset(), previous_last);
        co_return out;
      }
      any = true;
      previous_last = v.last_offset();
      out.batches.push_back({v.base_offset(), v.last_offset(), v.records_count(), v.codec(),
                             v.has_delete_horizon(), v.base_timestamp(), v.producer_id(),
                             v.is_control(), v.is_transactional()});
      auto it = record::record_iterator::open(v, scratch, {.allow_offset_gaps = true});
      if (!it) {
        out.problem = it.error().message();
        co_return out;
      }
      for (;;) {
        auto r = it->next();
        if (!r) {
          out.problem = r.error().message();
          co_return out;
        }
        if (!*r) break;
        rec x{(*r)->offset(), std::nullopt, std::nullopt, (*r)->timestamp()};
        if ((*r)->key()) x.key = text((*r)->key());
        if ((*r)->value()) x.value = text((*r)->value());
        out.records.push_back(std::move(x));
      }
      next = v.last_offset() + 1;
    }
    if (!any) {
      out.problem = fmt::format("read({}) returned no whole batch", next);
      co_return out;
    }
  }
  if (next < log.durable_end()) out.problem = fmt::format("reading stopped at {}", next);
  co_return out;
}

// Appends `spec` (written, not yet synced: the logs here relax durability
// to keep the tests fast; flush() before cleaning). Returns the offsets its
// records got.
task<std::vector<int64_t>> append(partition_log& log, batch_spec spec) {
  auto bytes = build(spec);
  auto r = co_await log.append(bytes);
  RINGLOG_ASSERT(r.has_value(), "append: {}", r.error().message());
  std::vector<int64_t> offsets;
  for (int64_t o = r->base_offset; o <= r->last_offset; ++o) offsets.push_back(o);
  co_return offsets;
}

// What the log must hold for each key after compaction: the last value
// appended (tombstones included), at the offset it was appended at.
using expectation = std::map<std::string, std::pair<int64_t, std::optional<std::string>>>;

// Rounds of `keys` keys, `per_batch` records a batch, value
// "r<round>-<key>"; from round `tombstone_round` on every third key is
// deleted instead. The clock moves 10 ms a batch, so timestamps grow with
// offsets. Flushes at the end. Returns the expectation.
task<expectation> fill(partition_log& log, manual_clock& clk, int rounds, int keys, int per_batch,
                       compression codec = compression::none, int tombstone_round = 1 << 30,
                       size_t value_bytes = 0) {
  expectation want;
  for (int r = 0; r < rounds; ++r) {
    for (int k = 0; k < keys; k += per_batch) {
      batch_spec spec{.records = {}, .timestamp_ms = clk.wall_ms(), .codec = codec};
      for (int j = k; j < std::min(keys, k + per_batch); ++j) {
        const std::string key = "k" + std::to_string(j);
        if (r >= tombstone_round && j % 3 == 0) {
          spec.records.push_back({key, std::nullopt});
        } else {
          std::string value = "r" + std::to_string(r) + "-" + key;
          value.resize(std::max(value.size(), value_bytes), '.');
          spec.records.push_back({key, std::move(value)});
        }
      }
      auto offsets = co_await append(log, spec);
      for (size_t i = 0; i < offsets.size(); ++i) {
        want[*spec.records[i].key] = {offsets[i], spec.records[i].value};
      }
      clk.advance_ns(10'000'000);
    }
  }
  (void)co_await log.flush();
  co_return want;
}

// One batch of one record per call, for filler and distinct keys.
task<void> put(partition_log& log, manual_clock& clk, std::string key, std::string value) {
  const batch_spec spec{.records = {{std::move(key), std::move(value)}},
                        .timestamp_ms = clk.wall_ms()};
  (void)co_await append(log, spec);
  clk.advance_ns(10'000'000);
}

task<result<clean_report>> clean_now(partition_log& log, log_cleaner& c) {
  (void)co_await log.flush();
  co_return co_await c.clean(log);
}

task<result<std::optional<clean_report>>> clean_once_now(partition_log& log, log_cleaner& c) {
  (void)co_await log.flush();
  co_return co_await c.clean_once();
}

log_config compact_config() {
  log_config c;
  c.segment_bytes = 2048;
  c.index_interval_bytes = 256;
  c.cleanup = cleanup_policy::compact;
  c.min_cleanable_dirty_ratio = 0.0;
  c.flush_interval_ms = 60'000;  // relaxed: appends do not wait for fsync
  return c;
}

std::vector<std::byte> file_bytes(const std::string& path) {
  std::vector<std::byte> out;
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return out;
  struct stat st;
  ::fstat(fd, &st);
  out.resize(static_cast<size_t>(st.st_size));
  EXPECT_EQ(::pread(fd, out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
  ::close(fd);
  return out;
}

std::string describe(const expectation& e) {
  std::string s;
  for (auto& [k, v] : e) s += fmt::format("{}@{}={} ", k, v.first, v.second.value_or("null"));
  return s;
}

class CleanerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = ::testing::TempDir() + "ringlog-clean-" + std::to_string(::getpid()) + "-" +
          ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir);
    fs::remove_all(dir + "-copy");
    rt = std::make_unique<runtime>(runtime_options{.shards = 1, .pin_threads = false});
    ASSERT_TRUE(rt->start());
  }
  void TearDown() override {
    rt->stop();
    fs::remove_all(dir);
    fs::remove_all(dir + "-copy");
  }

  // Opens the log in `d`, runs body(log, cleaner) (a plain lambda returning
  // the task of a coroutine function: coroutine lambdas must not capture),
  // removes the log from the cleaner and closes it.
  template <class F>
  auto with_log(std::string d, log_config config, cleaner_config cc, F body,
                recovery_state state = {}) {
    return rt->block_on(0, run(std::move(d), config, cc, std::move(body), &fl, &clk, state));
  }

  template <class F>
  static task<typename std::invoke_result_t<F&, partition_log&, log_cleaner&>::value_type> run(
      std::string d, log_config c, cleaner_config cc, F body, flusher* f, manual_clock* clock,
      recovery_state state) {
    auto opened = co_await partition_log::open(d, c, *f, state);
    RINGLOG_ASSERT(opened.has_value(), "open failed: {}", opened.error().message());
    auto log = std::move(*opened);
    log_cleaner cleaner(cc, *clock);
    cleaner.add(log.get(), log->log_start_offset());
    auto out = co_await body(*log, cleaner);
    co_await cleaner.remove(log.get());
    status st = co_await log->close();
    RINGLOG_ASSERT(st.has_value(), "close failed: {}", st.error().message());
    co_return out;
  }

  std::string dir;
  std::unique_ptr<runtime> rt;
  flusher fl;
  manual_clock clk{0, wall_ms()};
};

// ---------------------------------------------------------------- behaviour

struct outcome {
  expectation want;
  contents after;
  clean_report report;
  std::string error;
  size_t segments_before = 0;
  size_t segments_after = 0;
  uint64_t bytes_before = 0;
  uint64_t bytes_after = 0;
  int64_t end_before = 0;
  int64_t end_after = 0;
  std::vector<std::byte> active_before;
  std::vector<std::byte> active_after;
};

task<outcome> repeated_keys(partition_log& log, log_cleaner& c, manual_clock& clk) {
  outcome o;
  o.want = co_await fill(log, clk, 12, 20, 4, compression::none, 1 << 30, 40);
  o.segments_before = log.segment_count();
  o.bytes_before = log.size_bytes();
  o.end_before = log.log_end_offset();
  const std::string active = log.segment_at(log.segment_count() - 1).file()->path;
  o.active_before = file_bytes(active);
  auto r = co_await clean_now(log, c);
  if (!r) {
    o.error = r.error().message();
    co_return o;
  }
  o.report = *r;
  o.after = co_await read_all(log);
  o.bytes_after = log.size_bytes();
  o.end_after = log.log_end_offset();
  o.active_after = file_bytes(active);
  // Groups are made from the segments' sizes before a clean: the small
  // cleaned segments merge at the next one.
  auto again = co_await clean_now(log, c);
  if (!again) o.error = again.error().message();
  o.segments_after = log.segment_count();
  co_return o;
}

TEST_F(CleanerTest, RepeatedKeysKeepOnlyTheLatestValueAtItsOriginalOffset) {
  auto out = with_log(dir, compact_config(), {}, [this](partition_log& l, log_cleaner& c) {
    return repeated_keys(l, c, clk);
  });
  ASSERT_EQ(out.error, "");
  ASSERT_EQ(out.after.problem, "");
  EXPECT_GT(out.segments_before, 5u);
  EXPECT_LT(out.segments_after, out.segments_before - 2) << "small cleaned segments are grouped";
  EXPECT_LT(out.bytes_after, out.bytes_before / 3);
  EXPECT_EQ(out.end_after, out.end_before);
  EXPECT_EQ(out.active_after, out.active_before) << "the active segment is never rewritten";
  EXPECT_EQ(out.after.latest(), out.want) << describe(out.after.latest());
  EXPECT_GT(out.report.records_removed, 150);
  EXPECT_GT(out.report.end_offset, 0);
  EXPECT_EQ(duplicated_below(out.after, out.report.end_offset), std::vector<std::string>{});
}

task<outcome> two_cleans(partition_log& log, log_cleaner& c, manual_clock& clk) {
  outcome o;
  (void)co_await fill(log, clk, 6, 20, 4);
  auto first = co_await clean_now(log, c);
  o.want = co_await fill(log, clk, 6, 20, 4);
  auto second = co_await clean_now(log, c);
  if (!first || !second) {
    o.error = "clean failed";
    co_return o;
  }
  o.report = *second;
  o.end_before = first->end_offset;
  o.after = co_await read_all(log);
  co_return o;
}

TEST_F(CleanerTest, ASecondCleanMapsOnlyTheNewDirtySection) {
  auto out = with_log(dir, compact_config(), {},
                      [this](partition_log& l, log_cleaner& c) { return two_cleans(l, c, clk); });
  ASSERT_EQ(out.error, "");
  ASSERT_EQ(out.after.problem, "");
  EXPECT_EQ(out.report.first_dirty_offset, out.end_before) << "starts at the first clean's end";
  EXPECT_GT(out.report.end_offset, out.report.first_dirty_offset);
  EXPECT_EQ(duplicated_below(out.after, out.report.end_offset), std::vector<std::string>{});
  EXPECT_EQ(out.after.latest(), out.want);
}

struct tombstone_result {
  std::string error;
  contents first;
  contents second;
  contents third;
  int64_t cleaned_at = 0;
  int64_t written_from = 0;
};

task<tombstone_result> tombstones(partition_log& log, log_cleaner& c, manual_clock& clk) {
  tombstone_result o;
  o.written_from = clk.wall_ms();
  // k0..k5 written twice, then k0 and k3 deleted; filler rolls segments.
  (void)co_await fill(log, clk, 2, 6, 3);
  const batch_spec spec{.records = {{"k0", std::nullopt}, {"k3", std::nullopt}},
                        .timestamp_ms = clk.wall_ms()};
  (void)co_await append(log, spec);
  for (int i = 0; i < 30; ++i)
    co_await put(log, clk, "filler" + std::to_string(i % 5), std::string(100, 'f'));
  o.cleaned_at = clk.wall_ms();
  auto r1 = co_await clean_now(log, c);
  o.first = co_await read_all(log);
  clk.advance_ns(9'000'000'000);  // 9 s: inside the 10 s horizon
  auto r2 = co_await clean_now(log, c);
  o.second = co_await read_all(log);
  clk.advance_ns(1'001'000'000);  // past it
  auto r3 = co_await clean_now(log, c);
  o.third = co_await read_all(log);
  if (!r1 || !r2 || !r3) {
    o.error = "clean failed";
  } else if (r3->tombstones_removed != 2) {
    o.error = fmt::format("{} tombstones removed", r3->tombstones_removed);
  }
  co_return o;
}

TEST_F(CleanerTest, TombstonesStayUntilTheirDeleteHorizonThenGo) {
  log_config config = compact_config();
  config.delete_retention_ms = 10'000;
  auto out = with_log(dir, config, {},
                      [this](partition_log& l, log_cleaner& c) { return tombstones(l, c, clk); });
  ASSERT_EQ(out.error, "");
  ASSERT_EQ(out.first.problem, "");
  for (const contents* c : {&out.first, &out.second}) {
    auto latest = c->latest();
    ASSERT_TRUE(latest.count("k0"));
    EXPECT_FALSE(latest["k0"].second.has_value()) << "k0's tombstone is kept";
    EXPECT_EQ(c->count_key("k0"), 1u) << "k0's older values are gone";
    EXPECT_EQ(c->count_key("k3"), 1u);
  }
  // The first clean stamped the horizon (clean time + delete.retention.ms)
  // on the batch holding the tombstones; record timestamps survive it.
  bool stamped = false;
  for (const batch_meta& b : out.first.batches) {
    if (b.horizon) {
      stamped = true;
      EXPECT_EQ(b.base_timestamp, out.cleaned_at + 10'000);
    }
  }
  EXPECT_TRUE(stamped);
  for (const rec& r : out.first.records) {
    EXPECT_GE(r.timestamp, out.written_from);
    EXPECT_LE(r.timestamp, out.cleaned_at);
  }
  EXPECT_EQ(out.third.count_key("k0"), 0u) << "the tombstone went after its horizon";
  EXPECT_EQ(out.third.count_key("k3"), 0u);
  EXPECT_EQ(out.third.latest().at("k1").second, "r1-k1");
}

task<outcome> codec_clean(partition_log& log, log_cleaner& c, manual_clock& clk,
                          compression codec) {
  outcome o;
  // Each batch mixes keys of two generations: about half its records go.
  for (int r = 0; r < 8; ++r) {
    batch_spec spec{.records = {}, .timestamp_ms = clk.wall_ms(), .codec = codec};
    for (int k = 0; k < 6; ++k) {
      const std::string key = "k" + std::to_string(r % 2 == 0 ? k : k + 3);
      spec.records.push_back({key, "v" + std::to_string(r) + "-" + key});
    }
    auto offsets = co_await append(log, spec);
    for (size_t i = 0; i < offsets.size(); ++i)
      o.want[*spec.records[i].key] = {offsets[i], spec.records[i].value};
    clk.advance_ns(10'000'000);
  }
  for (int i = 0; i < 20; ++i) {
    const std::string key = "z" + std::to_string(i % 3);
    const batch_spec spec{
        .records = {{key, std::string(150, 'z')}}, .timestamp_ms = clk.wall_ms(), .codec = codec};
    auto offsets = co_await append(log, spec);
    o.want[key] = {offsets[0], std::string(150, 'z')};
  }
  auto r = co_await clean_now(log, c);
  if (!r) o.error = r.error().message();
  o.after = co_await read_all(log);
  co_return o;
}

TEST_F(CleanerTest, CompressedBatchesAreRebuiltWithTheirOwnCodec) {
  for (compression codec :
       {compression::gzip, compression::snappy, compression::lz4, compression::zstd}) {
    SCOPED_TRACE(std::string(record::to_string(codec)));
    const std::string d = dir + "-" + std::string(record::to_string(codec));
    auto out = with_log(d, compact_config(), {}, [this, codec](partition_log& l, log_cleaner& c) {
      return codec_clean(l, c, clk, codec);
    });
    fs::remove_all(d);
    ASSERT_EQ(out.error, "");
    ASSERT_EQ(out.after.problem, "");
    EXPECT_EQ(out.after.latest(), out.want);
    size_t rebuilt = 0;
    for (const batch_meta& b : out.after.batches) {
      if (b.count == 0) continue;
      EXPECT_EQ(b.codec, codec) << "batch at " << b.base;
      rebuilt += b.count < b.last - b.base + 1;
    }
    EXPECT_GT(rebuilt, 0u) << "some batches lost records and were rebuilt";
  }
}

struct gaps_result {
  std::string error;
  contents after;
  std::vector<std::pair<int64_t, int64_t>> reads;    // offset -> last offset of the batch read
  std::vector<std::pair<int64_t, int64_t>> by_time;  // record timestamp -> offset found
};

task<gaps_result> gaps(partition_log& log, log_cleaner& c, manual_clock& clk) {
  gaps_result o;
  (void)co_await fill(log, clk, 10, 8, 4);
  auto r = co_await clean_now(log, c);
  if (!r) {
    o.error = r.error().message();
    co_return o;
  }
  o.after = co_await read_all(log);
  for (int64_t off = log.log_start_offset(); off < log.durable_end(); ++off) {
    auto s = co_await log.read(off, 1);
    if (!s || s->bytes == 0) {
      o.reads.push_back({off, -1});
      continue;
    }
    std::vector<std::byte> bytes(s->bytes);
    (void)::pread(s->file->fd, bytes.data(), bytes.size(), static_cast<off_t>(s->position));
    auto v = record::record_batch_view::parse(bytes, {.allow_offset_gaps = true});
    o.reads.push_back({off, v ? v->last_offset() : -2});
  }
  for (const rec& x : o.after.records) {
    auto t = co_await log.offset_for_timestamp(x.timestamp);
    o.by_time.push_back({x.timestamp, t && *t ? (*t)->offset : -1});
  }
  co_return o;
}

TEST_F(CleanerTest, OffsetGapsReadThroughReadAndOffsetForTimestamp) {
  auto out = with_log(dir, compact_config(), {},
                      [this](partition_log& l, log_cleaner& c) { return gaps(l, c, clk); });
  ASSERT_EQ(out.error, "");
  ASSERT_EQ(out.after.problem, "");
  // Every offset, compacted away or not, reads the batch holding it or the
  // next one: the first batch whose last offset is >= it.
  for (auto [off, last] : out.reads) {
    int64_t want = -1;
    for (const batch_meta& b : out.after.batches) {
      if (b.last >= off) {
        want = b.last;
        break;
      }
    }
    EXPECT_EQ(last, want) << "read(" << off << ")";
  }
  // offset_for_timestamp finds each surviving record by its own timestamp
  // (timestamps grow with offsets here).
  for (auto [ts, found] : out.by_time) {
    int64_t want = -1;
    for (const rec& x : out.after.records) {
      if (x.timestamp >= ts) {
        want = x.offset;
        break;
      }
    }
    EXPECT_EQ(found, want) << "timestamp " << ts;
  }
}

task<outcome> one_segment(partition_log& log, log_cleaner& c, manual_clock& clk) {
  outcome o;
  (void)co_await fill(log, clk, 5, 10, 2);
  o.bytes_before = log.size_bytes();
  auto r = co_await clean_now(log, c);
  if (!r)
    o.error = r.error().message();
  else
    o.report = *r;
  o.bytes_after = log.size_bytes();
  auto again = co_await clean_once_now(log, c);
  if (again && *again) o.error = "clean_once found work in a log with one segment";
  co_return o;
}

TEST_F(CleanerTest, TheActiveSegmentIsNeverCleaned) {
  log_config config = compact_config();
  config.segment_bytes = 1 << 20;  // everything stays in the active segment
  auto out = with_log(dir, config, {},
                      [this](partition_log& l, log_cleaner& c) { return one_segment(l, c, clk); });
  ASSERT_EQ(out.error, "");
  EXPECT_EQ(out.bytes_after, out.bytes_before);
  EXPECT_EQ(out.report.groups, 0u);
  EXPECT_EQ(out.report.records_removed, 0);
}

struct lag_result {
  std::string error;
  clean_report early;
  clean_report late;
  uint64_t before = 0;
  uint64_t after_early = 0;
  uint64_t after_late = 0;
};

task<lag_result> min_lag(partition_log& log, log_cleaner& c, manual_clock& clk) {
  lag_result o;
  (void)co_await fill(log, clk, 8, 10, 5);
  o.before = log.size_bytes();
  auto early = co_await clean_now(log, c);
  o.after_early = log.size_bytes();
  clk.advance_ns(61'000'000'000);
  auto late = co_await clean_now(log, c);
  o.after_late = log.size_bytes();
  if (!early || !late) {
    o.error = "clean failed";
    co_return o;
  }
  o.early = *early;
  o.late = *late;
  co_return o;
}

TEST_F(CleanerTest, MinCompactionLagKeepsRecentSegmentsDirty) {
  log_config config = compact_config();
  config.min_compaction_lag_ms = 60'000;
  auto out = with_log(dir, config, {},
                      [this](partition_log& l, log_cleaner& c) { return min_lag(l, c, clk); });
  ASSERT_EQ(out.error, "");
  EXPECT_EQ(out.after_early, out.before) << "every record is younger than the lag";
  EXPECT_EQ(out.early.end_offset, out.early.first_dirty_offset);
  EXPECT_LT(out.after_late, out.before);
  EXPECT_GT(out.late.end_offset, out.late.first_dirty_offset);
}

// 1: clean_once cleaned a log, 0: it found none to clean, -1: it failed.
task<int> once(partition_log& log, log_cleaner& c) {
  auto r = co_await clean_once_now(log, c);
  co_return !r ? -1 : (*r ? 1 : 0);
}

task<std::vector<int>> dirty_ratio(partition_log& log, log_cleaner& c, manual_clock& clk) {
  std::vector<int> out;
  // Distinct keys: nothing compacts, so the clean section stays large.
  for (int i = 0; i < 60; ++i)
    co_await put(log, clk, "a" + std::to_string(i), std::string(100, 'a'));
  out.push_back(co_await once(log, c));  // all dirty: ratio 1
  for (int i = 0; i < 15; ++i)
    co_await put(log, clk, "b" + std::to_string(i), std::string(100, 'b'));
  out.push_back(co_await once(log, c));  // a quarter more: below 0.5
  for (int i = 0; i < 80; ++i)
    co_await put(log, clk, "c" + std::to_string(i), std::string(100, 'c'));
  out.push_back(co_await once(log, c));
  co_return out;
}

TEST_F(CleanerTest, CleanOnceWaitsForTheDirtyRatio) {
  log_config config = compact_config();
  config.min_cleanable_dirty_ratio = 0.5;
  auto out = with_log(dir, config, {},
                      [this](partition_log& l, log_cleaner& c) { return dirty_ratio(l, c, clk); });
  EXPECT_EQ(out, (std::vector<int>{1, 0, 1}));
}

struct map_full_result {
  std::string error;
  std::vector<clean_report> passes;
  expectation want;
  contents after;
};

task<map_full_result> map_full(partition_log& log, log_cleaner& c, manual_clock& clk) {
  map_full_result o;
  o.want = co_await fill(log, clk, 3, 60, 4);  // 60 keys: more than two maps' worth
  for (int i = 0; i < 12; ++i) {
    auto r = co_await clean_now(log, c);
    if (!r) {
      o.error = r.error().message();
      co_return o;
    }
    o.passes.push_back(*r);
    if (!r->map_full) break;
  }
  o.after = co_await read_all(log);
  co_return o;
}

TEST_F(CleanerTest, AFullOffsetMapCleansAPrefixAndTheNextPassGoesOn) {
  cleaner_config cc;
  cc.dedupe_buffer_bytes = 32 * offset_map::entry_bytes;  // 28 keys at 0.9
  auto out = with_log(dir, compact_config(), cc,
                      [this](partition_log& l, log_cleaner& c) { return map_full(l, c, clk); });
  ASSERT_EQ(out.error, "");
  ASSERT_EQ(out.after.problem, "");
  ASSERT_GE(out.passes.size(), 3u);
  EXPECT_FALSE(out.passes.back().map_full) << "the last pass reached the uncleanable offset";
  for (size_t i = 0; i < out.passes.size(); ++i) {
    EXPECT_LE(out.passes[i].map_entries, 28u);
    EXPECT_GT(out.passes[i].end_offset, out.passes[i].first_dirty_offset) << "pass " << i;
    if (i > 0) {
      EXPECT_EQ(out.passes[i].first_dirty_offset, out.passes[i - 1].end_offset) << "pass " << i;
    }
  }
  EXPECT_EQ(duplicated_below(out.after, out.passes.back().end_offset), std::vector<std::string>{});
  EXPECT_EQ(out.after.latest(), out.want);
}

task<outcome> keyless(partition_log& log, log_cleaner& c, manual_clock& clk) {
  outcome o;
  for (int i = 0; i < 20; ++i) {
    const batch_spec spec{.records = {{std::nullopt, "nokey" + std::to_string(i)},
                                      {"k" + std::to_string(i % 4), "v" + std::to_string(i)}},
                          .timestamp_ms = clk.wall_ms()};
    (void)co_await append(log, spec);
  }
  for (int i = 0; i < 20; ++i) co_await put(log, clk, "f", std::string(200, 'f'));
  auto r = co_await clean_now(log, c);
  if (!r)
    o.error = r.error().message();
  else
    o.report = *r;
  o.after = co_await read_all(log);
  co_return o;
}

TEST_F(CleanerTest, RecordsWithoutAKeyInTheMappedRangeAreDropped) {
  auto out = with_log(dir, compact_config(), {},
                      [this](partition_log& l, log_cleaner& c) { return keyless(l, c, clk); });
  ASSERT_EQ(out.error, "");
  EXPECT_EQ(out.report.keyless_removed, 20);
  for (const rec& r : out.after.records) EXPECT_TRUE(r.key.has_value()) << "offset " << r.offset;
}

task<outcome> control_batches(partition_log& log, log_cleaner& c, manual_clock& clk) {
  outcome o;
  const batch_spec spec{.records = {{"k", "txn-1"}, {"k", "txn-2"}},
                        .timestamp_ms = clk.wall_ms(),
                        .producer_id = 42,
                        .transactional = true};
  (void)co_await append(log, spec);
  auto marker = record::build_control_batch({.type = record::control_type::commit,
                                             .producer_id = 42,
                                             .producer_epoch = 3,
                                             .timestamp_ms = clk.wall_ms()});
  (void)co_await log.append(marker);
  for (int i = 0; i < 30; ++i) {
    co_await put(log, clk, "k", "plain-" + std::to_string(i));
    co_await put(log, clk, "f", std::string(100, 'f'));
  }
  auto r = co_await clean_now(log, c);
  if (!r)
    o.error = r.error().message();
  else
    o.report = *r;
  o.after = co_await read_all(log);
  co_return o;
}

TEST_F(CleanerTest, ControlAndTransactionalBatchesStayWhole) {
  auto out = with_log(dir, compact_config(), {}, [this](partition_log& l, log_cleaner& c) {
    return control_batches(l, c, clk);
  });
  ASSERT_EQ(out.error, "");
  ASSERT_EQ(out.after.problem, "");
  ASSERT_GE(out.after.batches.size(), 2u);
  EXPECT_TRUE(out.after.batches[0].transactional);
  EXPECT_EQ(out.after.batches[0].count, 2) << "transactional data is kept whole";
  EXPECT_TRUE(out.after.batches[1].control);
  EXPECT_EQ(out.after.records[0].value, "txn-1");
  EXPECT_EQ(out.after.records[1].value, "txn-2");
  EXPECT_EQ(duplicated_below(out.after, out.report.end_offset), std::vector<std::string>{"k"})
      << "only the transactional records repeat k";
}

task<outcome> producer_batches(partition_log& log, log_cleaner& c, manual_clock& clk) {
  outcome o;
  for (int i = 0; i < 3; ++i) {
    const batch_spec spec{.records = {{"p", "idem-" + std::to_string(i)}},
                          .timestamp_ms = clk.wall_ms(),
                          .producer_id = 7};
    (void)co_await append(log, spec);
  }
  for (int i = 0; i < 30; ++i) {
    const batch_spec spec{
        .records = {{"p", "plain-" + std::to_string(i)}, {"f", std::string(100, 'f')}},
        .timestamp_ms = clk.wall_ms()};
    (void)co_await append(log, spec);
  }
  auto r = co_await clean_now(log, c);
  if (!r) o.error = r.error().message();
  o.after = co_await read_all(log);
  co_return o;
}

TEST_F(CleanerTest, TheLastBatchOfAProducerStaysAsAnEmptyBatch) {
  auto out = with_log(dir, compact_config(), {}, [this](partition_log& l, log_cleaner& c) {
    return producer_batches(l, c, clk);
  });
  ASSERT_EQ(out.error, "");
  ASSERT_EQ(out.after.problem, "");
  std::vector<batch_meta> producer;
  for (const batch_meta& b : out.after.batches) {
    if (b.producer_id == 7) producer.push_back(b);
  }
  ASSERT_EQ(producer.size(), 1u) << "only the producer's last batch stays";
  EXPECT_EQ(producer[0].base, 2);
  EXPECT_EQ(producer[0].last, 2);
  EXPECT_EQ(producer[0].count, 0);
}

task<std::string> fill_and_clean(partition_log& log, log_cleaner& c, manual_clock& clk,
                                 expectation* want) {
  *want = co_await fill(log, clk, 10, 10, 5);
  auto r = co_await clean_now(log, c);
  co_return r ? "" : r.error().message();
}

task<std::pair<recovery_report, contents>> reread(partition_log& log) {
  contents got = co_await read_all(log);
  co_return std::pair<recovery_report, contents>(log.recovery(), std::move(got));
}

TEST_F(CleanerTest, CleanedSegmentsEndWhereTheReplacedOnesEnded) {
  expectation want;
  auto err = with_log(dir, compact_config(), {}, [this, &want](partition_log& l, log_cleaner& c) {
    return fill_and_clean(l, c, clk, &want);
  });
  ASSERT_EQ(err, "");
  // Full recovery: a cleaned segment whose last batch went would look like a
  // crash's hole before the next segment, and what follows would be dropped.
  auto [report, got] = with_log(
      dir, compact_config(), {}, [](partition_log& l, log_cleaner&) { return reread(l); },
      recovery_state{.recovery_point = 0});
  EXPECT_GT(report.segments_scanned, 1u);
  EXPECT_EQ(report.segments_deleted, 0u);
  EXPECT_EQ(report.bytes_truncated, 0u);
  EXPECT_EQ(got.problem, "");
  EXPECT_EQ(got.latest(), want);
}

task<size_t> retention(partition_log& log, manual_clock& clk) {
  (void)co_await fill(log, clk, 4, 10, 5, compression::none, 1 << 30, 100);
  const size_t deleted = log.apply_retention(clk.wall_ms() + 10'000, 0).segments;
  // The *.deleted files are unlinked in the background: wait until they are.
  const auto pending = [&] {
    for (auto& e : fs::directory_iterator(log.dir())) {
      if (e.path().filename().string().ends_with(".deleted")) return true;
    }
    return false;
  };
  for (int64_t deadline = monotonic_ns() + 30'000'000'000; pending() && monotonic_ns() < deadline;) {
    (void)co_await sleep_for(1ms);
  }
  co_return pending() ? 0 : deleted;
}

TEST_F(CleanerTest, RetentionAppliesOnlyWhenThePolicyIncludesDelete) {
  for (cleanup_policy policy :
       {cleanup_policy::compact, cleanup_policy::compact_delete, cleanup_policy::delete_}) {
    log_config config = compact_config();
    config.cleanup = policy;
    config.retention_ms = 1000;
    const std::string d = dir + "-" + std::to_string(static_cast<int>(policy));
    auto deleted = with_log(d, config, {},
                            [this](partition_log& l, log_cleaner&) { return retention(l, clk); });
    fs::remove_all(d);
    if (policy == cleanup_policy::compact) {
      EXPECT_EQ(deleted, 0u) << "compact only";
    } else {
      EXPECT_GT(deleted, 0u) << static_cast<int>(policy);
    }
  }
}

task<std::vector<int>> max_lag(partition_log& log, log_cleaner& c, manual_clock& clk) {
  std::vector<int> out;
  // First a clean section, so the dirty ratio stays below 0.99.
  (void)co_await fill(log, clk, 4, 10, 5, compression::none, 1 << 30, 100);
  (void)co_await clean_now(log, c);
  (void)co_await fill(log, clk, 1, 10, 2, compression::none, 1 << 30, 300);
  out.push_back(co_await once(log, c));
  clk.advance_ns(6'000'000'000);
  out.push_back(co_await once(log, c));
  co_return out;
}

TEST_F(CleanerTest, MaxCompactionLagForcesACleanBelowTheRatio) {
  log_config config = compact_config();
  config.min_cleanable_dirty_ratio = 0.99;
  config.max_compaction_lag_ms = 5'000;
  EXPECT_EQ(config.roll_ms(), 5'000) << "the active segment rolls by the lag";
  auto out = with_log(dir, config, {},
                      [this](partition_log& l, log_cleaner& c) { return max_lag(l, c, clk); });
  EXPECT_EQ(out, (std::vector<int>{0, 1}));
}

// ---------------------------------------------------------------- crashes

std::string step_name(clean_step s) {
  switch (s) {
    case clean_step::cleaned_written:
      return "cleaned_written";
    case clean_step::swap_indexes_renamed:
      return "swap_indexes_renamed";
    case clean_step::swap_committed:
      return "swap_committed";
    case clean_step::old_segment_renamed:
      return "old_segment_renamed";
    case clean_step::old_segments_deleted:
      return "old_segments_deleted";
    case clean_step::final_log_renamed:
      return "final_log_renamed";
    case clean_step::swapped:
      return "swapped";
  }
  return "?";
}

struct crash_plan {
  std::string dir;
  std::string copy;
  clean_step at;
  int occurrence;
};

struct crash_made {
  expectation want;
  int64_t end = 0;
  bool copied = false;
  std::string error;
};

task<crash_made> clean_with_crash_copy(partition_log& log, log_cleaner& c, manual_clock& clk,
                                       crash_plan plan) {
  crash_made o;
  o.want = co_await fill(log, clk, 12, 16, 4, compression::lz4, 8);
  o.end = log.log_end_offset();
  int seen = 0;
  c.set_step_hook([&](clean_step s) {
    if (s != plan.at || ++seen != plan.occurrence) return;
    // What a crash here leaves: the directory as it is now (every step
    // before it was made durable).
    fs::copy(plan.dir, plan.copy, fs::copy_options::recursive);
    o.copied = true;
  });
  auto r = co_await clean_now(log, c);
  c.set_step_hook({});
  if (!r) o.error = r.error().message();
  co_return o;
}

struct crash_reopened {
  contents after;
  int64_t end = 0;
  std::vector<std::string> leftovers;
};

task<crash_reopened> reopen_after_crash(partition_log& log, std::string copy) {
  crash_reopened o;
  o.after = co_await read_all(log);
  o.end = log.log_end_offset();
  for (auto& e : fs::directory_iterator(copy)) {
    const std::string n = e.path().filename().string();
    if (n.ends_with(".cleaned") || n.ends_with(".swap")) o.leftovers.push_back(n);
  }
  co_return o;
}

TEST_F(CleanerTest, ACrashAtEveryStepOfTheSwapRecoversAWholeLog) {
  const clean_step steps[] = {clean_step::cleaned_written,
                              clean_step::swap_indexes_renamed,
                              clean_step::swap_committed,
                              clean_step::old_segment_renamed,
                              clean_step::old_segments_deleted,
                              clean_step::final_log_renamed,
                              clean_step::swapped};
  for (clean_step at : steps) {
    for (int occurrence : {1, 2}) {  // in the first group, and in a later one
      SCOPED_TRACE(step_name(at) + " #" + std::to_string(occurrence));
      const crash_plan plan{dir, dir + "-copy", at, occurrence};
      fs::remove_all(plan.dir);
      fs::remove_all(plan.copy);
      auto made =
          with_log(dir, compact_config(), {}, [this, plan](partition_log& l, log_cleaner& c) {
            return clean_with_crash_copy(l, c, clk, plan);
          });
      ASSERT_EQ(made.error, "");
      ASSERT_TRUE(made.copied);
      auto re = with_log(
          plan.copy, compact_config(), {},
          [plan](partition_log& l, log_cleaner&) { return reopen_after_crash(l, plan.copy); },
          recovery_state{.recovery_point = 0});
      EXPECT_EQ(re.after.problem, "");
      EXPECT_EQ(re.end, made.end);
      EXPECT_EQ(re.after.latest(), made.want) << describe(re.after.latest());
      EXPECT_TRUE(re.leftovers.empty()) << re.leftovers.front();
      for (size_t i = 1; i < re.after.records.size(); ++i) {
        ASSERT_LT(re.after.records[i - 1].offset, re.after.records[i].offset) << "a record twice";
      }
    }
  }
}

task<expectation> fill_only(partition_log& log, manual_clock& clk) {
  co_return co_await fill(log, clk, 4, 10, 5);
}

task<contents> read_only(partition_log& log) { co_return co_await read_all(log); }

TEST_F(CleanerTest, RecoveryRemovesUncommittedCleanedAndSwapIndexFiles) {
  auto want = with_log(dir, compact_config(), {},
                       [this](partition_log& l, log_cleaner&) { return fill_only(l, clk); });
  // A .cleaned segment and an index .swap without its .log.swap: a swap that
  // never committed.
  const std::string base = dir + "/00000000000000000000";
  fs::copy_file(base + ".log", base + ".log.cleaned");
  fs::copy_file(base + ".index", base + ".index.swap");
  auto got = with_log(
      dir, compact_config(), {}, [](partition_log& l, log_cleaner&) { return read_only(l); },
      recovery_state{.recovery_point = 0});
  EXPECT_EQ(got.problem, "");
  EXPECT_EQ(got.latest(), want);
  EXPECT_FALSE(fs::exists(base + ".log.cleaned"));
  EXPECT_FALSE(fs::exists(base + ".index.swap"));
}

task<void> truncate_log(partition_log* log, int64_t offset) {
  (void)co_await log->truncate_to(offset);
}

struct truncation_result {
  std::string error;
  clean_report during;
  clean_report next;
  expectation want;  // the latest record of each key below the truncation point
  contents after;
};

task<truncation_result> truncate_mid_clean(partition_log& log, log_cleaner& c, manual_clock& clk) {
  truncation_result o;
  expectation all = co_await fill(log, clk, 12, 16, 4);
  const int64_t cut = log.log_end_offset() / 2;
  // The history below the cut, for the expectation.
  contents before = co_await read_all(log);
  for (const rec& r : before.records) {
    if (r.offset < cut) o.want[*r.key] = {r.offset, r.value};
  }
  bool spawned = false;
  c.set_step_hook([&](clean_step s) {
    if (s != clean_step::cleaned_written || spawned) return;
    spawned = true;
    // A follower's truncation, running while the cleaner waits for its sync.
    spawn(truncate_log(&log, cut), "truncate");
  });
  auto during = co_await clean_now(log, c);
  c.set_step_hook({});
  auto next = co_await clean_now(log, c);
  if (!during || !next) {
    o.error = "clean failed";
    co_return o;
  }
  o.during = *during;
  o.next = *next;
  o.after = co_await read_all(log);
  co_return o;
}

TEST_F(CleanerTest, ATruncationDuringACleanStopsItBeforeTheSwap) {
  auto out = with_log(dir, compact_config(), {}, [this](partition_log& l, log_cleaner& c) {
    return truncate_mid_clean(l, c, clk);
  });
  ASSERT_EQ(out.error, "");
  ASSERT_EQ(out.after.problem, "");
  EXPECT_TRUE(out.during.aborted);
  EXPECT_EQ(out.during.groups, 0u) << "nothing swapped after the truncation";
  EXPECT_EQ(out.next.first_dirty_offset, 0) << "a truncated log is mapped again from its start";
  EXPECT_EQ(out.after.latest(), out.want);
  for (auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    EXPECT_FALSE(n.ends_with(".cleaned") || n.ends_with(".swap")) << n;
  }
}

// ---------------------------------------------------------------- aborts, throttle

task<void> clean_in_background(log_cleaner* c, partition_log* log) {
  (void)co_await c->clean(*log);
}

task<std::string> remove_mid_clean(partition_log& log, log_cleaner& c, manual_clock& clk) {
  (void)co_await fill(log, clk, 3, 100, 4, compression::none, 1 << 30, 400);
  spawn(clean_in_background(&c, &log), "clean");
  // Mid-clean is when the cleaned segment is being written: wait for its
  // file (the throttle keeps the write going for seconds after that).
  const auto writing = [&] {
    for (auto& e : fs::directory_iterator(log.dir())) {
      if (e.path().filename().string().ends_with(".cleaned")) return true;
    }
    return false;
  };
  for (int64_t deadline = monotonic_ns() + 30'000'000'000; !writing();) {
    if (!c.busy()) co_return "the clean ended before it wrote a .cleaned file";
    if (monotonic_ns() > deadline) co_return "no .cleaned file within 30 s";
    (void)co_await sleep_for(1ms);
  }
  if (!c.busy()) co_return "the clean ended too soon";
  co_await c.remove(&log);
  if (c.busy()) co_return "still busy after remove";
  c.add(&log, log.log_start_offset());  // for with_log's own remove
  co_return "";
}

TEST_F(CleanerTest, RemovingALogAbortsItsCleanAndLeavesNoTemporaryFiles) {
  cleaner_config cc;
  cc.io_max_bytes_per_second = 100'000;  // slow enough to be caught mid-clean
  log_config config = compact_config();
  config.segment_bytes = 64 << 10;
  auto out = with_log(dir, config, cc, [this](partition_log& l, log_cleaner& c) {
    return remove_mid_clean(l, c, clk);
  });
  EXPECT_EQ(out, "");
  for (auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    EXPECT_FALSE(n.ends_with(".cleaned") || n.ends_with(".swap")) << n;
  }
}

task<std::pair<uint64_t, int64_t>> timed_clean(partition_log& log, log_cleaner& c,
                                               manual_clock& clk) {
  (void)co_await fill(log, clk, 3, 100, 4, compression::none, 1 << 30, 400);
  const int64_t start = monotonic_ns();
  auto r = co_await clean_now(log, c);
  const int64_t took = monotonic_ns() - start;
  co_return std::pair<uint64_t, int64_t>{r ? r->bytes_read + r->bytes_written : 0, took};
}

TEST_F(CleanerTest, TheIoLimitHoldsTheCleanToItsRate) {
  cleaner_config cc;
  cc.io_max_bytes_per_second = 2'000'000;
  log_config config = compact_config();
  config.segment_bytes = 64 << 10;
  auto [bytes, took_ns] = with_log(
      dir, config, cc, [this](partition_log& l, log_cleaner& c) { return timed_clean(l, c, clk); });
  ASSERT_GT(bytes, 150'000u);
  // Past the first 100 KB (the bucket's burst), the rate holds.
  const double floor_s = (static_cast<double>(bytes) - 100'000.0) / 2'000'000.0;
  EXPECT_GE(static_cast<double>(took_ns) / 1e9, floor_s * 0.9) << bytes << " bytes";
}

// ---------------------------------------------------------------- ringlog-dump

std::string dump_binary() {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "";
  self[n] = 0;
  // build/<preset>/tests/unit/log_test -> build/<preset>/tools/dump/ringlog-dump
  return (fs::path(self).parent_path() / "../../tools/dump/ringlog-dump")
      .lexically_normal()
      .string();
}

task<std::string> fill_zstd_and_clean(partition_log& log, log_cleaner& c, manual_clock& clk) {
  (void)co_await fill(log, clk, 8, 12, 4, compression::zstd, 4);
  auto r = co_await clean_now(log, c);
  co_return r ? "" : r.error().message();
}

TEST_F(CleanerTest, RinglogDumpReadsACleanedSegment) {
  const std::string tool = dump_binary();
  if (!fs::exists(tool)) GTEST_SKIP() << "ringlog-dump not built at " << tool;
  auto err = with_log(dir, compact_config(), {}, [this](partition_log& l, log_cleaner& c) {
    return fill_zstd_and_clean(l, c, clk);
  });
  ASSERT_EQ(err, "");
  std::string files;
  for (auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".log") files += " " + e.path().string();
  }
  ASSERT_FALSE(files.empty());
  for (const char* mode : {"--deep", "--verify-index"}) {
    const std::string cmd = tool + " " + mode + files + " > /dev/null 2>&1";
    const int rc = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << cmd << " exited " << WEXITSTATUS(rc);
  }
}

// ---------------------------------------------------------------- log manager

class CleanerLogManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root = ::testing::TempDir() + "ringlog-clean-lm-" + std::to_string(::getpid());
    fs::remove_all(root);
    rt = std::make_unique<runtime>(runtime_options{.shards = 2, .pin_threads = false});
    ASSERT_TRUE(rt->start());
  }
  void TearDown() override {
    rt->stop();
    fs::remove_all(root);
  }
  std::string root;
  std::unique_ptr<runtime> rt;
};

task<int64_t> fill_topic(log_manager* lm, topic_partition tp, log_config config) {
  co_return co_await invoke_on(lm->shard_of(tp), [&]() -> task<int64_t> {
    return [](log_manager* m, topic_partition t, log_config c) -> task<int64_t> {
      auto log = co_await m->create(t, c);
      if (!log) co_return -1;
      for (int r = 0; r < 20; ++r) {
        for (int k = 0; k < 10; ++k) {
          auto b = build({.records = {{"k" + std::to_string(k), "r" + std::to_string(r)}},
                          .timestamp_ms = wall_ms()});
          if (!co_await (*log)->append(b)) co_return -2;
        }
      }
      (void)co_await (*log)->flush();
      co_return (*log)->log_end_offset();
    }(lm, tp, config);
  });
}

task<uint64_t> size_of(log_manager* lm, topic_partition tp) {
  co_return co_await invoke_on(lm->shard_of(tp), [&] {
    partition_log* l = lm->get(tp);
    return l ? l->size_bytes() : 0;
  });
}

task<int64_t> first_dirty_of(log_manager* lm, topic_partition tp) {
  co_return co_await invoke_on(
      lm->shard_of(tp), [&] { return lm->cleaner().first_dirty_offset(lm->get(tp)).value_or(-1); });
}

TEST_F(CleanerLogManagerTest, RunsTheCleanerAndKeepsItsCheckpoint) {
  log_manager_config cfg;
  cfg.log_dirs = {root + "/a"};
  cfg.cleaner.backoff_ms = 10;
  cfg.cleaner.dedupe_buffer_bytes = 1 << 20;
  const log_config compacted = compact_config();
  const topic_partition tp{"compacted", 0};
  {
    log_manager lm(*rt, cfg);
    ASSERT_TRUE(lm.start());
    EXPECT_EQ(rt->block_on(0, fill_topic(&lm, tp, compacted)), 200);
    const uint64_t full = rt->block_on(0, size_of(&lm, tp));
    // The loop's clean ends with the first dirty offset moved.
    for (int i = 0; i < 300 && rt->block_on(0, first_dirty_of(&lm, tp)) == 0; ++i) {
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_LT(rt->block_on(0, size_of(&lm, tp)) * 2, full)
        << "the shard's cleaner loop compacted the log";
    ASSERT_TRUE(lm.stop());
  }
  auto text = read_small_file(root + "/a/cleaner-offset-checkpoint", 1 << 20);
  ASSERT_TRUE(text);
  auto entries = parse_offset_checkpoint(*text, "cp");
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].topic, "compacted");
  EXPECT_GT((*entries)[0].offset, 0);
  // A restart reads it back: the cleaner starts where it stopped.
  cfg.cleaner_enable = false;
  log_manager again(*rt, cfg);
  again.set_topic_config([&](std::string_view) { return compacted; });
  ASSERT_TRUE(again.start());
  EXPECT_EQ(rt->block_on(0, first_dirty_of(&again, tp)), (*entries)[0].offset);
  ASSERT_TRUE(again.stop());
}

}  // namespace
}  // namespace ringlog::storage
