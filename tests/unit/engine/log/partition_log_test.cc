// partition_log: appends get consecutive offsets and come back byte for byte,
// concurrent appends share fdatasync rounds, segments roll, and a log reopens
// after a clean close or recovers after a crash (torn tail, corrupt batch).
#include "engine/log/partition_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "engine/log/errc.h"
#include "engine/log/flusher.h"
#include "engine/record/batch_builder.h"
#include "engine/record/record_batch.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/invoke.h"
#include "engine/runtime/timer.h"
#include "engine/runtime/when_all.h"

namespace ringlog::storage {
namespace {

namespace fs = std::filesystem;

// Timestamps are now: a segment whose first batch is older than segment.ms
// (7 days) rolls at the next append, as in Kafka.
std::vector<std::byte> make_batch(int records, int value_bytes) {
  const int64_t timestamp_ms = wall_ms();
  record::batch_builder b({});
  std::string value(static_cast<size_t>(value_bytes), 'v');
  for (int i = 0; i < records; ++i) {
    std::string key = "key-" + std::to_string(i);
    b.add({.key = record::as_bytes(key), .value = record::as_bytes(value), .timestamp_ms = timestamp_ms + i});
  }
  return std::move(*b.build());
}

std::vector<std::byte> read_file(const std::string& path) {
  std::vector<std::byte> out;
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return out;
  struct stat st;
  ::fstat(fd, &st);
  out.resize(static_cast<size_t>(st.st_size));
  EXPECT_EQ(::pread(fd, out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
  ::close(fd);
  return out;
}

// The bytes a read slice names.
std::vector<std::byte> slice_bytes(const read_slice& s) {
  std::vector<std::byte> out(s.bytes);
  EXPECT_EQ(::pread(s.file->fd, out.data(), out.size(), static_cast<off_t>(s.position)),
            static_cast<ssize_t>(out.size()));
  return out;
}

class PartitionLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = ::testing::TempDir() + "ringlog-plog-" + std::to_string(::getpid()) + "-" +
          ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir);
    rt = std::make_unique<runtime>(runtime_options{.shards = 1, .pin_threads = false});
    ASSERT_TRUE(rt->start());
  }
  void TearDown() override {
    rt->stop();
    fs::remove_all(dir);
  }

  // Runs body(log) on shard 0 with a freshly opened log, then closes it.
  template <class F>
  auto with_log(log_config config, recovery_state state, F body) {
    return rt->block_on(0, run_with_log(dir, config, state, std::move(body), &fl));
  }

  template <class F>
  static task<typename std::invoke_result_t<F&, partition_log&>::value_type> run_with_log(std::string d, log_config c,
                                                                      recovery_state s, F body,
                                                                      flusher* f) {
    auto opened = co_await partition_log::open(d, c, *f, s);
    RINGLOG_ASSERT(opened.has_value(), "open failed: {}", opened.error().message());
    auto log = std::move(*opened);
    auto out = co_await body(*log);
    status st = co_await log->close();
    RINGLOG_ASSERT(st.has_value(), "close failed: {}", st.error().message());
    co_return out;
  }

  std::string dir;
  std::unique_ptr<runtime> rt;
  flusher fl;
};

task<std::vector<int64_t>> append_n(partition_log& log, int n, int records) {
  std::vector<int64_t> bases;
  for (int i = 0; i < n; ++i) {
    auto b = make_batch(records, 100);
    auto r = co_await log.append(b);
    if (!r) co_return std::vector<int64_t>{-1};
    bases.push_back(r->base_offset);
    if (r->last_offset != r->base_offset + records - 1) co_return std::vector<int64_t>{-2};
  }
  co_return bases;
}

TEST_F(PartitionLogTest, AppendsGetConsecutiveOffsetsAndAreDurableOnReturn) {
  auto result = with_log({}, {}, [](partition_log& log) -> task<std::vector<int64_t>> {
    auto bases = co_await append_n(log, 5, 3);
    bases.push_back(log.log_end_offset());
    bases.push_back(log.durable_end());
    co_return bases;
  });
  EXPECT_EQ(result, (std::vector<int64_t>{0, 3, 6, 9, 12, 15, 15}));
}

task<std::vector<std::byte>> append_and_read_back(partition_log& log, std::vector<std::byte>* written) {
  for (int i = 0; i < 4; ++i) {
    auto b = make_batch(2, 50 + i);
    (void)co_await log.append(b);  // b now carries its assigned base offset
    written->insert(written->end(), b.begin(), b.end());
  }
  auto s = co_await log.read(5, 1 << 20);
  if (!s) co_return std::vector<std::byte>{};
  co_return slice_bytes(*s);
}

TEST_F(PartitionLogTest, ReadReturnsTheBatchHoldingTheOffsetOnwardsByteForByte) {
  std::vector<std::byte> written;
  auto got = with_log({}, {}, [&](partition_log& log) { return append_and_read_back(log, &written); });
  // Offset 5 is the second record of the third batch (offsets 4..5).
  const size_t third = record::record_batch_view::peek_size(written).value() * 0;
  size_t pos = third;
  for (int i = 0; i < 2; ++i) pos += record::record_batch_view::peek_size(std::span(written).subspan(pos)).value();
  ASSERT_EQ(got.size(), written.size() - pos);
  EXPECT_TRUE(std::equal(got.begin(), got.end(), written.begin() + static_cast<long>(pos)));
  auto view = record::record_batch_view::parse(got);
  ASSERT_TRUE(view) << view.error().message();
  EXPECT_EQ(view->base_offset(), 4);  // rewritten in place, CRC still valid
  // The .log on disk is exactly the batches appended.
  EXPECT_EQ(read_file(dir + "/00000000000000000000.log"), written);
}

task<std::vector<std::string>> range_errors(partition_log& log) {
  std::vector<std::string> out;
  (void)co_await append_n(log, 2, 5);
  for (int64_t off : {-1L, 10L, 11L}) {
    auto r = co_await log.read(off, 100);
    out.push_back(r ? (r->bytes == 0 ? "empty" : "data") : (r.error().is(errc::offset_out_of_range) ? "out_of_range" : r.error().message()));
  }
  auto first = co_await log.read(0, 1);  // at least one whole batch even if max_bytes is smaller
  out.push_back(first && first->bytes > 1 ? "whole batch" : "cut");
  co_return out;
}

TEST_F(PartitionLogTest, ReadsOutsideTheLogAreOffsetOutOfRange) {
  auto out = with_log({}, {}, range_errors);
  EXPECT_EQ(out, (std::vector<std::string>{"out_of_range", "empty", "out_of_range", "whole batch"}));
}

task<std::vector<uint64_t>> concurrent_appends(partition_log& log, flusher* f, int n) {
  std::vector<std::vector<std::byte>> batches;
  for (int i = 0; i < n; ++i) batches.push_back(make_batch(1, 200));
  std::vector<task<result<append_info>>> appends;
  for (auto& b : batches) appends.push_back(log.append(b));
  const uint64_t rounds_before = f->rounds();
  auto results = co_await when_all(std::move(appends));
  uint64_t ok_count = 0;
  std::vector<int64_t> offsets;
  for (auto& r : results) {
    if (r) {
      ++ok_count;
      offsets.push_back(r->base_offset);
    }
  }
  std::sort(offsets.begin(), offsets.end());
  bool contiguous = true;
  for (size_t i = 0; i < offsets.size(); ++i) contiguous &= offsets[i] == static_cast<int64_t>(i);
  co_return std::vector<uint64_t>{ok_count, contiguous ? 1u : 0u, f->rounds() - rounds_before,
                                  static_cast<uint64_t>(log.durable_end())};
}

TEST_F(PartitionLogTest, ConcurrentAppendsShareFlushRounds) {
  auto out = with_log({}, {}, [this](partition_log& log) { return concurrent_appends(log, &fl, 500); });
  EXPECT_EQ(out[0], 500u);
  EXPECT_EQ(out[1], 1u) << "offsets 0..499 each assigned once";
  EXPECT_EQ(out[3], 500u);
  // Group commit: far fewer fdatasync rounds than appends (one round runs
  // while the next batch of appends gathers).
  EXPECT_LT(out[2], 50u) << "rounds: " << out[2];
  EXPECT_GE(out[2], 1u);
}

// Appends one batch to each of `n` logs (directories under `d`) at once
// through `f`; returns {appends acknowledged, logs whose durable end covers
// their batch, syncfs calls, per-file syncs, flush rounds}, the last three as
// deltas.
task<std::vector<uint64_t>> one_append_per_log(std::string d, int n, flusher* f) {
  std::vector<std::unique_ptr<partition_log>> logs;
  for (int i = 0; i < n; ++i) {
    auto opened = co_await partition_log::open(d + "/t-" + std::to_string(i), {}, *f, {});
    RINGLOG_ASSERT(opened.has_value(), "open failed: {}", opened.error().message());
    logs.push_back(std::move(*opened));
  }
  const uint64_t syncfs_before = f->syncfs_calls();
  const uint64_t syncs_before = f->syncs();
  const uint64_t rounds_before = f->rounds();
  std::vector<std::vector<std::byte>> batches;
  for (int i = 0; i < n; ++i) batches.push_back(make_batch(3, 200));
  std::vector<task<result<append_info>>> appends;
  for (int i = 0; i < n; ++i) appends.push_back(logs[static_cast<size_t>(i)]->append(batches[static_cast<size_t>(i)]));
  auto results = co_await when_all(std::move(appends));
  uint64_t acked = 0;
  uint64_t durable = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    acked += results[i] ? 1 : 0;
    durable += logs[i]->durable_end() == 3 ? 1 : 0;
  }
  std::vector<uint64_t> out{acked, durable, f->syncfs_calls() - syncfs_before,
                            f->syncs() - syncs_before, f->rounds() - rounds_before};
  for (auto& log : logs) {
    status st = co_await log->close();
    RINGLOG_ASSERT(st.has_value(), "close failed: {}", st.error().message());
  }
  co_return out;
}

TEST_F(PartitionLogTest, ARoundWithManyFilesUsesOneSyncfs) {
  fl.set_syncfs_min_files(8);
  auto out = rt->block_on(0, one_append_per_log(dir, 40, &fl));
  EXPECT_EQ(out[0], 40u);
  EXPECT_EQ(out[1], 40u) << "every acknowledged append is durable";
  EXPECT_GE(out[2], 1u) << "40 dirty logs, min 8 files: the round syncs by syncfs";
  EXPECT_LT(out[3], 40u) << "not one fdatasync per log as well";
}

TEST_F(PartitionLogTest, SyncfsOffSyncsEachFile) {
  fl.set_syncfs_min_files(0);
  auto out = rt->block_on(0, one_append_per_log(dir, 20, &fl));
  EXPECT_EQ(out[0], 20u);
  EXPECT_EQ(out[1], 20u);
  EXPECT_EQ(out[2], 0u);
  EXPECT_GE(out[3], 20u) << "one fdatasync per segment at least";
}

// One produce request for several partitions appends to each in the same
// turn; their writes finish one by one on io-wq workers. The round must wait
// for all of them rather than start at the first: otherwise the request waits
// for a second round.
TEST_F(PartitionLogTest, WritesOfOneTurnShareOneFlushRound) {
  fl.set_syncfs_min_files(0);
  fl.set_write_wait_ns(60'000'000'000);  // the mechanism, not the 250 us bound
  auto out = rt->block_on(0, one_append_per_log(dir, 8, &fl));
  EXPECT_EQ(out[0], 8u);
  EXPECT_EQ(out[1], 8u);
  EXPECT_EQ(out[4], 1u) << "the 8 appends of one turn: one round, not one per completion";
}

size_t open_fds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Opens `n` logs under `d`, appends to each, and returns the descriptors
// the process gained while they were open.
task<size_t> fds_of_open_logs(std::string d, int n, flusher* f) {
  const size_t before = open_fds();
  std::vector<std::unique_ptr<partition_log>> logs;
  for (int i = 0; i < n; ++i) {
    auto opened = co_await partition_log::open(d + "/t-" + std::to_string(i), {}, *f, {});
    RINGLOG_ASSERT(opened.has_value(), "open failed: {}", opened.error().message());
    logs.push_back(std::move(*opened));
    auto b = make_batch(3, 100);
    auto r = co_await logs.back()->append(b);
    RINGLOG_ASSERT(r.has_value(), "append failed: {}", r.error().message());
  }
  const size_t during = open_fds();
  for (auto& log : logs) (void)co_await log->close();
  co_return during - before;
}

TEST_F(PartitionLogTest, AnOpenPartitionHoldsOneDescriptor) {
  // 10,000 partitions must fit in a 20,000 RLIMIT_NOFILE: the active .log
  // only (indexes are in memory or mapped, directories opened to fsync).
  const size_t gained = rt->block_on(0, fds_of_open_logs(dir, 200, &fl));
  EXPECT_LE(gained, 200u + 8u) << "descriptors for 200 open partitions";
}

TEST_F(PartitionLogTest, ActiveIndexesAreRebuiltFromTheLogAfterACrash) {
  log_config small;
  small.index_interval_bytes = 256;
  const std::string crashed = dir + "-crashed";
  fs::remove_all(crashed);
  // While the log is open, its active indexes are in memory only: a copy of
  // the directory taken now is what a crash leaves.
  (void)with_log(small, {}, [&](partition_log& log) -> task<int> {
    (void)co_await append_n(log, 40, 3);
    fs::copy(dir, crashed);
    co_return 0;
  });
  EXPECT_EQ(fs::file_size(crashed + "/00000000000000000000.index"), 0u)
      << "entries reach the file at roll or clean close only";
  ASSERT_GT(fs::file_size(dir + "/00000000000000000000.index"), 0u);
  // Recovery after the crash rebuilds the same indexes from the .log.
  std::string saved = dir;
  dir = crashed;
  auto bases = with_log(small, {.recovery_point = 0}, [](partition_log& log) -> task<std::vector<int64_t>> {
    std::vector<int64_t> out{log.log_end_offset()};
    for (int64_t off : {0L, 61L, 119L}) {
      auto s = co_await log.read(off, 1);
      out.push_back(s ? record::record_batch_view::parse(slice_bytes(*s))->base_offset() : -1);
    }
    co_return out;
  });
  dir = saved;
  EXPECT_EQ(bases, (std::vector<int64_t>{120, 0, 60, 117}));
  EXPECT_EQ(read_file(crashed + "/00000000000000000000.index"),
            read_file(dir + "/00000000000000000000.index"));
  EXPECT_EQ(read_file(crashed + "/00000000000000000000.timeindex"),
            read_file(dir + "/00000000000000000000.timeindex"));
  fs::remove_all(crashed);
}

TEST_F(PartitionLogTest, RollsSegmentsAndReadsAcrossThem) {
  log_config small;
  small.segment_bytes = 4096;
  small.index_interval_bytes = 512;
  auto out = with_log(small, {}, [](partition_log& log) -> task<std::vector<int64_t>> {
    std::vector<int64_t> seen;
    (void)co_await append_n(log, 60, 2);  // ~360 bytes each: many segments
    seen.push_back(static_cast<int64_t>(log.segment_count()));
    for (int64_t off : {0L, 17L, 64L, 119L}) {
      auto s = co_await log.read(off, 1);
      if (!s) {
        seen.push_back(-1);
        continue;
      }
      auto bytes = slice_bytes(*s);
      auto v = record::record_batch_view::parse(bytes);
      seen.push_back(v ? v->base_offset() : -2);
    }
    co_return seen;
  });
  EXPECT_GT(out[0], 4);
  EXPECT_EQ(std::vector<int64_t>(out.begin() + 1, out.end()), (std::vector<int64_t>{0, 16, 64, 118}));
  // Segment files are named by their base offsets, 20 digits, Kafka's way.
  EXPECT_TRUE(fs::exists(dir + "/00000000000000000000.log"));
  int named = 0;
  for (auto& e : fs::directory_iterator(dir)) named += e.path().extension() == ".log";
  EXPECT_EQ(named, out[0]);
  // A rolled segment's indexes are trimmed to their entries.
  EXPECT_LT(fs::file_size(dir + "/00000000000000000000.index"), 4096u);
}

// A smaller segment.bytes (AlterConfigs) rolls the active segment at its next
// append, not only the segments created afterwards.
TEST_F(PartitionLogTest, SegmentBytesChangeRollsTheActiveSegment) {
  auto out = with_log({}, {}, [](partition_log& log) -> task<std::vector<int64_t>> {
    std::vector<int64_t> seen;
    (void)co_await append_n(log, 20, 2);
    seen.push_back(static_cast<int64_t>(log.segment_count()));
    log_config smaller = log.config();
    smaller.segment_bytes = 1024;
    log.set_config(smaller);
    (void)co_await append_n(log, 20, 2);
    seen.push_back(static_cast<int64_t>(log.segment_count()));
    co_return seen;
  });
  EXPECT_EQ(out[0], 1);
  EXPECT_GT(out[1], 3);
}

TEST_F(PartitionLogTest, ReopensAfterCleanCloseWithoutRescanning) {
  log_config small;
  small.segment_bytes = 8192;
  (void)with_log(small, {}, [](partition_log& log) { return append_n(log, 40, 3); });
  auto out = with_log(small, {.recovery_point = 120, .clean_shutdown = true},
                      [](partition_log& log) -> task<std::vector<int64_t>> {
                        std::vector<int64_t> v{log.log_end_offset(),
                                               static_cast<int64_t>(log.recovery().segments_scanned)};
                        auto r = co_await append_n(log, 1, 1);
                        v.push_back(r.front());
                        co_return v;
                      });
  EXPECT_EQ(out, (std::vector<int64_t>{120, 0, 120}));
}

TEST_F(PartitionLogTest, RecoveryTruncatesATornTail) {
  (void)with_log({}, {}, [](partition_log& log) { return append_n(log, 10, 2); });
  const std::string path = dir + "/00000000000000000000.log";
  const auto whole = fs::file_size(path);
  // A crash mid-write: half of one more batch reached the file.
  auto extra = make_batch(2, 100);
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
  ASSERT_EQ(::write(fd, extra.data(), extra.size() / 2), static_cast<ssize_t>(extra.size() / 2));
  ::close(fd);
  auto out = with_log({}, {.recovery_point = 0}, [](partition_log& log) -> task<std::vector<int64_t>> {
    std::vector<int64_t> v{log.log_end_offset(), static_cast<int64_t>(log.recovery().bytes_truncated)};
    auto r = co_await append_n(log, 1, 2);
    v.push_back(r.front());
    co_return v;
  });
  EXPECT_EQ(out[0], 20);
  EXPECT_EQ(out[1], static_cast<int64_t>(extra.size() / 2));
  EXPECT_EQ(out[2], 20) << "appends continue where the valid log ends";
  EXPECT_EQ(fs::file_size(path), whole + make_batch(2, 100).size());
}

TEST_F(PartitionLogTest, RecoveryCutsAtACorruptBatchAndDropsLaterSegments) {
  log_config small;
  small.segment_bytes = 2048;
  (void)with_log(small, {}, [](partition_log& log) { return append_n(log, 30, 2); });
  std::vector<std::string> logs;
  for (auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".log") logs.push_back(e.path().string());
  }
  std::sort(logs.begin(), logs.end());
  ASSERT_GE(logs.size(), 3u);
  // Flip one byte inside the second batch of the second segment.
  auto second = read_file(logs[1]);
  const size_t first_size = record::record_batch_view::peek_size(second).value();
  const size_t flip = first_size + 70;
  int fd = ::open(logs[1].c_str(), O_WRONLY);
  std::byte b = second[flip] ^ std::byte{0xff};
  ASSERT_EQ(::pwrite(fd, &b, 1, static_cast<off_t>(flip)), 1);
  ::close(fd);
  const int64_t second_base = parse_segment_file_name(fs::path(logs[1]).filename().string(), ".log");

  auto out = with_log(small, {.recovery_point = 0}, [](partition_log& log) -> task<std::vector<int64_t>> {
    co_return std::vector<int64_t>{log.log_end_offset(), static_cast<int64_t>(log.segment_count()),
                                   static_cast<int64_t>(log.recovery().segments_deleted)};
  });
  EXPECT_EQ(out[0], second_base + 2) << "the log ends after the first batch of segment 2";
  EXPECT_EQ(out[1], 2);
  EXPECT_EQ(out[2], static_cast<int64_t>(logs.size()) - 2);
  EXPECT_FALSE(fs::exists(logs[2]));
}

TEST_F(PartitionLogTest, RejectsAnInvalidBatchAndStoresNothing) {
  auto out = with_log({}, {}, [](partition_log& log) -> task<std::vector<std::string>> {
    std::vector<std::string> v;
    auto b = make_batch(3, 10);
    b[b.size() - 1] ^= std::byte{1};  // CRC no longer matches
    auto r = co_await log.append(b);
    v.push_back(r ? "stored" : r.error().message().substr(0, 40));
    v.push_back(std::to_string(log.log_end_offset()));
    co_return v;
  });
  EXPECT_EQ(out[1], "0");
  EXPECT_NE(out[0], "stored");
}

std::vector<std::byte> batch_at(int records, int64_t first_timestamp_ms) {
  record::batch_builder b({});
  for (int i = 0; i < records; ++i) {
    b.add({.value = record::as_bytes("x"), .timestamp_ms = first_timestamp_ms + i * 10});
  }
  return std::move(*b.build());
}

task<std::vector<int64_t>> timestamps(partition_log& log, int64_t t0) {
  // 20 batches of 5 records; record k has timestamp t0 + 10k. Small segments
  // so the search crosses segment boundaries.
  for (int i = 0; i < 20; ++i) {
    auto b = batch_at(5, t0 + i * 50);
    (void)co_await log.append(b);
  }
  std::vector<int64_t> out;
  for (int64_t ts : {t0 - 1000, t0, t0 + 5, t0 + 10, t0 + 555, t0 + 990, t0 + 991,
                     k_latest_timestamp, k_earliest_timestamp, k_max_timestamp}) {
    auto r = co_await log.offset_for_timestamp(ts);
    if (!r) {
      out.push_back(-100);
    } else if (!*r) {
      out.push_back(-1);
    } else {
      out.push_back((*r)->offset);
      if (ts == k_max_timestamp) out.push_back((*r)->timestamp - t0);
    }
  }
  co_return out;
}

TEST_F(PartitionLogTest, OffsetForTimestampFollowsListOffsets) {
  log_config small;
  small.segment_bytes = 1024;
  small.index_interval_bytes = 100;
  const int64_t t0 = wall_ms() - 60'000;
  auto out = with_log(small, {}, [t0](partition_log& log) { return timestamps(log, t0); });
  // Offsets: before everything -> 0; exact -> its offset; between two
  // records -> the next; past the newest -> none; latest = end (100),
  // earliest = 0, max timestamp -> offset 99 at t0 + 990.
  EXPECT_EQ(out, (std::vector<int64_t>{0, 0, 1, 1, 56, 99, -1, 100, 0, 99, 990}));
}

task<std::vector<int64_t>> truncation(partition_log& log) {
  (void)co_await append_n(log, 30, 4);  // offsets 0..119 in batches of 4
  std::vector<int64_t> out{static_cast<int64_t>(log.segment_count())};
  auto st = co_await log.truncate_to(50);  // inside batch 48..51: that batch goes
  out.push_back(st ? 0 : -1);
  out.push_back(log.log_end_offset());
  out.push_back(log.durable_end());
  out.push_back(static_cast<int64_t>(log.segment_count()));
  auto r = co_await log.read(47, 1 << 20);
  out.push_back(r ? static_cast<int64_t>(r->bytes > 0) : -1);
  auto beyond = co_await log.read(49, 10);
  out.push_back(beyond ? 0 : 1);
  auto again = co_await append_n(log, 1, 4);
  out.push_back(again.front());
  co_return out;
}

TEST_F(PartitionLogTest, TruncateToRemovesTheTailFromTheHoldingBatch) {
  log_config small;
  small.segment_bytes = 2048;
  auto out = with_log(small, {}, truncation);
  EXPECT_GT(out[0], 3) << "several segments before truncation";
  EXPECT_EQ(out[1], 0);
  EXPECT_EQ(out[2], 48);
  EXPECT_EQ(out[3], 48);
  EXPECT_LT(out[4], out[0]);
  EXPECT_EQ(out[5], 1);
  EXPECT_EQ(out[6], 1) << "offset 49 is past the new end";
  EXPECT_EQ(out[7], 48) << "appends continue at the cut";
}

task<std::vector<int64_t>> delete_records(partition_log& log) {
  (void)co_await append_n(log, 30, 4);
  std::vector<int64_t> out{static_cast<int64_t>(log.segment_count())};
  auto r = co_await log.delete_records_before(70);
  out.push_back(r ? *r : -1);
  out.push_back(log.log_start_offset());
  out.push_back(static_cast<int64_t>(log.segment_count()));
  auto below = co_await log.read(69, 10);
  out.push_back(!below && below.error().is(errc::offset_out_of_range) ? 1 : 0);
  auto at = co_await log.read(70, 10);
  out.push_back(at && at->bytes > 0 ? 1 : 0);
  auto past = co_await log.delete_records_before(1000);
  out.push_back(!past ? 1 : 0);
  auto earliest = co_await log.offset_for_timestamp(k_earliest_timestamp);
  out.push_back(earliest && *earliest ? (*earliest)->offset : -1);
  co_return out;
}

TEST_F(PartitionLogTest, DeleteRecordsMovesTheLogStartAndDropsWholeSegments) {
  log_config small;
  small.segment_bytes = 2048;
  auto out = with_log(small, {}, delete_records);
  EXPECT_EQ(out[1], 70);
  EXPECT_EQ(out[2], 70);
  EXPECT_LT(out[3], out[0]);
  EXPECT_EQ(out[4], 1);
  EXPECT_EQ(out[5], 1);
  EXPECT_EQ(out[6], 1) << "past the high watermark is refused";
  EXPECT_EQ(out[7], 70);
}

task<std::vector<int64_t>> retention(partition_log& log, int64_t now) {
  (void)co_await append_n(log, 30, 4);
  const auto before = static_cast<int64_t>(log.segment_count());
  const auto size_before = static_cast<int64_t>(log.size_bytes());
  auto rep = log.apply_retention(now, 0);
  co_return std::vector<int64_t>{before, static_cast<int64_t>(rep.segments), static_cast<int64_t>(log.segment_count()),
                                 log.log_start_offset(), size_before, static_cast<int64_t>(log.size_bytes())};
}

TEST_F(PartitionLogTest, RetentionByBytesKeepsTheNewestAndNeverTheActiveSegment) {
  log_config small;
  small.segment_bytes = 2048;
  small.retention_bytes = 3000;
  auto out = with_log(small, {}, [](partition_log& log) { return retention(log, wall_ms()); });
  EXPECT_GT(out[1], 0);
  EXPECT_EQ(out[2], out[0] - out[1]);
  EXPECT_LE(out[5], 3000 + 2048) << "within one segment of retention.bytes";
  EXPECT_GE(out[5], 3000 - 2048);
  EXPECT_GT(out[3], 0) << "the log start moved to the first kept segment";
  // The deleted files are gone from the directory (renamed .deleted, then
  // removed in the background).
  int logs = 0;
  for (auto& e : fs::directory_iterator(dir)) logs += e.path().extension() == ".log";
  EXPECT_EQ(logs, out[2]);
}

TEST_F(PartitionLogTest, RetentionByTimeDropsAllButTheActiveSegment) {
  log_config small;
  small.segment_bytes = 2048;
  small.retention_ms = 1000;
  // "now" an hour ahead: every closed segment is past retention.ms.
  auto out = with_log(small, {}, [](partition_log& log) { return retention(log, wall_ms() + 3'600'000); });
  EXPECT_EQ(out[2], 1);
  EXPECT_EQ(out[1], out[0] - 1);
}

// Batches whose timestamps are all -1 (NO_TIMESTAMP: sarama and older
// clients send them when the application sets none).
std::vector<std::byte> make_untimed_batch(int records, int value_bytes) {
  record::batch_builder b({});
  std::string value(static_cast<size_t>(value_bytes), 'u');
  for (int i = 0; i < records; ++i) {
    b.add({.value = record::as_bytes(value), .timestamp_ms = -1});
  }
  return std::move(*b.build());
}

struct untimed_outcome {
  int64_t appended = 0;  // batches the log took
  int64_t end_offset = -1;
  int64_t segments = 0;
  int64_t time_index_entries = 0;  // over every segment
  int64_t kept_by_recent_write = 0;  // segments left after retention "now"
  int64_t kept_after_retention_ms = 0;  // segments left retention.ms later
  int64_t first_timed_offset = -1;  // ListOffsets for a timestamp after the untimed part
};

task<untimed_outcome> append_untimed_then_timed(partition_log& log) {
  untimed_outcome out;
  // Enough bytes to pass index.interval.bytes many times and to roll.
  for (int i = 0; i < 40; ++i) {
    auto b = make_untimed_batch(4, 300);
    if (auto r = co_await log.append(b); r) out.appended += 1;
  }
  const int64_t timed_from = log.log_end_offset();
  for (int i = 0; i < 3; ++i) {
    auto b = make_batch(2, 300);
    if (auto r = co_await log.append(b); r) out.appended += 1;
  }
  out.end_offset = log.log_end_offset();
  out.segments = static_cast<int64_t>(log.segment_count());
  for (size_t i = 0; i < log.segment_count(); ++i) {
    out.time_index_entries += static_cast<int64_t>(log.segment_at(i).times().entries());
  }
  auto found = co_await log.offset_for_timestamp(wall_ms() - 60'000);
  if (found && *found && (*found)->offset == timed_from) out.first_timed_offset = timed_from;
  (void)log.apply_retention(wall_ms(), 0);
  out.kept_by_recent_write = static_cast<int64_t>(log.segment_count());
  (void)log.apply_retention(wall_ms() + 2 * 3'600'000, 0);
  out.kept_after_retention_ms = static_cast<int64_t>(log.segment_count());
  co_return out;
}

TEST_F(PartitionLogTest, BatchesWithoutTimestampsAreStoredAndAgeByTheirLastWrite) {
  log_config small;
  small.segment_bytes = 8192;
  small.index_interval_bytes = 512;
  small.retention_ms = 3'600'000;
  const auto out = with_log(small, {}, append_untimed_then_timed);
  EXPECT_EQ(out.appended, 43) << "every batch is taken, with or without timestamps";
  EXPECT_EQ(out.end_offset, 40 * 4 + 3 * 2);
  EXPECT_GT(out.segments, 2) << "the untimed batches span several segments";
  EXPECT_GT(out.time_index_entries, 0) << "the timed batches are indexed";
  EXPECT_EQ(out.first_timed_offset, 160) << "a lookup by time lands on the first timed batch";
  EXPECT_EQ(out.kept_by_recent_write, out.segments)
      << "segments without timestamps age from their last write, not from timestamp -1";
  EXPECT_EQ(out.kept_after_retention_ms, 1) << "past retention.ms only the active segment stays";

  // The log reopens (indexes verified) with everything in place.
  const int64_t reopened_end = with_log(small, {}, [](partition_log& log) -> task<int64_t> {
    co_return log.log_end_offset();
  });
  EXPECT_EQ(reopened_end, 166);
}

task<std::vector<int64_t>> relaxed_by_messages(partition_log& log) {
  std::vector<int64_t> out;
  (void)co_await append_n(log, 3, 2);  // 6 messages: below flush.messages
  for (int i = 0; i < 5; ++i) co_await yield();
  out.push_back(log.durable_end());
  out.push_back(log.high_watermark());
  auto r = co_await log.read(0, 1 << 20);  // consumers see it before the fsync
  out.push_back(r && r->bytes > 0 ? 1 : 0);
  (void)co_await append_n(log, 2, 2);  // 10 messages: a round starts
  for (int i = 0; i < 200 && log.durable_end() < 10; ++i) (void)co_await sleep_for(std::chrono::milliseconds(1));
  out.push_back(log.durable_end());
  co_return out;
}

TEST_F(PartitionLogTest, FlushMessagesRelaxesDurabilityAsKafkaDoes) {
  log_config relaxed;
  relaxed.flush_interval_messages = 10;
  auto out = with_log(relaxed, {}, relaxed_by_messages);
  EXPECT_EQ(out, (std::vector<int64_t>{0, 6, 1, 10}));
}

task<std::vector<int64_t>> relaxed_by_time(partition_log& log) {
  std::vector<int64_t> out;
  const int64_t t0 = monotonic_ns();
  (void)co_await append_n(log, 2, 3);
  out.push_back(monotonic_ns() - t0 < 40'000'000 ? 1 : 0);  // acknowledged without waiting
  out.push_back(log.durable_end());
  for (int i = 0; i < 500 && log.durable_end() < 6; ++i) (void)co_await sleep_for(std::chrono::milliseconds(1));
  out.push_back(log.durable_end());
  out.push_back(monotonic_ns() - t0 >= 50'000'000 ? 1 : 0);  // not before flush.ms
  co_return out;
}

TEST_F(PartitionLogTest, FlushMsSyncsWithinTheInterval) {
  log_config relaxed;
  relaxed.flush_interval_ms = 50;
  auto out = with_log(relaxed, {}, relaxed_by_time);
  EXPECT_EQ(out, (std::vector<int64_t>{1, 0, 6, 1}));
}

// A relaxed log starts writeback of every MiB it writes (partition_log.cc,
// note_relaxed_write); megabytes of appends must still read back whole and
// become durable at flush.ms.
task<std::vector<int64_t>> relaxed_megabytes(partition_log& log) {
  constexpr int k_batches = 64;  // of 50 records x 1 KiB: ~3.2 MiB
  for (int i = 0; i < k_batches; ++i) {
    auto b = make_batch(50, 1024);
    auto r = co_await log.append(b);
    if (!r) co_return std::vector<int64_t>{-1};
  }
  for (int i = 0; i < 2000 && log.durable_end() < k_batches * 50; ++i) {
    (void)co_await sleep_for(std::chrono::milliseconds(1));
  }
  int64_t records = 0;
  int64_t offset = 0;
  while (offset < log.durable_end()) {
    auto slice = co_await log.read(offset, 1 << 20, read_bound::durable);
    if (!slice || slice->bytes == 0) co_return std::vector<int64_t>{-2};
    std::vector<std::byte> buf = slice_bytes(*slice);
    std::span<const std::byte> rest(buf);
    while (auto v = record::record_batch_view::parse(rest)) {
      records += v->records_count();
      offset = v->base_offset() + v->last_offset_delta() + 1;
      rest = rest.subspan(v->size_bytes());
    }
  }
  co_return std::vector<int64_t>{log.durable_end(), records};
}

TEST_F(PartitionLogTest, RelaxedLogWritingMegabytesReadsBackAndSyncsAtFlushMs) {
  log_config relaxed;
  relaxed.flush_interval_ms = 50;
  auto out = with_log(relaxed, {}, relaxed_megabytes);
  EXPECT_EQ(out, (std::vector<int64_t>{3200, 3200})) << "{durable end, records read back}";
}

// Kafka's flush.ms default is Long.MAX_VALUE: never flush by time. The timer
// must not wrap around and flush at once (which made every relaxed log sync
// as fast as the disk allowed).
task<std::vector<int64_t>> relaxed_forever(partition_log& log, flusher* f) {
  const uint64_t rounds = f->rounds();
  (void)co_await append_n(log, 3, 3);
  (void)co_await sleep_for(std::chrono::milliseconds(50));
  co_return std::vector<int64_t>{log.durable_end(), static_cast<int64_t>(f->rounds() - rounds)};
}

TEST_F(PartitionLogTest, FlushMsOfLongMaxNeverFlushesByTime) {
  log_config relaxed;
  relaxed.flush_interval_ms = std::numeric_limits<int64_t>::max();
  auto out = with_log(relaxed, {}, [this](partition_log& log) { return relaxed_forever(log, &fl); });
  EXPECT_EQ(out, (std::vector<int64_t>{0, 0})) << "{durable end, flush rounds}";
}

}  // namespace
}  // namespace ringlog::storage
