// controller: topics are created, deleted, grown and reconfigured through the
// metadata log; every change is one durable batch; every shard sees it at
// once; the partition logs follow; a restart (or a torn last batch) rebuilds
// the same image from the log.
#include "controller/controller.h"

#include <fmt/core.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "engine/log/log_manager.h"
#include "engine/record/batch_builder.h"
#include "engine/record/batch_header.h"
#include "engine/record/record_batch.h"
#include "engine/runtime/invoke.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/when_all.h"

namespace ringlog::controller {
namespace {

namespace fs = std::filesystem;

new_topic topic_named(std::string name, int32_t partitions = 1,
                      std::vector<config_entry> configs = {}) {
  new_topic t;
  t.name = std::move(name);
  t.num_partitions = partitions;
  t.configs = std::move(configs);
  return t;
}

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root = ::testing::TempDir() + "ringlog-ctl-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(root);
    rt = std::make_unique<runtime>(runtime_options{.shards = 2, .pin_threads = false});
    ASSERT_TRUE(rt->start());
  }
  void TearDown() override {
    close();
    rt->stop();
    fs::remove_all(root);
  }

  broker_config config(std::vector<std::string> extra = {}) {
    std::vector<std::string> overrides = {"log.dirs=" + root + "/data", "node.id=1",
                                          "listeners=PLAINTEXT://127.0.0.1:9092",
                                          "log.segment.bytes=65536"};
    overrides.insert(overrides.end(), extra.begin(), extra.end());
    auto c = load_broker_config(std::nullopt, overrides);
    EXPECT_TRUE(c) << c.error().message();
    return *c;
  }

  // A controller with partition logs (with_logs) or the metadata alone.
  void open(bool with_logs = true, std::vector<std::string> extra = {}) {
    cfg = config(std::move(extra));
    if (with_logs) {
      storage::log_manager_config lc;
      lc.log_dirs = cfg.log_dirs;
      lc.defaults = topic_log_config(cfg, {});
      logs = std::make_unique<storage::log_manager>(*rt, lc);
      ctl = std::make_unique<controller>(*rt, cfg, *logs);
    } else {
      ctl = std::make_unique<controller>(*rt, cfg);
    }
    status st = ctl->start();
    ASSERT_TRUE(st) << st.error().message();
  }
  void close() {
    if (ctl) {
      status st = ctl->stop();
      EXPECT_TRUE(st) << st.error().message();
    }
    ctl.reset();
    logs.reset();
  }
  void reopen(bool with_logs = true) {
    close();
    open(with_logs);
  }

  // Operations run on shard 1: they hop to the controller shard and back.
  std::vector<create_topic_result> create(std::vector<new_topic> topics,
                                          bool validate_only = false) {
    return rt->block_on(1, ctl->create_topics(std::move(topics), validate_only));
  }
  create_topic_result create_one(new_topic t) {
    std::vector<new_topic> v;
    v.push_back(std::move(t));
    return create(std::move(v)).front();
  }
  std::vector<delete_topic_result> remove(std::vector<topic_ref> refs) {
    return rt->block_on(1, ctl->delete_topics(std::move(refs)));
  }
  std::vector<create_partitions_result> grow(std::vector<partition_increase> v,
                                             bool validate_only = false) {
    return rt->block_on(1, ctl->create_partitions(std::move(v), validate_only));
  }
  alter_configs_result alter(std::string topic_name, std::vector<config_entry> entries,
                             bool validate_only = false) {
    std::vector<alter_configs_resource> v(1);
    v[0].resource = {config_resource_type::topic, std::move(topic_name)};
    v[0].configs = std::move(entries);
    return rt->block_on(1, ctl->alter_configs(std::move(v), validate_only)).front();
  }
  alter_configs_result alter_incremental(config_resource resource,
                                         std::vector<config_alteration> ops,
                                         bool validate_only = false) {
    std::vector<incremental_alter_configs_resource> v(1);
    v[0].resource = std::move(resource);
    v[0].ops = std::move(ops);
    return rt->block_on(1, ctl->incremental_alter_configs(std::move(v), validate_only)).front();
  }

  // The image each shard holds.
  std::vector<std::shared_ptr<const metadata_image>> images_on_shards() {
    std::vector<std::shared_ptr<const metadata_image>> out;
    for (unsigned s = 0; s < rt->size(); ++s) {
      out.push_back(
          rt->block_on(s, [](controller* c) -> task<std::shared_ptr<const metadata_image>> {
            const metadata_image& mine = c->image_on_this_shard();
            auto shared = c->image();
            RINGLOG_ASSERT(&mine == shared.get(), "shard slot and image() disagree");
            co_return shared;
          }(ctl.get())));
    }
    return out;
  }

  // The config of a partition's log, or nullopt when it has no log.
  std::optional<storage::log_config> log_of(const std::string& t, int32_t p) {
    storage::topic_partition tp{t, p};
    return rt->block_on(logs->shard_of(tp),
                        [](storage::log_manager* m,
                           storage::topic_partition x) -> task<std::optional<storage::log_config>> {
                          storage::partition_log* l = m->get(x);
                          if (l == nullptr) co_return std::nullopt;
                          co_return l->config();
                        }(logs.get(), tp));
  }

  int64_t metadata_end() { return ctl->image()->offset(); }

  result<producer_id_block> allocate(int32_t count, unsigned shard_id = 1) {
    return rt->block_on(shard_id, ctl->allocate_producer_ids(count));
  }

  std::string root;
  std::unique_ptr<runtime> rt;
  broker_config cfg;
  std::unique_ptr<storage::log_manager> logs;
  std::unique_ptr<controller> ctl;
};

TEST_F(ControllerTest, BootstrapsAnEmptyLogWithTheMetadataVersionAndThisBroker) {
  open();
  auto image = ctl->image();
  EXPECT_EQ(image->metadata_version(), k_metadata_version_level);
  const broker_registration* me = image->find_broker(1);
  ASSERT_NE(me, nullptr);
  ASSERT_EQ(me->endpoints.size(), 1u);
  EXPECT_EQ(me->endpoints[0].name, "PLAINTEXT");
  EXPECT_EQ(me->endpoints[0].host, "127.0.0.1");
  EXPECT_EQ(me->endpoints[0].port, 9092);
  EXPECT_FALSE(me->fenced);
  EXPECT_EQ(me->epoch, 1) << "the offset of the registration record";
  EXPECT_EQ(image->offset(), 1);
  EXPECT_TRUE(fs::exists(root + "/data/__cluster_metadata-0/00000000000000000000.log"));

  // A restart with the same listeners writes nothing new.
  reopen();
  EXPECT_EQ(ctl->image()->offset(), 1);
  EXPECT_EQ(ctl->image()->find_broker(1)->incarnation, me->incarnation);
}

TEST_F(ControllerTest, ChangedListenersReRegisterAndAnotherNodeIdIsRefused) {
  open();
  close();
  open(true, {"advertised.listeners=PLAINTEXT://broker.example:19092"});
  EXPECT_EQ(ctl->image()->find_broker(1)->endpoints.at(0).host, "broker.example");
  EXPECT_EQ(ctl->image()->find_broker(1)->epoch, 2);
  close();

  cfg = config({"node.id=2"});
  ctl = std::make_unique<controller>(*rt, cfg);
  status st = ctl->start();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().detail().find("written by node 1, and node.id is 2"), std::string::npos)
      << st.error().message();
}

TEST_F(ControllerTest, CreatedTopicsAreOnEveryShardWithTheirLogsAndConfigs) {
  open();
  const int64_t before = metadata_end();
  auto results =
      create({topic_named("orders", 3, {{"retention.ms", " 1000"}, {"cleanup.policy", "compact"}}),
              topic_named("events")});
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << r.name << ": " << r.message;
  EXPECT_EQ(results[0].num_partitions, 3);
  EXPECT_EQ(results[0].replication_factor, 1);
  EXPECT_FALSE(results[0].id.is_zero());
  EXPECT_NE(results[0].id, results[1].id);
  EXPECT_EQ(results[1].num_partitions, 1) << "num.partitions";
  EXPECT_EQ(results[0].kafka_error(), 0);
  auto retention = std::find_if(results[0].configs.begin(), results[0].configs.end(),
                                [](const auto& d) { return d.name == "retention.ms"; });
  ASSERT_NE(retention, results[0].configs.end());
  EXPECT_EQ(retention->value, "1000");
  EXPECT_EQ(retention->source, config_source::topic_config);

  // One batch for both topics: TopicRecord, 2 ConfigRecords, 3 PartitionRecords,
  // TopicRecord, PartitionRecord.
  EXPECT_EQ(metadata_end(), before + 8);
  for (const auto& image : images_on_shards()) {
    const topic* t = image->find_topic("orders");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->id, results[0].id);
    EXPECT_EQ(t->partitions.size(), 3u);
    EXPECT_EQ(t->partitions[2].leader, 1);
    EXPECT_EQ(t->partitions[2].replicas, std::vector<int32_t>{1});
    EXPECT_EQ(t->partitions[2].isr, std::vector<int32_t>{1});
    EXPECT_EQ(t->configs.at("retention.ms"), "1000");
    EXPECT_NE(image->find_topic(results[1].id), nullptr);
  }
  for (int32_t p = 0; p < 3; ++p) {
    auto l = log_of("orders", p);
    ASSERT_TRUE(l) << "orders-" << p;
    EXPECT_EQ(l->retention_ms, 1000);
    EXPECT_EQ(l->segment_bytes, 65536) << "log.segment.bytes";
    EXPECT_TRUE(fs::is_directory(root + "/data/orders-" + std::to_string(p)));
  }
  EXPECT_TRUE(log_of("events", 0));
}

TEST_F(ControllerTest, BadTopicsAreRefusedWithKafkasCodesAndNothingIsWritten) {
  open();
  ASSERT_TRUE(create_one(topic_named("exists")).ok());
  ASSERT_TRUE(create_one(topic_named("a_b")).ok());
  const int64_t before = metadata_end();

  new_topic rf3 = topic_named("rf3");
  rf3.replication_factor = 3;
  new_topic rf0 = topic_named("rf0");
  rf0.replication_factor = 0;
  new_topic foreign = topic_named("foreign", -1);
  foreign.assignments = {{0, {1}}, {1, {2}}};
  new_topic gaps = topic_named("gaps", -1);
  gaps.assignments = {{0, {1}}, {2, {1}}};
  new_topic twice = topic_named("twice", -1);
  twice.assignments = {{0, {1, 1}}};
  new_topic assigned_with_count = topic_named("assigned", 2);
  assigned_with_count.assignments = {{0, {1}}};
  new_topic null_config = topic_named("nullcfg");
  null_config.configs = {{"retention.ms", std::nullopt}};

  struct expectation {
    new_topic topic;
    errc code;
    int16_t kafka;
    const char* message;
  };
  std::vector<expectation> cases;
  cases.push_back(
      {topic_named("exists"), errc::topic_already_exists, 36, "Topic 'exists' already exists."});
  cases.push_back(
      {topic_named(std::string(250, 'x')), errc::invalid_topic, 17, "can't be longer than 249"});
  cases.push_back({topic_named("."), errc::invalid_topic, 17, "cannot be \".\" or \"..\""});
  cases.push_back({topic_named(".."), errc::invalid_topic, 17, "cannot be \".\" or \"..\""});
  cases.push_back({topic_named("a b"), errc::invalid_topic, 17, "contains a character other than"});
  cases.push_back({topic_named(""), errc::invalid_topic, 17, "can't be empty"});
  cases.push_back(
      {topic_named("a.b"), errc::invalid_topic, 17, "collides with existing topic: a_b"});
  cases.push_back({topic_named("__cluster_metadata"), errc::invalid_request, 42,
                   "Creation of internal topic __cluster_metadata is prohibited."});
  cases.push_back({topic_named("p0", 0), errc::invalid_partitions, 37, "non-positive"});
  cases.push_back({topic_named("pneg", -2), errc::invalid_partitions, 37, "non-positive"});
  cases.push_back({topic_named("phuge", k_partitions_per_topic_max + 1), errc::invalid_partitions,
                   37, "more than the 100000"});
  cases.push_back(
      {rf3, errc::invalid_replication_factor, 38,
       "replication factor of 3 cannot be reached because only 1 broker(s) are registered"});
  cases.push_back({rf0, errc::invalid_replication_factor, 38, "must be larger than 0"});
  cases.push_back({foreign, errc::invalid_replica_assignment, 39, "broker 2, but no such broker"});
  cases.push_back({gaps, errc::invalid_replica_assignment, 39, "consecutive 0-based"});
  cases.push_back({twice, errc::invalid_replica_assignment, 39, "the broker 1 more than once"});
  cases.push_back(
      {assigned_with_count, errc::invalid_request, 42, "numPartitions was not set to -1"});
  cases.push_back({topic_named("badkey", 1, {{"retention.msx", "1"}}), errc::invalid_config, 40,
                   "Unknown topic config name: retention.msx"});
  cases.push_back({topic_named("badvalue", 1, {{"retention.ms", "soon"}}), errc::invalid_config, 40,
                   "retention.ms: \"soon\" is not an integer"});
  cases.push_back({topic_named("range", 1, {{"segment.bytes", "10"}}), errc::invalid_config, 40,
                   "segment.bytes: \"10\" is out of range"});
  cases.push_back({null_config, errc::invalid_config, 40, "Null value not supported"});

  std::vector<new_topic> request;
  for (const auto& c : cases) request.push_back(c.topic);
  auto results = create(request);
  ASSERT_EQ(results.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].topic.name.substr(0, 20));
    ASSERT_FALSE(results[i].ok()) << "accepted";
    EXPECT_EQ(*results[i].error, cases[i].code) << results[i].message;
    EXPECT_EQ(results[i].kafka_error(), cases[i].kafka);
    EXPECT_NE(results[i].message.find(cases[i].message), std::string::npos) << results[i].message;
    EXPECT_TRUE(results[i].id.is_zero());
  }
  EXPECT_EQ(metadata_end(), before) << "nothing was written";
  EXPECT_EQ(ctl->image()->topics().size(), 2u);
  EXPECT_FALSE(fs::exists(root + "/data/rf3-0"));
}

TEST_F(ControllerTest, ARequestNamingATopicTwiceOrCollidingWithItselfFailsThoseOnly) {
  open();
  auto results = create({topic_named("dup"), topic_named("ok"), topic_named("dup"),
                         topic_named("x.y"), topic_named("x_y")});
  EXPECT_EQ(*results[0].error, errc::invalid_request);
  EXPECT_TRUE(results[1].ok());
  EXPECT_EQ(*results[2].error, errc::invalid_request);
  EXPECT_TRUE(results[3].ok());
  ASSERT_FALSE(results[4].ok());
  EXPECT_EQ(*results[4].error, errc::invalid_topic);
  EXPECT_NE(results[4].message.find("collides with existing topic: x.y"), std::string::npos);
  EXPECT_EQ(ctl->image()->topics().size(), 2u);
}

TEST_F(ControllerTest, ValidateOnlyAnswersButWritesNothing) {
  open();
  const int64_t before = metadata_end();
  auto results =
      create({topic_named("dry", 4, {{"retention.ms", "5"}}), topic_named("bad", 0)}, true);
  ASSERT_TRUE(results[0].ok()) << results[0].message;
  EXPECT_EQ(results[0].num_partitions, 4);
  EXPECT_FALSE(results[0].id.is_zero());
  EXPECT_FALSE(results[0].configs.empty());
  EXPECT_EQ(*results[1].error, errc::invalid_partitions);
  EXPECT_EQ(metadata_end(), before);
  EXPECT_EQ(ctl->image()->find_topic("dry"), nullptr);
  EXPECT_FALSE(log_of("dry", 0));
  EXPECT_FALSE(fs::exists(root + "/data/dry-0"));

  std::vector<partition_increase> inc(1);
  inc[0].topic = "dry";
  inc[0].count = 2;
  EXPECT_EQ(*grow(inc, true)[0].error, errc::unknown_topic_or_partition);
}

TEST_F(ControllerTest, ManualAssignmentsOnThisNodeAreAccepted) {
  open();
  new_topic t = topic_named("manual", -1);
  t.assignments = {{1, {1}}, {0, {1}}};
  auto r = create_one(t);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.num_partitions, 2);
  EXPECT_EQ(r.replication_factor, 1);
  EXPECT_TRUE(log_of("manual", 1));
}

TEST_F(ControllerTest, AReopenedControllerHasTheSameImageAndLogs) {
  open();
  auto created = create({topic_named("a", 2, {{"retention.ms", "1234"}}), topic_named("b", 1)});
  ASSERT_TRUE(created[0].ok() && created[1].ok());
  ASSERT_TRUE(alter("b", {{"cleanup.policy", "compact"}}).ok());
  auto before = ctl->image();
  reopen();
  auto after = ctl->image();
  EXPECT_EQ(after->offset(), before->offset());
  ASSERT_EQ(after->topics().size(), 2u);
  for (const auto& [name, t] : before->topics()) {
    const topic* again = after->find_topic(name);
    ASSERT_NE(again, nullptr) << name;
    EXPECT_EQ(*again, *t) << name;
  }
  for (const auto& image : images_on_shards()) EXPECT_EQ(image->topics().size(), 2u);
  auto a1 = log_of("a", 1);
  ASSERT_TRUE(a1);
  EXPECT_EQ(a1->retention_ms, 1234) << "log_manager loaded the log with its topic config";
  EXPECT_TRUE(log_of("b", 0));
}

TEST_F(ControllerTest, DeletedTopicsAreGoneWithTheirLogsAndStayGoneAfterARestart) {
  open();
  auto created = create({topic_named("keep"), topic_named("by-name", 2), topic_named("by-id")});
  for (const auto& r : created) ASSERT_TRUE(r.ok());
  const int64_t before = metadata_end();
  auto results = remove({{"by-name", {}},
                         {"", created[2].id},
                         {"missing", {}},
                         {"", topic_id{7, 7}},
                         {"keep", created[0].id}});
  ASSERT_TRUE(results[0].ok()) << results[0].message;
  EXPECT_EQ(results[0].id, created[1].id);
  ASSERT_TRUE(results[1].ok()) << results[1].message;
  EXPECT_EQ(results[1].name, "by-id");
  EXPECT_EQ(*results[2].error, errc::unknown_topic_or_partition);
  EXPECT_EQ(results[2].kafka_error(), 3);
  EXPECT_EQ(*results[3].error, errc::unknown_topic_id);
  EXPECT_EQ(results[3].kafka_error(), 100);
  EXPECT_EQ(*results[4].error, errc::invalid_request);
  EXPECT_EQ(metadata_end(), before + 2) << "one batch of two RemoveTopicRecords";

  for (const auto& image : images_on_shards()) {
    EXPECT_EQ(image->find_topic("by-name"), nullptr);
    EXPECT_EQ(image->find_topic(created[2].id), nullptr);
    EXPECT_NE(image->find_topic("keep"), nullptr);
  }
  EXPECT_FALSE(log_of("by-name", 0));
  EXPECT_FALSE(log_of("by-id", 0));
  EXPECT_FALSE(fs::exists(root + "/data/by-name-1"));

  // The same name again is a new topic with a new id.
  auto again = create_one(topic_named("by-name"));
  ASSERT_TRUE(again.ok()) << again.message;
  EXPECT_NE(again.id, created[1].id);
  ASSERT_TRUE(remove({{"by-name", {}}})[0].ok());

  reopen();
  EXPECT_EQ(ctl->image()->find_topic("by-name"), nullptr);
  EXPECT_EQ(ctl->image()->find_topic("by-id"), nullptr);
  EXPECT_NE(ctl->image()->find_topic("keep"), nullptr);
  EXPECT_FALSE(log_of("by-id", 0));
}

TEST_F(ControllerTest, AtornLastBatchLosesOnlyThatBatch) {
  open(false);
  ASSERT_TRUE(create_one(topic_named("first", 2)).ok());
  const int64_t after_first = metadata_end();
  ASSERT_TRUE(create_one(topic_named("second", 2)).ok());
  close();
  const std::string segment = root + "/data/__cluster_metadata-0/00000000000000000000.log";
  fs::resize_file(segment, fs::file_size(segment) - 5);

  open(false);
  auto image = ctl->image();
  EXPECT_NE(image->find_topic("first"), nullptr);
  EXPECT_EQ(image->find_topic("second"), nullptr);
  EXPECT_EQ(image->offset(), after_first);
  // The log takes appends again where the cut left it.
  auto again = create_one(topic_named("second", 1));
  ASSERT_TRUE(again.ok()) << again.message;
  EXPECT_EQ(metadata_end(), after_first + 2);
  reopen(false);
  EXPECT_EQ(ctl->image()->find_topic("second")->partitions.size(), 1u);
}

TEST_F(ControllerTest, AMetadataLogThatDoesNotReplayStopsTheStart) {
  open(false);
  ASSERT_TRUE(create_one(topic_named("t")).ok());
  close();
  // Flip a byte inside the last batch's records: its CRC no longer matches,
  // recovery cuts it as a torn tail... so corrupt a record the CRC covers and
  // then fix the CRC, as a buggy writer would have.
  const std::string segment = root + "/data/__cluster_metadata-0/00000000000000000000.log";
  std::vector<std::byte> bytes(fs::file_size(segment));
  {
    FILE* f = std::fopen(segment.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fread(bytes.data(), 1, bytes.size(), f), bytes.size());
    // The last batch: walk the batches.
    size_t pos = 0;
    size_t last = 0;
    while (pos + 12 <= bytes.size()) {
      last = pos;
      pos += record::k_log_overhead + load_be32(bytes.data() + pos + record::k_batch_length_pos);
    }
    // Its one record's value starts with the frame: make the type unknown.
    // Record layout: length, attrs, ts delta, offset delta, key len (-1),
    // value len, then frame version (1), type.
    const size_t records = last + record::k_records_pos;
    size_t type_at = 0;
    for (size_t i = records; i + 1 < bytes.size(); ++i) {
      if (bytes[i] == std::byte{0x01} && bytes[i + 1] == std::byte{0x02}) {
        type_at = i + 1;
        break;
      }
    }
    ASSERT_NE(type_at, 0u);
    bytes[type_at] = std::byte{0x63};  // record type 99
    const uint32_t crc = record::compute_batch_crc(std::span(bytes).subspan(last));
    store_be32(bytes.data() + last + record::k_crc_pos, crc);
    std::fseek(f, 0, SEEK_SET);
    ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
    std::fclose(f);
  }
  cfg = config();
  ctl = std::make_unique<controller>(*rt, cfg);
  status st = ctl->start();
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().is(errc::unsupported_metadata_record)) << st.error().message();
  EXPECT_NE(st.error().message().find("record type 99"), std::string::npos) << st.error().message();
}

TEST_F(ControllerTest, CreatePartitionsGrowsTopicsAndTheirLogs) {
  open();
  ASSERT_TRUE(create_one(topic_named("grow", 1, {{"retention.ms", "777"}})).ok());
  ASSERT_TRUE(create_one(topic_named("other", 2)).ok());
  std::vector<partition_increase> inc(5);
  inc[0].topic = "grow";
  inc[0].count = 3;
  inc[1].topic = "other";
  inc[1].count = 1;
  inc[2].topic = "missing";
  inc[2].count = 4;
  inc[3].topic = "other";  // twice in one request
  inc[3].count = 5;
  inc[4].topic = "x";
  auto results = grow(inc);
  ASSERT_TRUE(results[0].ok()) << results[0].message;
  EXPECT_EQ(*results[1].error, errc::invalid_request);
  EXPECT_EQ(*results[2].error, errc::unknown_topic_or_partition);
  EXPECT_EQ(*results[3].error, errc::invalid_request);

  std::vector<partition_increase> fewer(1);
  fewer[0].topic = "other";
  fewer[0].count = 1;
  auto r = grow(fewer)[0];
  EXPECT_EQ(*r.error, errc::invalid_partitions);
  EXPECT_EQ(r.kafka_error(), 37);
  EXPECT_NE(
      r.message.find("Topic currently has 2 partitions, which is higher than the requested 1."),
      std::string::npos)
      << r.message;
  fewer[0].count = 2;
  EXPECT_NE(grow(fewer)[0].message.find("Topic already has 2 partitions."), std::string::npos);
  fewer[0].count = 3;
  fewer[0].assignments = {{1}, {1}};
  EXPECT_EQ(*grow(fewer)[0].error, errc::invalid_replica_assignment);
  fewer[0].assignments = {{2}};
  EXPECT_EQ(*grow(fewer)[0].error, errc::invalid_replica_assignment);
  fewer[0].assignments = {{1}};
  EXPECT_TRUE(grow(fewer)[0].ok());

  for (const auto& image : images_on_shards()) {
    EXPECT_EQ(image->find_topic("grow")->partitions.size(), 3u);
    EXPECT_EQ(image->find_topic("other")->partitions.size(), 3u);
  }
  auto l = log_of("grow", 2);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->retention_ms, 777);
  EXPECT_TRUE(log_of("other", 2));
  reopen();
  EXPECT_EQ(ctl->image()->find_topic("grow")->partitions.size(), 3u);
}

std::string described(controller& ctl, const std::string& t, const std::string& key,
                      config_source* source = nullptr) {
  auto image = ctl.image();
  for (const auto& d : ctl.describe_configs(*image->find_topic(t))) {
    if (d.name == key) {
      if (source != nullptr) *source = d.source;
      return d.value;
    }
  }
  return "<missing>";
}

TEST_F(ControllerTest, AlterConfigsReplacesTheWholeSetAndReachesTheLogs) {
  open();
  ASSERT_TRUE(
      create_one(topic_named("c", 2, {{"retention.ms", "1000"}, {"segment.ms", "5000"}})).ok());
  const int64_t before = metadata_end();
  auto r = alter("c", {{"retention.bytes", "4096"}, {"cleanup.policy", "compact,delete"}});
  ASSERT_TRUE(r.ok()) << r.message;
  // Two deletes (retention.ms, segment.ms) and two sets, in one batch.
  EXPECT_EQ(metadata_end(), before + 4);
  config_source source{};
  EXPECT_EQ(described(*ctl, "c", "retention.ms", &source), "604800000");
  EXPECT_EQ(source, config_source::default_config);
  EXPECT_EQ(described(*ctl, "c", "retention.bytes", &source), "4096");
  EXPECT_EQ(source, config_source::topic_config);
  EXPECT_EQ(described(*ctl, "c", "segment.bytes", &source), "65536");
  EXPECT_EQ(source, config_source::static_broker_config);
  for (int32_t p = 0; p < 2; ++p) {
    auto l = log_of("c", p);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->retention_bytes, 4096);
    EXPECT_EQ(l->retention_ms, 604'800'000);
  }

  // Errors, validate_only, and an unchanged set writing nothing.
  EXPECT_EQ(*alter("missing", {}).error, errc::unknown_topic_or_partition);
  EXPECT_EQ(*alter("c", {{"nope", "1"}}).error, errc::invalid_config);
  EXPECT_EQ(*alter("c", {{"retention.ms", std::nullopt}}).error, errc::invalid_config);
  EXPECT_EQ(*alter("c", {{"retention.ms", "1"}, {"retention.ms", "2"}}).error,
            errc::invalid_request);
  const int64_t now = metadata_end();
  EXPECT_TRUE(alter("c", {{"retention.bytes", "1"}}, true).ok());
  EXPECT_TRUE(alter("c", {{"retention.bytes", "4096"}, {"cleanup.policy", "compact,delete"}}).ok());
  EXPECT_EQ(metadata_end(), now);
  EXPECT_EQ(described(*ctl, "c", "retention.bytes"), "4096");
}

TEST_F(ControllerTest, IncrementalAlterConfigsSetsDeletesAppendsAndSubtracts) {
  open();
  ASSERT_TRUE(create_one(topic_named("i", 1, {{"retention.ms", "1000"}})).ok());
  const config_resource res{config_resource_type::topic, "i"};
  auto r = alter_incremental(res, {{"segment.ms", config_op::set, "60000"},
                                   {"retention.ms", config_op::remove, std::nullopt},
                                   {"cleanup.policy", config_op::append, "compact"},
                                   {"not.a.key", config_op::remove, std::nullopt}});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(described(*ctl, "i", "segment.ms"), "60000");
  EXPECT_EQ(described(*ctl, "i", "retention.ms"), "604800000");
  EXPECT_EQ(described(*ctl, "i", "cleanup.policy"), "delete,compact") << "appended to the default";
  ASSERT_TRUE(alter_incremental(res, {{"cleanup.policy", config_op::subtract, "delete"}}).ok());
  EXPECT_EQ(described(*ctl, "i", "cleanup.policy"), "compact");
  ASSERT_TRUE(alter_incremental(res, {{"cleanup.policy", config_op::append, "compact"}}).ok());
  EXPECT_EQ(described(*ctl, "i", "cleanup.policy"), "compact") << "no item twice";
  auto l = log_of("i", 0);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->segment_ms, 60000);
  EXPECT_EQ(l->retention_ms, 604'800'000);

  auto bad = alter_incremental(res, {{"retention.ms", config_op::append, "5"}});
  EXPECT_EQ(*bad.error, errc::invalid_config);
  EXPECT_NE(bad.message.find("Can't APPEND to key retention.ms because its type is not LIST."),
            std::string::npos)
      << bad.message;
  EXPECT_EQ(*alter_incremental(res, {{"retention.ms", config_op::set, "x"}}).error,
            errc::invalid_config);
  EXPECT_EQ(*alter_incremental(res, {{"retention.ms", config_op::set, std::nullopt}}).error,
            errc::invalid_config);
  EXPECT_EQ(*alter_incremental(res, {{"segment.ms", config_op::set, "1"},
                                     {"segment.ms", config_op::remove, std::nullopt}})
                 .error,
            errc::invalid_request);
  EXPECT_EQ(*alter_incremental({config_resource_type::topic, "gone"}, {}).error,
            errc::unknown_topic_or_partition);
  auto broker = alter_incremental({config_resource_type::broker, "1"},
                                  {{"log.retention.ms", config_op::set, "5"}});
  EXPECT_EQ(*broker.error, errc::invalid_request);
  EXPECT_NE(broker.message.find("not supported yet"), std::string::npos);
  EXPECT_TRUE(alter_incremental({config_resource_type::broker, "1"}, {}).ok());

  reopen();
  EXPECT_EQ(described(*ctl, "i", "cleanup.policy"), "compact");
  EXPECT_EQ(log_of("i", 0)->segment_ms, 60000);
}

// Appends `n` one-record batches to a partition; returns its high watermark,
// durable end and log end afterwards (-1s on an error).
task<std::array<int64_t, 3>> append_to(storage::log_manager* m, storage::topic_partition tp,
                                       int n) {
  storage::partition_log* l = m->get(tp);
  if (l == nullptr) co_return std::array<int64_t, 3>{-1, -1, -1};
  for (int i = 0; i < n; ++i) {
    record::batch_builder b({});
    b.add({.value = record::as_bytes("v"), .timestamp_ms = wall_ms()});
    auto bytes = std::move(*b.build());
    auto r = co_await l->append(bytes);
    if (!r) co_return std::array<int64_t, 3>{-1, -1, -1};
  }
  co_return std::array<int64_t, 3>{l->high_watermark(), l->durable_end(), l->log_end_offset()};
}

TEST_F(ControllerTest, ARelaxedTopicMadeDurableNeverMovesItsHighWatermarkBack) {
  open();
  ASSERT_TRUE(create_one(topic_named("relaxed", 1, {{"flush.ms", "3600000"}})).ok());
  const storage::topic_partition tp{"relaxed", 0};
  // Acknowledged once written; nothing syncs them for an hour.
  auto before = rt->block_on(logs->shard_of(tp), append_to(logs.get(), tp, 3));
  EXPECT_EQ(before[0], 3) << "high watermark";
  EXPECT_LT(before[1], 3) << "durable end";

  ASSERT_TRUE(alter_incremental({config_resource_type::topic, "relaxed"},
                                {{"flush.ms", config_op::remove, std::nullopt}})
                  .ok());
  auto now = rt->block_on(logs->shard_of(tp), append_to(logs.get(), tp, 0));
  EXPECT_GE(now[0], 3) << "what consumers saw stays visible";
  EXPECT_EQ(log_of("relaxed", 0)->flush_interval_ms, -1);
  // From now on an append returns durable.
  auto after = rt->block_on(logs->shard_of(tp), append_to(logs.get(), tp, 1));
  EXPECT_EQ(after[1], 4);
  EXPECT_EQ(after[0], 4);
  EXPECT_EQ(after[2], 4);
}

TEST_F(ControllerTest, ConcurrentCreatesFromEveryShardAllLand) {
  open();
  constexpr int k_per_shard = 20;
  auto run = [](controller* c, unsigned shard_id) -> task<std::vector<create_topic_result>> {
    std::vector<task<std::vector<create_topic_result>>> calls;
    for (int i = 0; i < k_per_shard; ++i) {
      std::vector<new_topic> one;
      one.push_back(topic_named(fmt::format("s{}-t{}", shard_id, i), 2));
      calls.push_back(c->create_topics(std::move(one), false));
    }
    auto all = co_await when_all(std::move(calls));
    std::vector<create_topic_result> out;
    for (auto& v : all) out.push_back(std::move(v.front()));
    co_return out;
  };
  std::vector<std::vector<create_topic_result>> per_shard;
  std::vector<std::thread> threads;
  per_shard.resize(rt->size());
  for (unsigned s = 0; s < rt->size(); ++s) {
    threads.emplace_back([&, s] { per_shard[s] = rt->block_on(s, run(ctl.get(), s)); });
  }
  for (auto& t : threads) t.join();
  std::set<topic_id> ids;
  for (const auto& results : per_shard) {
    for (const auto& r : results) {
      EXPECT_TRUE(r.ok()) << r.name << ": " << r.message;
      ids.insert(r.id);
    }
  }
  EXPECT_EQ(ids.size(), size_t{k_per_shard} * rt->size());
  EXPECT_EQ(ctl->image()->topics().size(), ids.size());
  EXPECT_EQ(ctl->image()->partition_count(), 2 * ids.size());
}

TEST_F(ControllerTest, MutationsAfterStopAreRefused) {
  open(false);
  ASSERT_TRUE(ctl->stop());
  auto r = create_one(topic_named("late"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(*r.error, errc::storage_error);
}

TEST_F(ControllerTest, LeftoverDirectoriesOfUnknownTopicsAreKeptAndTheirNamesRefused) {
  open();
  close();
  fs::create_directories(root + "/data/stray-0");
  open();
  EXPECT_TRUE(fs::exists(root + "/data/stray-0"));
  auto r = create_one(topic_named("stray"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(*r.error, errc::invalid_topic);
  EXPECT_NE(r.message.find("move them away"), std::string::npos) << r.message;
}

TEST_F(ControllerTest, LogManagerDoesNotLoadTheMetadataPartition) {
  open();
  storage::topic_partition tp{std::string(k_metadata_topic), 0};
  auto found = rt->block_on(logs->shard_of(tp),
                            [](storage::log_manager* m, storage::topic_partition x) -> task<bool> {
                              co_return m->get(x) != nullptr;
                            }(logs.get(), tp));
  EXPECT_FALSE(found);
  reopen();
  found = rt->block_on(logs->shard_of(tp),
                       [](storage::log_manager* m, storage::topic_partition x) -> task<bool> {
                         co_return m->get(x) != nullptr;
                       }(logs.get(), tp));
  EXPECT_FALSE(found);
}

// Appends one record to the metadata log in `log_dir` as a buggy writer
// would: no controller checks it. On the controller shard (the log's owner).
task<status> append_behind_the_controller(std::string log_dir, metadata_record record) {
  auto log = co_await metadata_log::open(std::move(log_dir));
  if (!log) co_return std::move(log).error();
  std::vector<metadata_record> records;
  records.push_back(std::move(record));
  auto appended = co_await (*log)->append(records);
  status closed = co_await (*log)->close();
  if (!appended) co_return std::move(appended).error();
  co_return closed;
}

TEST_F(ControllerTest, ProducerIdBlocksAreDisjointIncreasingAndOneRecordEach) {
  open(false);
  EXPECT_EQ(ctl->image()->next_producer_id(), 0);
  const int64_t before = metadata_end();
  auto a = allocate(1000);
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->first, 0);
  EXPECT_EQ(a->count, 1000);
  EXPECT_EQ(metadata_end(), before + 1) << "one ProducerIdsRecord";
  auto b = allocate(10, 0);  // from the controller shard itself too
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(b->first, 1000) << "starts where the previous block ended";
  EXPECT_EQ(b->count, 10);
  auto c = allocate(k_producer_id_block_max);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->first, 1010);
  EXPECT_EQ(metadata_end(), before + 3);
  for (const auto& image : images_on_shards()) {
    EXPECT_EQ(image->next_producer_id(), 1010 + k_producer_id_block_max);
  }
}

TEST_F(ControllerTest, ProducerIdBlocksOfABadSizeAreRefusedAndWriteNothing) {
  open(false);
  const int64_t before = metadata_end();
  for (int32_t count : {0, -1, k_producer_id_block_max + 1, std::numeric_limits<int32_t>::min()}) {
    auto r = allocate(count);
    ASSERT_FALSE(r) << count << " accepted";
    EXPECT_TRUE(r.error().is(errc::invalid_request)) << r.error().message();
    EXPECT_EQ(to_kafka_error(static_cast<errc>(r.error().code())), 42);
    EXPECT_NE(r.error().detail().find("ask for 1 to 10000"), std::string::npos)
        << r.error().message();
  }
  EXPECT_EQ(metadata_end(), before);
  EXPECT_EQ(ctl->image()->next_producer_id(), 0);
}

TEST_F(ControllerTest, AReopenedControllerHandsOutProducerIdsAfterTheLastBlock) {
  open(false);
  ASSERT_TRUE(allocate(1000));
  auto last = allocate(500);
  ASSERT_TRUE(last);
  ASSERT_TRUE(create_one(topic_named("between")).ok()) << "other records in between replay too";
  reopen(false);
  EXPECT_EQ(ctl->image()->next_producer_id(), last->first + last->count) << "image replay";
  auto next = allocate(1000);
  ASSERT_TRUE(next) << next.error().message();
  EXPECT_EQ(next->first, 1500);
  reopen(false);
  auto again = allocate(1);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->first, 2500);
}

TEST_F(ControllerTest, ConcurrentProducerIdAllocationsFromEveryShardNeverOverlap) {
  open(false);
  constexpr int k_per_shard = 25;
  auto run = [](controller* c) -> task<std::vector<result<producer_id_block>>> {
    std::vector<task<result<producer_id_block>>> calls;
    for (int i = 0; i < k_per_shard; ++i) calls.push_back(c->allocate_producer_ids(1 + i));
    co_return co_await when_all(std::move(calls));
  };
  std::vector<std::vector<result<producer_id_block>>> per_shard(rt->size());
  std::vector<std::thread> threads;
  for (unsigned s = 0; s < rt->size(); ++s) {
    threads.emplace_back([&, s] { per_shard[s] = rt->block_on(s, run(ctl.get())); });
  }
  for (auto& t : threads) t.join();
  std::vector<std::pair<int64_t, int64_t>> ranges;  // [first, end)
  int64_t total = 0;
  for (const auto& results : per_shard) {
    for (const auto& r : results) {
      ASSERT_TRUE(r) << r.error().message();
      ranges.emplace_back(r->first, r->first + r->count);
      total += r->count;
    }
  }
  std::sort(ranges.begin(), ranges.end());
  EXPECT_EQ(ranges.front().first, 0);
  for (size_t i = 1; i < ranges.size(); ++i) {
    EXPECT_EQ(ranges[i].first, ranges[i - 1].second) << "blocks are disjoint and leave no gap";
  }
  EXPECT_EQ(ctl->image()->next_producer_id(), total);
}

TEST_F(ControllerTest, ProducerIdsAreRefusedOnceTheControllerIsStopped) {
  open(false);
  ASSERT_TRUE(ctl->stop());
  auto r = allocate(1000);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(errc::storage_error)) << r.error().message();
  EXPECT_NE(r.error().detail().find("shutting down"), std::string::npos) << r.error().message();
}

TEST_F(ControllerTest, ProducerIdsRunOutAtTheTopOfTheIdSpaceWithoutWrapping) {
  constexpr int64_t k_max = std::numeric_limits<int64_t>::max();
  fs::create_directories(root + "/data");
  status written = rt->block_on(
      controller::k_shard,
      append_behind_the_controller(root + "/data", producer_ids_record{1, -1, k_max - 5}));
  ASSERT_TRUE(written) << written.error().message();
  open(false);
  EXPECT_EQ(ctl->image()->next_producer_id(), k_max - 5);
  const int64_t before = metadata_end();
  auto too_many = allocate(6);
  ASSERT_FALSE(too_many);
  EXPECT_TRUE(too_many.error().is(errc::producer_ids_exhausted)) << too_many.error().message();
  EXPECT_EQ(to_kafka_error(errc::producer_ids_exhausted), -1);
  EXPECT_EQ(metadata_end(), before) << "nothing written";
  auto last = allocate(5);
  ASSERT_TRUE(last) << last.error().message();
  EXPECT_EQ(last->first, k_max - 5);
  EXPECT_FALSE(allocate(1)) << "INT64_MAX itself is never handed out: it would be the next id";
}

TEST_F(ControllerTest, AMetadataLogWhoseProducerIdsGoBackwardsStopsTheStart) {
  // A log written by a buggy controller: the second block starts below the
  // end of the first. Replay refuses it rather than hand ids out twice.
  open(false);
  ASSERT_TRUE(allocate(1000));
  close();
  status written =
      rt->block_on(controller::k_shard,
                   append_behind_the_controller(root + "/data", producer_ids_record{1, 1, 500}));
  ASSERT_TRUE(written) << written.error().message();

  cfg = config();
  ctl = std::make_unique<controller>(*rt, cfg);
  status st = ctl->start();
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().is(errc::inconsistent_metadata)) << st.error().message();
  EXPECT_NE(st.error().message().find("next producer id 500 is not above the current 1000"),
            std::string::npos)
      << st.error().message();
}

}  // namespace
}  // namespace ringlog::controller
