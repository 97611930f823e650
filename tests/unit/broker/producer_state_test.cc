// Idempotent producers' sequence rules per partition: retries of any of the
// last five batches are duplicates with their original offsets, gaps and
// replays of older batches are out of order, older epochs are fenced, a new
// epoch starts at sequence 0, and sequences wrap at INT32_MAX.
#include <gtest/gtest.h>

#include <limits>

#include "broker/producer_state.h"

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

}  // namespace
}  // namespace ringlog::broker
