// Idempotent producers' sequence rules per partition: retries of any of the
// last five batches are duplicates with their original offsets, gaps and
// replays of older batches are out of order, older epochs are fenced, a new
// epoch starts at sequence 0, and sequences wrap at INT32_MAX. Then the
// producer snapshots: what a snapshot keeps (the last batch per producer, as
// of its offset), restoring from one plus the scan of the log after it,
// which snapshots loading ignores, and the snapshots rolls and close write.
#include "broker/producer_state.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "engine/log/flusher.h"
#include "engine/log/partition_log.h"
#include "engine/log/producer_snapshot.h"
#include "engine/record/batch_builder.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/spawn.h"

namespace ringlog::broker {
namespace {

constexpr int64_t pid = 4000;

void append(partition_producers& p, int16_t epoch, int32_t first, int32_t last, int64_t offset) {
  ASSERT_EQ(p.check(pid, epoch, first, last).verdict, sequence_verdict::append)
      << "batch " << first << ".." << last;
  p.record(pid, epoch, batch_record{first, last, offset, offset + (last - first)});
}

TEST(ProducerState, UnknownProducerIsAcceptedAtAnySequence) {
  partition_producers p;
  EXPECT_EQ(p.check(pid, 0, 0, 9).verdict, sequence_verdict::append);
  // State lost with old segments: Kafka accepts the producer where it is.
  EXPECT_EQ(p.check(pid, 3, 1234, 1240).verdict, sequence_verdict::append);
}

TEST(ProducerState, RetryOfAnyOfTheLastFiveBatchesIsADuplicateWithItsOffsets) {
  partition_producers p;
  for (int i = 0; i < 7; ++i) append(p, 0, i * 10, i * 10 + 9, 100 + i * 10);
  for (int i = 2; i < 7; ++i) {
    auto c = p.check(pid, 0, i * 10, i * 10 + 9);
    ASSERT_EQ(c.verdict, sequence_verdict::duplicate) << i;
    EXPECT_EQ(c.duplicate_of.first_offset, 100 + i * 10);
    EXPECT_EQ(c.duplicate_of.last_offset, 109 + i * 10);
  }
  // Older than the remembered window: not a known duplicate, and not next.
  EXPECT_EQ(p.check(pid, 0, 10, 19).verdict, sequence_verdict::out_of_order);
}

TEST(ProducerState, GapIsOutOfOrderWithAMessage) {
  partition_producers p;
  append(p, 0, 0, 4, 0);
  auto c = p.check(pid, 0, 6, 8);
  EXPECT_EQ(c.verdict, sequence_verdict::out_of_order);
  EXPECT_NE(c.message.find("5 was expected"), std::string::npos) << c.message;
  EXPECT_EQ(p.check(pid, 0, 5, 8).verdict, sequence_verdict::append);
}

TEST(ProducerState, OlderEpochIsFencedNewEpochStartsAtZero) {
  partition_producers p;
  append(p, 2, 0, 4, 0);
  EXPECT_EQ(p.check(pid, 1, 5, 9).verdict, sequence_verdict::fenced_epoch);
  EXPECT_EQ(p.check(pid, 3, 5, 9).verdict, sequence_verdict::out_of_order);
  append(p, 3, 0, 0, 5);
  // The old epoch's batches are forgotten: its retry is fenced, not a duplicate.
  EXPECT_EQ(p.check(pid, 2, 0, 4).verdict, sequence_verdict::fenced_epoch);
}

TEST(ProducerState, SequencesWrapAtInt32Max) {
  constexpr int32_t max = std::numeric_limits<int32_t>::max();
  EXPECT_EQ(last_sequence_of(max - 1, 1), max);
  EXPECT_EQ(last_sequence_of(max, 1), 0);
  EXPECT_EQ(last_sequence_of(max - 2, 5), 2);
  partition_producers p;
  append(p, 0, max - 4, max, 0);
  EXPECT_EQ(p.check(pid, 0, 0, 3).verdict, sequence_verdict::append);
  EXPECT_EQ(p.check(pid, 0, 1, 3).verdict, sequence_verdict::out_of_order);
}

TEST(ProducerState, ProducersAreIndependent) {
  partition_producers p;
  append(p, 0, 0, 9, 0);
  EXPECT_EQ(p.check(pid + 1, 0, 0, 9).verdict, sequence_verdict::append);
  EXPECT_EQ(p.producers(), 1u);
}

// --- snapshots: what one holds ---

TEST(ProducerSnapshotState, SnapshotKeepsTheLastBatchBelowItsOffset) {
  partition_producers p;
  for (int i = 0; i < 4; ++i) {
    p.record(pid, 2, batch_record{i * 10, i * 10 + 9, 100 + i * 10, 109 + i * 10, 5000 + i});
  }
  // Recorded before its append (as produce does): past a roll at 130.
  const auto at_130 = p.snapshot(130, 99);
  ASSERT_EQ(at_130.size(), 1u);
  EXPECT_EQ(at_130[0], (storage::producer_snapshot_entry{.producer_id = pid,
                                                         .epoch = 2,
                                                         .last_sequence = 29,
                                                         .last_offset = 129,
                                                         .offset_delta = 9,
                                                         .timestamp = 5002}));
  const auto at_end = p.snapshot(140, 99);
  ASSERT_EQ(at_end.size(), 1u);
  EXPECT_EQ(at_end[0].last_sequence, 39);
  EXPECT_EQ(at_end[0].last_offset, 139);
  // Every remembered batch is past the offset: left to the scan after it.
  EXPECT_TRUE(p.snapshot(100, 99).empty());
  // No known timestamp: the snapshot's time.
  p.record(pid + 1, 0, batch_record{0, 0, 140, 140});
  const auto both = p.snapshot(141, 99);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0].producer_id, pid) << "sorted by producer id";
  EXPECT_EQ(both[1].timestamp, 99);
}

TEST(ProducerSnapshotState, RestoredProducerKnowsItsLastBatchOnly) {
  partition_producers before;
  for (int i = 0; i < 3; ++i) append(before, 1, i * 5, i * 5 + 4, i * 5);
  partition_producers p;
  for (const auto& e : before.snapshot(15, 0)) p.restore(e);
  auto retry = p.check(pid, 1, 10, 14);
  ASSERT_EQ(retry.verdict, sequence_verdict::duplicate);
  EXPECT_EQ(retry.duplicate_of.first_offset, 10);
  EXPECT_EQ(retry.duplicate_of.last_offset, 14);
  // As in Kafka: older batches than the last are not known after a restore.
  EXPECT_EQ(p.check(pid, 1, 5, 9).verdict, sequence_verdict::out_of_order);
  EXPECT_EQ(p.check(pid, 1, 15, 15).verdict, sequence_verdict::append);
  EXPECT_EQ(p.check(pid, 0, 15, 15).verdict, sequence_verdict::fenced_epoch);
}

TEST(ProducerSnapshotState, RestoreWrapsTheFirstSequence) {
  constexpr int32_t max = std::numeric_limits<int32_t>::max();
  partition_producers p;
  p.restore(
      {.producer_id = pid, .epoch = 0, .last_sequence = 2, .last_offset = 50, .offset_delta = 5});
  auto c = p.check(pid, 0, max - 2, 2);
  ASSERT_EQ(c.verdict, sequence_verdict::duplicate);
  EXPECT_EQ(c.duplicate_of.first_offset, 45);
  EXPECT_EQ(p.check(pid, 0, 3, 3).verdict, sequence_verdict::append);
}

TEST(ProducerSnapshotState, EpochOnlyEntryFencesOlderEpochs) {
  partition_producers p;
  p.restore({.producer_id = pid, .epoch = 4});
  EXPECT_EQ(p.check(pid, 3, 0, 0).verdict, sequence_verdict::fenced_epoch);
  EXPECT_EQ(p.check(pid, 4, 17, 20).verdict, sequence_verdict::append);
  const auto back = p.snapshot(0, 7);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0],
            (storage::producer_snapshot_entry{.producer_id = pid, .epoch = 4, .timestamp = 7}));
}

TEST(ProducerSnapshotState, ImplausibleEntriesAreNamed) {
  const storage::producer_snapshot_entry good{
      .producer_id = pid, .epoch = 0, .last_sequence = 9, .last_offset = 19, .offset_delta = 9};
  EXPECT_EQ(snapshot_entry_problem(good, 20), "");
  EXPECT_EQ(snapshot_entry_problem({.producer_id = pid, .epoch = 1}, 0), "") << "epoch only";
  auto bad = good;
  bad.producer_id = -1;
  EXPECT_NE(snapshot_entry_problem(bad, 20).find("producer id -1"), std::string::npos);
  bad = good;
  bad.offset_delta = -1;
  EXPECT_NE(snapshot_entry_problem(bad, 20).find("offset delta -1"), std::string::npos);
  EXPECT_NE(snapshot_entry_problem(good, 19).find("last offset 19"), std::string::npos)
      << "a batch at or past the snapshot offset";
  bad = good;
  bad.last_offset = 3;
  EXPECT_NE(snapshot_entry_problem(bad, 20).find("last offset 3"), std::string::npos)
      << "a batch starting below offset 0";
}

// --- snapshots on disk, through a partition log ---

namespace fs = std::filesystem;

constexpr int64_t other_pid = 5000;

std::vector<std::byte> idempotent_batch(int64_t producer_id, int16_t epoch, int32_t first,
                                        int count) {
  record::batch_builder b(
      {.producer_id = producer_id, .producer_epoch = epoch, .base_sequence = first});
  const int64_t now = wall_ms();
  for (int i = 0; i < count; ++i) {
    const std::string value = "seq" + std::to_string(first + i);
    b.add({.value = record::as_bytes(value), .timestamp_ms = now});
  }
  return std::move(*b.build());
}

// What produce does for one batch: check, record, append. Returns the base
// offset, or -1 when the batch was not appended (a duplicate or refused).
task<int64_t> produce(storage::partition_log* log, partition_producers* p, int16_t epoch,
                      int32_t first, int count) {
  std::vector<std::byte> batch = idempotent_batch(pid, epoch, first, count);
  const int32_t last = last_sequence_of(first, count - 1);
  if (p->check(pid, epoch, first, last).verdict != sequence_verdict::append) co_return -1;
  const int64_t at = log->log_end_offset();
  p->record(pid, epoch, batch_record{first, last, at, at + count - 1});
  auto done = co_await log->append(batch);
  co_return done ? done->base_offset : -1;
}

// Appends a batch without any producer state (as after a crash that lost
// the snapshot of it).
task<int64_t> append_raw(storage::partition_log* log, int64_t producer_id, int32_t first,
                         int count) {
  std::vector<std::byte> batch = idempotent_batch(producer_id, 0, first, count);
  auto done = co_await log->append(batch);
  co_return done ? done->base_offset : -1;
}

class ProducerSnapshotLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = ::testing::TempDir() + "ringlog-psnap-" + std::to_string(::getpid()) + "-" +
          ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir);
    rt = std::make_unique<runtime>(runtime_options{.shards = 1, .pin_threads = false});
    ASSERT_TRUE(rt->start());
  }
  void TearDown() override {
    rt->stop();
    fs::remove_all(dir);
  }

  std::vector<int64_t> snapshots() const {
    auto offsets = storage::list_producer_snapshots(dir);
    EXPECT_TRUE(offsets) << offsets.error().message();
    return offsets ? *offsets : std::vector<int64_t>{};
  }
  std::vector<storage::producer_snapshot_entry> snapshot_at(int64_t offset) {
    auto entries = rt->block_on(0, storage::read_producer_snapshot(dir, offset));
    EXPECT_TRUE(entries) << entries.error().message();
    return entries ? *entries : std::vector<storage::producer_snapshot_entry>{};
  }
  void write_snapshot(int64_t offset, std::vector<storage::producer_snapshot_entry> entries) {
    status st = rt->block_on(0, storage::write_producer_snapshot(dir, offset, std::move(entries)));
    ASSERT_TRUE(st) << st.error().message();
  }

  std::string dir;
  std::unique_ptr<runtime> rt;
  storage::flusher fl;
};

// One step of a test: runs on shard 0 with the log open; `states` is the
// broker's producer state of this run.
struct run {
  storage::partition_log* log;
  producer_states* states;
  partition_producers* producers = nullptr;
};

using step = task<std::vector<int64_t>> (*)(run&);

task<std::vector<int64_t>> open_and_run(std::string dir, storage::log_config config,
                                        storage::flusher* f, step body) {
  const storage::recovery_state state;
  auto opened = co_await storage::partition_log::open(dir, config, *f, state);
  RINGLOG_ASSERT(opened.has_value(), "open failed: {}", opened.error().message());
  std::unique_ptr<storage::partition_log> log = std::move(*opened);
  producer_states states;
  run r{log.get(), &states};
  const storage::topic_partition tp{"t", 0};
  r.producers = co_await states.get(tp, *log);
  std::vector<int64_t> out = co_await body(r);
  status st = co_await log->close();
  RINGLOG_ASSERT(st.has_value(), "close failed: {}", st.error().message());
  co_return out;
}

// The verdicts on a few probes, as numbers: the duplicate's first offset, or
// -1 append, -2 out of order, -3 fenced.
int64_t probe(const partition_producers& p, int64_t producer_id, int32_t first, int32_t last) {
  const sequence_check c = p.check(producer_id, 0, first, last);
  switch (c.verdict) {
    case sequence_verdict::duplicate:
      return c.duplicate_of.first_offset;
    case sequence_verdict::append:
      return -1;
    case sequence_verdict::out_of_order:
      return -2;
    case sequence_verdict::fenced_epoch:
      return -3;
  }
  return -4;
}

task<std::vector<int64_t>> produce_two_batches(run& r) {
  std::vector<int64_t> out;
  out.push_back(co_await produce(r.log, r.producers, 0, 0, 3));
  out.push_back(co_await produce(r.log, r.producers, 0, 3, 2));
  co_return out;
}

task<std::vector<int64_t>> probes_after_restore(run& r) {
  std::vector<int64_t> out{probe(*r.producers, pid, 5, 6), probe(*r.producers, pid, 3, 4),
                           probe(*r.producers, pid, 0, 2), probe(*r.producers, pid, 7, 7)};
  co_return out;
}

// A run that appends a batch but loads no producer state (no idempotent
// produce reached the partition).
task<std::vector<int64_t>> append_without_state(std::string dir, storage::flusher* f) {
  const storage::log_config config;
  const storage::recovery_state state;
  auto opened = co_await storage::partition_log::open(dir, config, *f, state);
  RINGLOG_ASSERT(opened.has_value(), "open failed: {}", opened.error().message());
  const int64_t at = co_await append_raw(opened->get(), pid, 5, 2);
  status st = co_await (*opened)->close();
  RINGLOG_ASSERT(st.has_value(), "close failed: {}", st.error().message());
  co_return std::vector<int64_t>(1, at);
}

TEST_F(ProducerSnapshotLogTest, CloseSnapshotThenRestoreAndScanTheBatchesAfterIt) {
  auto first = rt->block_on(0, open_and_run(dir, {}, &fl, produce_two_batches));
  EXPECT_EQ(first, (std::vector<int64_t>{0, 3}));
  // A clean close snapshots at the log end, with the last batch.
  EXPECT_EQ(snapshots(), (std::vector<int64_t>{5}));
  const auto entries = snapshot_at(5);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].producer_id, pid);
  EXPECT_EQ(entries[0].last_sequence, 4);
  EXPECT_EQ(entries[0].last_offset, 4);
  EXPECT_EQ(entries[0].offset_delta, 1);
  EXPECT_GT(entries[0].timestamp, 0);

  // A run without idempotent produces (no state loaded) leaves the snapshot
  // alone, and a batch it appends is found by the scan after the snapshot.
  storage::log_config config;
  auto appended = rt->block_on(0, append_without_state(dir, &fl));
  EXPECT_EQ(appended, (std::vector<int64_t>{5}));
  EXPECT_EQ(snapshots(), (std::vector<int64_t>{5}));

  auto probes = rt->block_on(0, open_and_run(dir, config, &fl, probes_after_restore));
  EXPECT_EQ(probes[0], 5) << "the batch after the snapshot is a duplicate (scan)";
  EXPECT_EQ(probes[1], 3) << "the snapshot's batch is a duplicate (restore)";
  EXPECT_EQ(probes[2], -2) << "an older batch is unknown after a restore, as in Kafka: the tail "
                              "scan alone would have found it, so the snapshot was used";
  EXPECT_EQ(probes[3], -1) << "the next sequence is accepted";
  EXPECT_EQ(snapshots(), (std::vector<int64_t>{5, 7})) << "the close of the loaded run";
}

task<std::vector<int64_t>> probe_other(run& r) {
  std::vector<int64_t> out{probe(*r.producers, other_pid, 8, 9), probe(*r.producers, pid, 0, 2)};
  co_return out;
}

task<std::vector<int64_t>> probe_other_and_stop_loading(run& r) {
  // Not loaded by this log's hooks again: close writes no snapshot.
  r.log->set_producer_state_hooks(nullptr);
  co_return co_await probe_other(r);
}

task<std::vector<int64_t>> log_of_two_batches(run& r) {
  r.log->set_producer_state_hooks(nullptr);
  std::vector<int64_t> out;
  out.push_back(co_await append_raw(r.log, pid, 0, 3));
  out.push_back(co_await append_raw(r.log, pid, 3, 2));
  co_return out;
}

// A snapshot with only the other producer, whose batch ended at offset 1.
std::vector<storage::producer_snapshot_entry> other_producer_only() {
  return {{.producer_id = other_pid,
           .epoch = 0,
           .last_sequence = 9,
           .last_offset = 1,
           .offset_delta = 1}};
}

TEST_F(ProducerSnapshotLogTest, SnapshotPastTheLogEndIsRemovedAndTheTailScanned) {
  ASSERT_EQ(rt->block_on(0, open_and_run(dir, {}, &fl, log_of_two_batches)),
            (std::vector<int64_t>{0, 3}));
  write_snapshot(100, other_producer_only());
  auto probes = rt->block_on(0, open_and_run(dir, {}, &fl, probe_other_and_stop_loading));
  EXPECT_EQ(probes[0], -1) << "the snapshot past the end was not restored";
  EXPECT_EQ(probes[1], 0) << "the tail scan found the first batch";
  EXPECT_EQ(snapshots(), std::vector<int64_t>{}) << "and it was removed";
}

TEST_F(ProducerSnapshotLogTest, CorruptNewestSnapshotIsRemovedAndTheOlderOneUsed) {
  ASSERT_EQ(rt->block_on(0, open_and_run(dir, {}, &fl, log_of_two_batches)),
            (std::vector<int64_t>{0, 3}));
  write_snapshot(3, other_producer_only());
  write_snapshot(5, other_producer_only());
  {
    // Flip one covered byte: a CRC mismatch.
    auto bytes = fs::path(dir) / "00000000000000000005.snapshot";
    std::string text(fs::file_size(bytes), '\0');
    FILE* f = std::fopen(bytes.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fread(text.data(), 1, text.size(), f), text.size());
    text[12] = static_cast<char>(text[12] ^ 0x40);
    std::rewind(f);
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  auto probes = rt->block_on(0, open_and_run(dir, {}, &fl, probe_other_and_stop_loading));
  EXPECT_EQ(probes[0], 0) << "restored from the snapshot at 3";
  EXPECT_EQ(probes[1], -2) << "the scan started at 3 (the tail scan would find 0..2)";
  EXPECT_EQ(snapshots(), (std::vector<int64_t>{3}));
}

TEST_F(ProducerSnapshotLogTest, ImplausibleSnapshotFallsBackToTheTailScan) {
  ASSERT_EQ(rt->block_on(0, open_and_run(dir, {}, &fl, log_of_two_batches)),
            (std::vector<int64_t>{0, 3}));
  auto entries = other_producer_only();
  entries[0].last_offset = 4;  // at or past the snapshot's own offset
  write_snapshot(3, entries);
  auto probes = rt->block_on(0, open_and_run(dir, {}, &fl, probe_other_and_stop_loading));
  EXPECT_EQ(probes[0], -1) << "not restored";
  EXPECT_EQ(probes[1], 0) << "the tail scan found the first batch";
  EXPECT_EQ(snapshots(), std::vector<int64_t>{});
}

task<std::vector<int64_t>> five_batches_one_per_segment(run& r) {
  std::vector<int64_t> out;
  for (int i = 0; i < 5; ++i) out.push_back(co_await produce(r.log, r.producers, 0, i * 2, 2));
  out.push_back(static_cast<int64_t>(r.log->segment_count()));
  co_return out;
}

TEST_F(ProducerSnapshotLogTest, RollsAndCloseWriteSnapshotsAndKeepTheNewestTwo) {
  storage::log_config small;
  small.segment_bytes = 100;  // one batch of two small records per segment
  auto out = rt->block_on(0, open_and_run(dir, small, &fl, five_batches_one_per_segment));
  EXPECT_EQ(out, (std::vector<int64_t>{0, 2, 4, 6, 8, 5}));
  // Rolls at 2, 4, 6, 8, close at 10: the newest two remain.
  EXPECT_EQ(snapshots(), (std::vector<int64_t>{8, 10}));
  // The roll's snapshot is the state as of its offset: the batch that rolled
  // the segment was recorded already, and is left out.
  const auto at_roll = snapshot_at(8);
  ASSERT_EQ(at_roll.size(), 1u);
  EXPECT_EQ(at_roll[0].last_sequence, 7);
  EXPECT_EQ(at_roll[0].last_offset, 7);
  const auto at_close = snapshot_at(10);
  ASSERT_EQ(at_close.size(), 1u);
  EXPECT_EQ(at_close[0].last_sequence, 9);
  EXPECT_EQ(at_close[0].last_offset, 9);
}

}  // namespace
}  // namespace ringlog::broker
