// Checkpoint files: Kafka's exact text, round trips, every malformed input
// with its line number, and the crash-safe replace through the runtime.
#include "engine/log/checkpoint.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "engine/log/errc.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/spawn.h"
#include "tests/unit/engine/log/index_test_util.h"

namespace ringlog::storage {
namespace {

using testing::scratch_dir;

TEST(Checkpoint, OffsetFormatIsKafkaByteExact) {
  const std::vector<checkpoint_entry> entries{
      {"orders", 0, 1500}, {"__consumer_offsets", 49, 0}, {"a.b-c_D", 3, 9'000'000'000}};
  EXPECT_EQ(format_offset_checkpoint(entries),
            "0\n"
            "3\n"
            "orders 0 1500\n"
            "__consumer_offsets 49 0\n"
            "a.b-c_D 3 9000000000\n");
  EXPECT_EQ(format_offset_checkpoint({}), "0\n0\n");
}

TEST(Checkpoint, LeaderEpochFormatIsKafkaByteExact) {
  const std::vector<epoch_entry> entries{{0, 0}, {3, 1200}, {7, 98765}};
  EXPECT_EQ(format_leader_epoch_checkpoint(entries), "0\n3\n0 0\n3 1200\n7 98765\n");
}

TEST(Checkpoint, OffsetRoundTrip) {
  const std::vector<checkpoint_entry> entries{
      {"t", 0, 0},
      {std::string(249, 'x'), std::numeric_limits<int32_t>::max(),
       std::numeric_limits<int64_t>::max()},
      {"t", 1, 42}};
  auto parsed = parse_offset_checkpoint(format_offset_checkpoint(entries), "cp");
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(*parsed, entries);
}

TEST(Checkpoint, LeaderEpochRoundTrip) {
  const std::vector<epoch_entry> entries{
      {0, 0}, {1, 10}, {std::numeric_limits<int32_t>::max(), std::numeric_limits<int64_t>::max()}};
  auto parsed = parse_leader_epoch_checkpoint(format_leader_epoch_checkpoint(entries), "cp");
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(*parsed, entries);
}

TEST(Checkpoint, EmptyFileAndZeroCountAreNoEntries) {
  // Kafka creates checkpoint files empty before their first write.
  auto empty = parse_offset_checkpoint("", "cp");
  ASSERT_TRUE(empty) << empty.error().message();
  EXPECT_TRUE(empty->empty());
  auto zero = parse_offset_checkpoint("0\n0\n", "cp");
  ASSERT_TRUE(zero) << zero.error().message();
  EXPECT_TRUE(zero->empty());
  auto epochs = parse_leader_epoch_checkpoint("", "cp");
  ASSERT_TRUE(epochs);
  EXPECT_TRUE(epochs->empty());
}

TEST(Checkpoint, MissingFinalNewlineIsAccepted) {
  auto parsed = parse_offset_checkpoint("0\n1\nt 2 3", "cp");
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(*parsed, (std::vector<checkpoint_entry>{{"t", 2, 3}}));
}

struct bad_case {
  const char* text;
  const char* expected;  // a substring of the error message
};

void expect_offset_error(const bad_case& c) {
  auto parsed = parse_offset_checkpoint(c.text, "/data/recovery-point-offset-checkpoint");
  ASSERT_FALSE(parsed) << "accepted " << ::testing::PrintToString(std::string(c.text));
  EXPECT_TRUE(parsed.error().is(errc::corrupt_checkpoint));
  const std::string msg = parsed.error().message();
  EXPECT_NE(msg.find(c.expected), std::string::npos)
      << "input " << ::testing::PrintToString(std::string(c.text)) << "\n expected: " << c.expected
      << "\n got: " << msg;
}

TEST(Checkpoint, MalformedOffsetCheckpointsNameLineAndProblem) {
  const std::string p = "/data/recovery-point-offset-checkpoint:";
  const std::vector<std::pair<std::string, std::string>> cases{
      {"1\n0\n", p + "1: unsupported version 1 (expected 0)"},
      {"x\n0\n", p + "1: version is not a number: 'x'"},
      {"\n0\n", p + "1: version is not a number: ''"},
      {"0\r\n0\r\n", p + "1: version is not a number: '0\\x0d'"},
      {"0\n", p + "2: missing the entry count line"},
      {"0", p + "2: missing the entry count line"},
      {"0\n-1\n", p + "2: entry count -1 out of range"},
      {"0\ntwo\n", p + "2: entry count is not a number: 'two'"},
      {"0\n99999999999\n", p + "2: entry count 99999999999 out of range"},
      {"0\n2\nt 0 1\n", p + "4: expected 2 entries (line 2), found 1"},
      {"0\n2147483647\n", p + "3: expected 2147483647 entries (line 2), found 0"},
      {"0\n1\nt 0 1\nt 1 2\n", p + "4: trailing data after the 1 entries declared on line 2"},
      {"0\n1\nt 0 1\n\n", p + "4: trailing data"},
      {"0\n0\n\n", p + "3: trailing data"},
      {"0\n1\nt x 1\n", p + "3: partition is not a number: 'x'"},
      {"0\n1\nt 1x 1\n", p + "3: partition is not a number: '1x'"},
      {"0\n1\nt +1 1\n", p + "3: partition is not a number: '+1'"},
      {"0\n1\nt -1 1\n", p + "3: partition -1 out of range"},
      {"0\n1\nt 2147483648 1\n", p + "3: partition 2147483648 out of range"},
      {"0\n1\nt 0 abc\n", p + "3: offset is not a number: 'abc'"},
      {"0\n1\nt 0 -5\n", p + "3: offset -5 out of range"},
      {"0\n1\nt 0 99999999999999999999\n", p + "3: offset 99999999999999999999 out of range"},
      {"0\n1\nmy topic 0 1\n", p + "3: more than 3 fields"},
      {"0\n1\nt 0 1 \n", p + "3: more than 3 fields"},
      {"0\n1\nt  0 1\n", p + "3: empty field"},
      {"0\n1\n t 0 1\n", p + "3: empty field"},
      {"0\n1\nt 0\n", p + "3: expected \"topic partition offset\", found 't 0'"},
      {"0\n1\nt\t0\t1\n", p + "3: expected \"topic partition offset\""},
      {"0\n1\nt\x01 0 1\n", p + "3: invalid topic name 't\\x01'"},
      {"0\n1\nbad/topic 0 1\n", p + "3: invalid topic name 'bad/topic'"},
      {"0\n1\n" + std::string(250, 'x') + " 0 1\n", p + "3: invalid topic name"},
  };
  for (const auto& [text, expected] : cases) expect_offset_error({text.c_str(), expected.c_str()});
}

TEST(Checkpoint, MalformedLeaderEpochCheckpointsNameLineAndProblem) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"0\n1\n5\n", "le:3: expected \"epoch start_offset\", found '5'"},
      {"0\n1\n-3 5\n", "le:3: epoch -3 out of range"},
      {"0\n1\n3 x\n", "le:3: start offset is not a number: 'x'"},
      {"0\n1\n3 4 5\n", "le:3: more than 2 fields"},
      {"0\n2\n3 4\n", "le:4: expected 2 entries (line 2), found 1"},
      {"1\n0\n", "le:1: unsupported version 1"},
  };
  for (const auto& [text, expected] : cases) {
    auto parsed = parse_leader_epoch_checkpoint(text, "le");
    ASSERT_FALSE(parsed) << "accepted " << ::testing::PrintToString(text);
    EXPECT_TRUE(parsed.error().is(errc::corrupt_checkpoint));
    EXPECT_NE(parsed.error().message().find(expected), std::string::npos)
        << "expected: " << expected << "\n got: " << parsed.error().message();
  }
}

TEST(Checkpoint, TopicNameRule) {
  EXPECT_TRUE(is_legal_topic_name("a"));
  EXPECT_TRUE(is_legal_topic_name("Orders.v2-eu_west"));
  EXPECT_TRUE(is_legal_topic_name(std::string(249, 'z')));
  EXPECT_FALSE(is_legal_topic_name(""));
  EXPECT_FALSE(is_legal_topic_name(std::string(250, 'z')));
  EXPECT_FALSE(is_legal_topic_name("a b"));
  EXPECT_FALSE(is_legal_topic_name("a\nb"));
  EXPECT_FALSE(is_legal_topic_name("caf\xc3\xa9"));
}

class CheckpointWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rt = std::make_unique<runtime>(
        runtime_options{.shards = 1, .ring_entries = 64, .pin_threads = false});
    status st = rt->start();
    ASSERT_TRUE(st) << st.error().message();
  }
  void TearDown() override { rt->stop(); }

  status write(const std::string& dir, const std::string& name, std::string contents) {
    return rt->block_on(0, write_file_atomically(dir, name, std::move(contents)));
  }

  std::unique_ptr<runtime> rt;
};

TEST_F(CheckpointWriteTest, ReplacesTheFileAndLeavesNoTemporary) {
  scratch_dir dir;
  const std::string name(recovery_point_checkpoint_file);
  const std::string path = dir.file(name);
  const std::vector<checkpoint_entry> first{{"t", 0, 10}};
  const std::vector<checkpoint_entry> second{{"t", 0, 20}, {"u", 3, 7}};

  ASSERT_TRUE(write(dir.path(), name, format_offset_checkpoint(first)));
  auto text = read_small_file(path, checkpoint_bytes_max);
  ASSERT_TRUE(text) << text.error().message();
  EXPECT_EQ(*text, format_offset_checkpoint(first));

  ASSERT_TRUE(write(dir.path(), name, format_offset_checkpoint(second)));
  text = read_small_file(path, checkpoint_bytes_max);
  ASSERT_TRUE(text) << text.error().message();
  auto parsed = parse_offset_checkpoint(*text, path);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(*parsed, second);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_EQ(std::filesystem::file_size(path), text->size()) << "no tail of the longer old file";
}

TEST_F(CheckpointWriteTest, ShorterContentsReplaceLongerOnes) {
  scratch_dir dir;
  ASSERT_TRUE(write(dir.path(), "f", std::string(10'000, 'a')));
  ASSERT_TRUE(write(dir.path(), "f", "b"));
  auto text = read_small_file(dir.file("f"), 1 << 20);
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "b");
}

TEST_F(CheckpointWriteTest, WritesLargeContentsWhole) {
  scratch_dir dir;
  std::string big(5 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(write(dir.path(), "big", big));
  auto text = read_small_file(dir.file("big"), big.size());
  ASSERT_TRUE(text) << text.error().message();
  EXPECT_TRUE(*text == big) << "sizes " << text->size() << " and " << big.size();
}

TEST_F(CheckpointWriteTest, MissingDirectoryFailsNamingTheOperationAndPath) {
  scratch_dir dir;
  const std::string missing = dir.file("no/such/dir");
  const status st = write(missing, "leader-epoch-checkpoint", "0\n0\n");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().sys_errno(), ENOENT);
  const std::string msg = st.error().message();
  EXPECT_NE(msg.find("openat"), std::string::npos) << msg;
  EXPECT_NE(msg.find(missing + "/leader-epoch-checkpoint.tmp"), std::string::npos) << msg;
}

TEST_F(CheckpointWriteTest, RenameOntoADirectoryFailsAndRemovesTheTemporary) {
  scratch_dir dir;
  // The target name is a non-empty directory: the rename fails after the
  // temporary file was written and synced.
  std::filesystem::create_directories(dir.file("target/child"));
  const status st = write(dir.path(), "target", "data");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("renameat"), std::string::npos) << st.error().message();
  EXPECT_FALSE(std::filesystem::exists(dir.file("target.tmp")));
  EXPECT_TRUE(std::filesystem::is_directory(dir.file("target")));
}

TEST(ReadSmallFile, EnforcesTheCapAndReportsMissingFiles) {
  scratch_dir dir;
  const std::string path = dir.file("x");
  testing::write_raw(path, std::vector<std::byte>(100, std::byte{'y'}));
  auto whole = read_small_file(path, 100);
  ASSERT_TRUE(whole) << whole.error().message();
  EXPECT_EQ(*whole, std::string(100, 'y'));
  auto capped = read_small_file(path, 99);
  ASSERT_FALSE(capped);
  EXPECT_TRUE(capped.error().is(errc::file_too_large));
  EXPECT_NE(capped.error().message().find(path), std::string::npos) << capped.error().message();
  auto missing = read_small_file(dir.file("absent"), 100);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().sys_errno(), ENOENT);
  testing::write_raw(path, {});
  auto empty = read_small_file(path, 0);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace ringlog::storage
