// log_manager: partitions spread over log dirs and shards, survive a clean
// stop without re-reading, recover from their checkpoints after a crash, and
// are deleted Kafka's way.
#include "engine/log/log_manager.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "engine/log/checkpoint.h"
#include "engine/record/batch_builder.h"
#include "engine/runtime/invoke.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/timer.h"

namespace ringlog::storage {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST(TopicPartition, ParsesKafkaDirectoryNames) {
  auto tp = topic_partition::from_dir_name("orders.eu-west-12");
  ASSERT_TRUE(tp);
  EXPECT_EQ(tp->topic, "orders.eu-west");
  EXPECT_EQ(tp->partition, 12);
  EXPECT_EQ(tp->dir_name(), "orders.eu-west-12");
  for (const char* bad : {"orders", "orders-", "-3", "orders-x", "orders-1.0123abc-delete",
                          "bad topic-1", "t-99999999999"}) {
    EXPECT_FALSE(topic_partition::from_dir_name(bad)) << bad;
  }
}

std::vector<std::byte> batch(int records) {
  record::batch_builder b({});
  for (int i = 0; i < records; ++i) b.add({.value = record::as_bytes("value"), .timestamp_ms = wall_ms()});
  return std::move(*b.build());
}

class LogManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root = ::testing::TempDir() + "ringlog-lm-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(root);
    rt = std::make_unique<runtime>(runtime_options{.shards = 2, .pin_threads = false});
    ASSERT_TRUE(rt->start());
  }
  void TearDown() override {
    rt->stop();
    fs::remove_all(root);
  }
  log_manager_config config(std::vector<std::string> dirs) {
    log_manager_config c;
    for (auto& d : dirs) c.log_dirs.push_back(root + "/" + d);
    c.log_dirs.erase(c.log_dirs.begin());  // drop the default ./ringlog-data
    c.defaults.segment_bytes = 4096;
    return c;
  }

  std::string root;
  std::unique_ptr<runtime> rt;
};

// Creates `n` partitions of topic "t", each on its shard, and appends
// `batches` batches of 3 records to each.
task<std::vector<int64_t>> fill(log_manager* lm, int n, int batches) {
  std::vector<int64_t> ends;
  for (int p = 0; p < n; ++p) {
    topic_partition tp{"t", p};
    ends.push_back(co_await invoke_on(lm->shard_of(tp), [&]() -> task<int64_t> {
      return [](log_manager* m, topic_partition t, int count) -> task<int64_t> {
        auto log = co_await m->create(t, log_config{.segment_bytes = 1024});
        if (!log) co_return -1;
        for (int i = 0; i < count; ++i) {
          auto b = batch(3);
          if (!co_await (*log)->append(b)) co_return -2;
        }
        co_return (*log)->log_end_offset();
      }(lm, tp, batches);
    }));
  }
  co_return ends;
}

task<std::vector<int64_t>> ends_of(log_manager* lm, int n) {
  std::vector<int64_t> ends;
  for (int p = 0; p < n; ++p) {
    topic_partition tp{"t", p};
    ends.push_back(co_await invoke_on(lm->shard_of(tp), [&] {
      partition_log* l = lm->get(tp);
      return l ? l->log_end_offset() : -1;
    }));
  }
  co_return ends;
}

TEST_F(LogManagerTest, SpreadsPartitionsAndReopensCleanlyWithoutRereading) {
  auto cfg = config({"a", "b"});
  {
    log_manager lm(*rt, cfg);
    auto loaded = lm.start();
    ASSERT_TRUE(loaded) << loaded.error().message();
    EXPECT_EQ(loaded->partitions, 0u);
    auto ends = rt->block_on(0, fill(&lm, 6, 40));
    EXPECT_EQ(ends, std::vector<int64_t>(6, 120));
    ASSERT_TRUE(lm.stop());
  }
  // Three partitions in each dir, a clean-shutdown marker and checkpoints.
  for (const char* d : {"a", "b"}) {
    int parts = 0;
    for (auto& e : fs::directory_iterator(root + "/" + d)) parts += e.is_directory();
    EXPECT_EQ(parts, 3) << d;
    EXPECT_TRUE(fs::exists(root + "/" + d + "/.kafka_cleanshutdown"));
    auto text = read_small_file(root + "/" + d + "/recovery-point-offset-checkpoint", 1 << 20);
    ASSERT_TRUE(text);
    auto entries = parse_offset_checkpoint(*text, "cp");
    ASSERT_TRUE(entries);
    EXPECT_EQ(entries->size(), 3u);
    for (auto& e : *entries) EXPECT_EQ(e.offset, 120);
  }
  log_manager again(*rt, cfg);
  auto loaded = again.start();
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->partitions, 6u);
  EXPECT_TRUE(loaded->clean_shutdown);
  EXPECT_EQ(loaded->segments_scanned, 0u);
  EXPECT_FALSE(fs::exists(root + "/a/.kafka_cleanshutdown")) << "removed while running";
  EXPECT_EQ(rt->block_on(0, ends_of(&again, 6)), std::vector<int64_t>(6, 120));
  ASSERT_TRUE(again.stop());
}

TEST_F(LogManagerTest, RecoversFromCheckpointsAfterACrash) {
  auto cfg = config({"a"});
  const std::string crashed = root + "/crashed";
  {
    log_manager lm(*rt, cfg);
    ASSERT_TRUE(lm.start());
    (void)rt->block_on(0, fill(&lm, 2, 30));
    ASSERT_TRUE(rt->block_on(0, [](log_manager* m) { return m->write_checkpoints(); }(&lm)));
    (void)rt->block_on(0, fill(&lm, 2, 10));  // past the checkpoint
    // What a crash leaves: the files as they are now, with no marker.
    fs::copy(root + "/a", crashed, fs::copy_options::recursive);
    ASSERT_TRUE(lm.stop());
  }
  auto crash_cfg = cfg;
  crash_cfg.log_dirs = {crashed};
  log_manager lm(*rt, crash_cfg);
  auto loaded = lm.start();
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_FALSE(loaded->clean_shutdown);
  EXPECT_EQ(loaded->partitions, 2u);
  // Only segments past each recovery point are re-read, not all of them.
  EXPECT_GT(loaded->segments_scanned, 0u);
  size_t segments = 0;
  for (auto& e : fs::recursive_directory_iterator(crashed)) segments += e.path().extension() == ".log";
  EXPECT_LT(loaded->segments_scanned, segments);
  EXPECT_EQ(rt->block_on(0, ends_of(&lm, 2)), (std::vector<int64_t>{120, 120}));
  ASSERT_TRUE(lm.stop());
}

// The background removal of <dir>/*-delete directories has finished: waits
// for that (30 s at most) instead of sleeping a guessed time.
bool eventually_no_delete_dirs(const std::string& dir) {
  const auto pending = [&] {
    for (auto& e : fs::directory_iterator(dir)) {
      if (e.path().string().ends_with("-delete")) return true;
    }
    return false;
  };
  for (auto deadline = std::chrono::steady_clock::now() + 30s; pending();) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

task<bool> remove_one(log_manager* lm, topic_partition tp) {
  co_return co_await invoke_on(lm->shard_of(tp), [&]() -> task<bool> {
    return [](log_manager* m, topic_partition t) -> task<bool> {
      auto st = co_await m->remove(t);
      co_return st.has_value() && m->get(t) == nullptr;
    }(lm, tp);
  });
}

TEST(DeleteDirName, FitsNameMaxForTheLongestTopicAsKafkaCutsIt) {
  const std::string longest(249, 'a');
  const std::string name = delete_dir_name({longest, 12}, 0xabcdef);
  EXPECT_EQ(name.size(), 255u);
  EXPECT_TRUE(name.ends_with("-12.0000000000abcdef-delete")) << name;
  EXPECT_EQ(delete_dir_name({"t", 3}, 1), "t-3.0000000000000001-delete");
}

TEST_F(LogManagerTest, DeletesAPartitionOfATopicWithTheLongestLegalName) {
  auto cfg = config({"a"});
  log_manager lm(*rt, cfg);
  ASSERT_TRUE(lm.start());
  const topic_partition tp{std::string(249, 'x'), 0};
  ASSERT_TRUE(rt->block_on(0, invoke_on(lm.shard_of(tp), [&]() -> task<bool> {
    return [](log_manager* m, topic_partition t) -> task<bool> {
      co_return (co_await m->create(t, {})).has_value();
    }(&lm, tp);
  })));
  EXPECT_TRUE(rt->block_on(0, remove_one(&lm, tp)));
  EXPECT_FALSE(fs::exists(root + "/a/" + tp.dir_name()));
  EXPECT_TRUE(eventually_no_delete_dirs(root + "/a"));
  ASSERT_TRUE(lm.stop());
  log_manager again(*rt, cfg);
  auto loaded = again.start();
  ASSERT_TRUE(loaded) << "the broker starts again after deleting it";
  EXPECT_EQ(loaded->partitions, 0u);
  ASSERT_TRUE(again.stop());
}

TEST_F(LogManagerTest, DeletesAPartitionDirectoryInTheBackground) {
  auto cfg = config({"a"});
  log_manager lm(*rt, cfg);
  ASSERT_TRUE(lm.start());
  (void)rt->block_on(0, fill(&lm, 2, 20));
  EXPECT_TRUE(rt->block_on(0, remove_one(&lm, {"t", 1})));
  EXPECT_FALSE(fs::exists(root + "/a/t-1")) << "renamed away before remove returns";
  EXPECT_TRUE(eventually_no_delete_dirs(root + "/a")) << "the -delete directory is removed";
  EXPECT_TRUE(fs::exists(root + "/a/t-0"));
  ASSERT_TRUE(lm.stop());
  // A -delete directory left by a crash is removed at the next start.
  fs::create_directories(root + "/a/t-7.0123456789abcdef-delete");
  std::ofstream(root + "/a/t-7.0123456789abcdef-delete/00000000000000000000.log") << "x";
  log_manager again(*rt, cfg);
  auto loaded = again.start();
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->partitions, 1u);
  EXPECT_TRUE(eventually_no_delete_dirs(root + "/a"))
      << "a -delete directory left by a crash is removed at start";
  ASSERT_TRUE(again.stop());
}

}  // namespace
}  // namespace ringlog::storage
