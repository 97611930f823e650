// Producer snapshot files: Kafka's exact bytes (a golden file built by hand
// from ProducerSnapshot.json v1), round trips, every corruption reported with
// the file and byte position, and writing/reading/pruning through the runtime.
#include "engine/log/producer_snapshot.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/crc32c.h"
#include "engine/log/errc.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/spawn.h"
#include "tests/unit/engine/log/index_test_util.h"

namespace ringlog::storage {
namespace {

using testing::scratch_dir;

std::string hex_bytes(std::initializer_list<int> v) {
  std::string out;
  for (int b : v) out.push_back(static_cast<char>(b));
  return out;
}

// Rewrites the CRC field after a test changed the covered bytes, so the check
// the test is after is the one that fails.
void fix_crc(std::string& file) {
  auto* p = reinterpret_cast<std::byte*>(file.data());
  store_be32(p + 2, crc32c(p + 6, file.size() - 6));
}

const producer_snapshot_entry k_one{.producer_id = 1000,
                                    .epoch = 3,
                                    .last_sequence = 41,
                                    .last_offset = 1234,
                                    .offset_delta = 9,
                                    .timestamp = 1'700'000'000'000,
                                    .coordinator_epoch = -1,
                                    .current_txn_first_offset = -1};

TEST(ProducerSnapshot, OneEntryIsKafkasBytes) {
  // version 1; CRC-32C of bytes 6.. (computed independently of base/crc32c);
  // count 1; producerId, epoch, lastSequence, lastOffset, offsetDelta,
  // timestamp, coordinatorEpoch, currentTxnFirstOffset, all big-endian.
  const std::string golden = hex_bytes({
      0x00, 0x01,                                      // version
      0xf1, 0x73, 0x22, 0x6f,                          // crc
      0x00, 0x00, 0x00, 0x01,                          // entry count
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8,  // producer id 1000
      0x00, 0x03,                                      // epoch 3
      0x00, 0x00, 0x00, 0x29,                          // last sequence 41
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0xd2,  // last offset 1234
      0x00, 0x00, 0x00, 0x09,                          // offset delta 9
      0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,  // timestamp 1700000000000
      0xff, 0xff, 0xff, 0xff,                          // coordinator epoch -1
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // current txn first offset -1
  });
  ASSERT_EQ(golden.size(), k_producer_snapshot_header_bytes + k_producer_snapshot_entry_bytes);
  const std::vector<producer_snapshot_entry> entries{k_one};
  EXPECT_EQ(format_producer_snapshot(entries), golden);
  auto parsed = parse_producer_snapshot(golden, "golden");
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(*parsed, entries);
}

TEST(ProducerSnapshot, EmptyTableIsTheTenByteHeader) {
  const std::string golden =
      hex_bytes({0x00, 0x01, 0x48, 0x67, 0x4b, 0xc7, 0x00, 0x00, 0x00, 0x00});
  EXPECT_EQ(format_producer_snapshot({}), golden);
  auto parsed = parse_producer_snapshot(golden, "empty");
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_TRUE(parsed->empty());
}

TEST(ProducerSnapshot, RoundTripKeepsEveryFieldAndTheOrder) {
  constexpr int64_t i64max = std::numeric_limits<int64_t>::max();
  constexpr int32_t i32max = std::numeric_limits<int32_t>::max();
  const std::vector<producer_snapshot_entry> entries{
      k_one,
      {i64max, std::numeric_limits<int16_t>::max(), i32max, i64max, i32max, i64max, i32max, i64max},
      {0, 0, 0, 0, 0, 0, 0, 0},
      // Kafka's entry for a producer without a batch (epoch only).
      {.producer_id = 7, .epoch = 2},
      {5, -1, -1, -1, 0, -1, -1, -1},
  };
  const std::string file = format_producer_snapshot(entries);
  EXPECT_EQ(file.size(), k_producer_snapshot_header_bytes + 5 * k_producer_snapshot_entry_bytes);
  auto parsed = parse_producer_snapshot(file, "rt");
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(*parsed, entries);
}

// The error for `file`, which must not parse.
std::string failure(const std::string& file) {
  auto parsed = parse_producer_snapshot(file, "dir/00000000000000000050.snapshot");
  if (parsed) return "parsed";
  EXPECT_TRUE(parsed.error().is(errc::corrupt_checkpoint)) << parsed.error().message();
  const std::string msg = parsed.error().message();
  EXPECT_NE(msg.find("dir/00000000000000000050.snapshot"), std::string::npos) << msg;
  return msg;
}

void expect_has(const std::string& msg, const std::string& part) {
  EXPECT_NE(msg.find(part), std::string::npos) << "expected '" << part << "' in: " << msg;
}

TEST(ProducerSnapshot, ShortFileIsCorrupt) {
  const std::string good = format_producer_snapshot({});
  expect_has(failure(""), "0 bytes, shorter than the 10-byte header");
  expect_has(failure(good.substr(0, 9)), "9 bytes, shorter than the 10-byte header");
  expect_has(failure(good.substr(0, 2)), "at byte 2");
}

TEST(ProducerSnapshot, OtherVersionIsCorrupt) {
  for (int version : {0, 2, 0xffff}) {
    std::string file = format_producer_snapshot(std::vector<producer_snapshot_entry>{k_one});
    store_be16(reinterpret_cast<std::byte*>(file.data()), static_cast<uint16_t>(version));
    const std::string msg = failure(file);
    expect_has(msg, fmt::format("version {}, only 1 is known", static_cast<int16_t>(version)));
    expect_has(msg, "at byte 0");
  }
}

TEST(ProducerSnapshot, CrcMismatchIsCorrupt) {
  const std::string good = format_producer_snapshot(std::vector<producer_snapshot_entry>{k_one});
  // Any covered byte (the count, each field), and the CRC field itself.
  for (size_t at :
       {size_t{2}, size_t{5}, size_t{6}, size_t{9}, size_t{10}, size_t{30}, good.size() - 1}) {
    std::string file = good;
    file[at] = static_cast<char>(file[at] ^ 0x01);
    const std::string msg = failure(file);
    expect_has(msg, "CRC-32C");
    expect_has(msg, "at byte 2");
  }
}

TEST(ProducerSnapshot, NegativeCountIsCorrupt) {
  std::string file = format_producer_snapshot({});
  store_be32(reinterpret_cast<std::byte*>(file.data()) + 6, 0xffffffffu);
  fix_crc(file);
  const std::string msg = failure(file);
  expect_has(msg, "entry count -1");
  expect_has(msg, "at byte 6");
}

TEST(ProducerSnapshot, CountPastTheEndIsCorrupt) {
  std::string file = format_producer_snapshot(std::vector<producer_snapshot_entry>{k_one});
  store_be32(reinterpret_cast<std::byte*>(file.data()) + 6, 2);
  fix_crc(file);
  expect_has(failure(file), "entry count 2 needs 92 bytes, 46 follow");
  // A huge count reserves nothing.
  store_be32(reinterpret_cast<std::byte*>(file.data()) + 6, 0x7fffffffu);
  fix_crc(file);
  expect_has(failure(file), "entry count 2147483647 needs");
  // A cut entry.
  file = format_producer_snapshot(std::vector<producer_snapshot_entry>{k_one, k_one});
  file.pop_back();
  fix_crc(file);
  expect_has(failure(file), "entry count 2 needs 92 bytes, 91 follow");
}

TEST(ProducerSnapshot, BytesAfterTheLastEntryAreCorrupt) {
  std::string file = format_producer_snapshot(std::vector<producer_snapshot_entry>{k_one});
  file.push_back('\0');
  fix_crc(file);
  const std::string msg = failure(file);
  expect_has(msg, "1 bytes after the last of 1 entries");
  expect_has(msg, "at byte 56");
}

TEST(ProducerSnapshot, FileNamesAreTwentyDigitOffsets) {
  EXPECT_EQ(producer_snapshot_file_name(42), "00000000000000000042.snapshot");
  EXPECT_EQ(parse_producer_snapshot_file_name("00000000000000000042.snapshot"), 42);
  EXPECT_EQ(parse_producer_snapshot_file_name("00000000000000000042.snapshot.tmp"), -1);
  EXPECT_EQ(parse_producer_snapshot_file_name("00000000000000000042.log"), -1);
  EXPECT_EQ(parse_producer_snapshot_file_name("42.snapshot"), -1);
}

class ProducerSnapshotFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rt = std::make_unique<runtime>(
        runtime_options{.shards = 1, .ring_entries = 64, .pin_threads = false});
    status st = rt->start();
    ASSERT_TRUE(st) << st.error().message();
  }
  void TearDown() override { rt->stop(); }

  status write(const std::string& dir, int64_t offset, std::vector<producer_snapshot_entry> e) {
    return rt->block_on(0, write_producer_snapshot(dir, offset, std::move(e)));
  }
  result<std::vector<producer_snapshot_entry>> read(const std::string& dir, int64_t offset) {
    return rt->block_on(0, read_producer_snapshot(dir, offset));
  }

  std::unique_ptr<runtime> rt;
};

TEST_F(ProducerSnapshotFileTest, WriteThenReadGivesTheEntries) {
  scratch_dir dir;
  const std::vector<producer_snapshot_entry> entries{k_one, {.producer_id = 9, .epoch = 0}};
  ASSERT_TRUE(write(dir.path(), 1240, entries));
  const std::string path = dir.file("00000000000000001240.snapshot");
  ASSERT_TRUE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  auto got = read(dir.path(), 1240);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*got, entries);
}

TEST_F(ProducerSnapshotFileTest, WritingKeepsTheNewestTwo) {
  scratch_dir dir;
  testing::write_raw(dir.file("00000000000000000000.log"), {});
  for (int64_t offset : {100, 300, 200, 400}) {
    ASSERT_TRUE(write(dir.path(), offset, {k_one}));
  }
  auto offsets = list_producer_snapshots(dir.path());
  ASSERT_TRUE(offsets) << offsets.error().message();
  EXPECT_EQ(*offsets, (std::vector<int64_t>{300, 400}));
  EXPECT_TRUE(std::filesystem::exists(dir.file("00000000000000000000.log")));
}

TEST_F(ProducerSnapshotFileTest, MissingCorruptAndOversizedFilesAreErrors) {
  scratch_dir dir;
  auto missing = read(dir.path(), 5);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().sys_errno(), ENOENT);
  expect_has(missing.error().message(), dir.file("00000000000000000005.snapshot"));

  testing::write_raw(dir.file("00000000000000000006.snapshot"), testing::bytes({0, 1, 2}));
  auto short_file = read(dir.path(), 6);
  ASSERT_FALSE(short_file);
  EXPECT_TRUE(short_file.error().is(errc::corrupt_checkpoint));
  expect_has(short_file.error().message(), dir.file("00000000000000000006.snapshot"));

  const std::string big = dir.file("00000000000000000007.snapshot");
  testing::write_raw(big, {});
  std::filesystem::resize_file(big, producer_snapshot_bytes_max + 1);  // sparse
  auto too_big = read(dir.path(), 7);
  ASSERT_FALSE(too_big);
  EXPECT_TRUE(too_big.error().is(errc::file_too_large)) << too_big.error().message();
}

TEST_F(ProducerSnapshotFileTest, RemovingAMissingSnapshotIsFine) {
  scratch_dir dir;
  EXPECT_TRUE(rt->block_on(0, remove_producer_snapshot(dir.path(), 3)));
  ASSERT_TRUE(write(dir.path(), 3, {}));
  EXPECT_TRUE(rt->block_on(0, remove_producer_snapshot(dir.path(), 3)));
  EXPECT_FALSE(std::filesystem::exists(dir.file("00000000000000000003.snapshot")));
}

}  // namespace
}  // namespace ringlog::storage
