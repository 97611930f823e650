// metadata_image: records build the image they describe, unchanged topics
// are shared between images (copy-on-write), published images never change,
// and records that do not fit the image are refused with a reason.
#include "controller/metadata_image.h"

#include <gtest/gtest.h>

#include "controller/errc.h"

namespace ringlog::controller {
namespace {

const topic_id k_a{1, 1};
const topic_id k_b{2, 2};

partition_record part(const topic_id& id, int32_t index) {
  partition_record p;
  p.partition_id = index;
  p.topic = id;
  p.replicas = {1};
  p.isr = {1};
  p.leader = 1;
  p.leader_epoch = 0;
  p.partition_epoch = 0;
  return p;
}

std::shared_ptr<const metadata_image> build(const std::vector<metadata_record>& records) {
  metadata_delta delta(*metadata_image::empty());
  int64_t offset = 0;
  for (const auto& r : records) {
    status st = delta.replay(r, offset++);
    EXPECT_TRUE(st) << st.error().message();
  }
  return delta.build();
}

TEST(MetadataImage, RecordsBuildTopicsPartitionsConfigsBrokersAndFeatures) {
  register_broker_record b;
  b.broker_id = 1;
  b.broker_epoch = 5;
  b.endpoints = {{"PLAINTEXT", "localhost", 9092, 0}};
  b.fenced = false;
  auto image = build({feature_level_record{"metadata.version", 7}, b, topic_record{"a", k_a},
                      config_record{config_resource_type::topic, "a", "retention.ms", "10"},
                      part(k_a, 0), part(k_a, 1), topic_record{"b", k_b}, part(k_b, 0),
                      config_record{config_resource_type::broker, "1", "k", "v"}});
  EXPECT_EQ(image->offset(), 8);
  EXPECT_EQ(image->metadata_version(), 7);
  ASSERT_NE(image->find_broker(1), nullptr);
  EXPECT_EQ(image->find_broker(1)->endpoints.front().port, 9092);
  EXPECT_FALSE(image->find_broker(1)->fenced);
  EXPECT_EQ(image->topics().size(), 2u);
  EXPECT_EQ(image->partition_count(), 3u);
  const topic* a = image->find_topic("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a, image->find_topic(k_a));
  EXPECT_EQ(a->id, k_a);
  ASSERT_EQ(a->partitions.size(), 2u);
  EXPECT_EQ(a->partitions[1].id, 1);
  EXPECT_EQ(a->partitions[1].leader, 1);
  EXPECT_EQ(a->configs, (std::map<std::string, std::string>{{"retention.ms", "10"}}));
  EXPECT_EQ(image->broker_configs().at("1").at("k"), "v");
}

TEST(MetadataImage, ApplySharesUntouchedTopicsAndLeavesTheOldImageAlone) {
  auto before = build({topic_record{"a", k_a}, part(k_a, 0), topic_record{"b", k_b}, part(k_b, 0)});
  auto after = before->apply(part(k_a, 1), 10);
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_EQ((*after)->offset(), 10);
  // b is the same object in both; a was copied, and the old a is unchanged.
  EXPECT_EQ(before->topic_ptr("b"), (*after)->topic_ptr("b"));
  EXPECT_NE(before->topic_ptr("a"), (*after)->topic_ptr("a"));
  EXPECT_EQ(before->find_topic("a")->partitions.size(), 1u);
  EXPECT_EQ((*after)->find_topic("a")->partitions.size(), 2u);
  EXPECT_EQ((*after)->find_topic(k_a), (*after)->find_topic("a"));
  EXPECT_EQ(before->partition_count(), 2u);
  EXPECT_EQ((*after)->partition_count(), 3u);
}

TEST(MetadataImage, ADeltaKeepsReplayingAfterABuildWithoutChangingWhatItBuilt) {
  metadata_delta delta(*metadata_image::empty());
  ASSERT_TRUE(delta.replay(topic_record{"a", k_a}, 0));
  ASSERT_TRUE(delta.replay(part(k_a, 0), 1));
  auto first = delta.build();
  ASSERT_TRUE(delta.replay(part(k_a, 1), 2));
  auto second = delta.build();
  EXPECT_EQ(first->find_topic("a")->partitions.size(), 1u);
  EXPECT_EQ(second->find_topic("a")->partitions.size(), 2u);
}

TEST(MetadataImage, RemovingATopicTakesItsPartitionsAndConfigs) {
  auto image = build({topic_record{"a", k_a}, part(k_a, 0),
                      config_record{config_resource_type::topic, "a", "retention.ms", "10"},
                      remove_topic_record{k_a}, topic_record{"a", k_b}});
  const topic* a = image->find_topic("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->id, k_b);
  EXPECT_TRUE(a->partitions.empty());
  EXPECT_TRUE(a->configs.empty());
  EXPECT_EQ(image->find_topic(k_a), nullptr);
  EXPECT_EQ(image->partition_count(), 0u);
}

TEST(MetadataImage, ConfigRecordsWithNullValuesDeleteAndFeatureLevelZeroRemoves) {
  auto image = build({topic_record{"a", k_a},
                      config_record{config_resource_type::topic, "a", "retention.ms", "10"},
                      config_record{config_resource_type::topic, "a", "retention.ms", std::nullopt},
                      config_record{config_resource_type::broker, "", "x", "1"},
                      config_record{config_resource_type::broker, "", "x", std::nullopt},
                      feature_level_record{"metadata.version", 7},
                      feature_level_record{"metadata.version", 0}});
  EXPECT_TRUE(image->find_topic("a")->configs.empty());
  EXPECT_TRUE(image->broker_configs().empty());
  EXPECT_EQ(image->metadata_version(), 0);
}

TEST(MetadataImage, RecordsThatDoNotFitAreRefusedWithAReason) {
  auto image = build({topic_record{"a", k_a}, part(k_a, 0)});
  struct bad_case {
    metadata_record record;
    const char* expect;
  };
  const bad_case cases[] = {
      {topic_record{"a", k_b}, "topic a exists already"},
      {topic_record{"b", k_a}, "is taken already"},
      {topic_record{"", k_b}, "needs a name"},
      {topic_record{"c", topic_id{}}, "non-zero id"},
      {part(k_b, 0), "unknown topic id"},
      {part(k_a, 2), "must stay 0..n-1"},
      {part(k_a, -1), "must stay 0..n-1"},
      {config_record{config_resource_type::topic, "nope", "k", "v"}, "unknown topic nope"},
      {remove_topic_record{k_b}, "unknown topic id"},
  };
  for (const auto& c : cases) {
    auto r = image->apply(c.record, 5);
    ASSERT_FALSE(r) << c.expect;
    EXPECT_TRUE(r.error().is(errc::inconsistent_metadata)) << r.error().message();
    EXPECT_NE(r.error().detail().find(c.expect), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().detail().find("at offset 5"), std::string::npos) << r.error().message();
  }
  auto unknown_type =
      image->apply(config_record{static_cast<config_resource_type>(16), "m", "k", "v"}, 5);
  ASSERT_FALSE(unknown_type);
  EXPECT_TRUE(unknown_type.error().is(errc::unsupported_metadata_record));

  // A failed replay leaves the delta as it was.
  metadata_delta delta(*image);
  EXPECT_FALSE(delta.replay(part(k_b, 0), 7));
  EXPECT_FALSE(delta.changed());
  EXPECT_EQ(delta.build()->offset(), image->offset());
}

TEST(MetadataImage, APartitionRecordForAnExistingPartitionReplacesIt) {
  auto changed = part(k_a, 0);
  changed.leader_epoch = 3;
  changed.partition_epoch = 4;
  auto image = build({topic_record{"a", k_a}, part(k_a, 0), changed});
  ASSERT_EQ(image->find_topic("a")->partitions.size(), 1u);
  EXPECT_EQ(image->find_topic("a")->partitions[0].leader_epoch, 3);
  EXPECT_EQ(image->partition_count(), 1u);
}

TEST(MetadataImage, ProducerIdsRecordsMoveTheNextProducerIdOnlyForward) {
  EXPECT_EQ(metadata_image::empty()->next_producer_id(), 0) << "no block handed out yet";
  auto image = build({topic_record{"a", k_a}, producer_ids_record{1, 1, 1000}, part(k_a, 0),
                      producer_ids_record{1, 1, 2000}});
  EXPECT_EQ(image->next_producer_id(), 2000);
  EXPECT_EQ(image->offset(), 3);
  // Applying a record keeps every topic shared and the old image unchanged.
  auto after = image->apply(producer_ids_record{1, 1, 2500}, 4);
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_EQ((*after)->next_producer_id(), 2500);
  EXPECT_EQ(image->next_producer_id(), 2000);
  EXPECT_EQ((*after)->topic_ptr("a"), image->topic_ptr("a"));

  // Backwards, or standing still, would hand ids out twice.
  for (int64_t next : {int64_t{1999}, int64_t{2000}, int64_t{0}, int64_t{-1}}) {
    auto r = image->apply(producer_ids_record{1, 1, next}, 5);
    ASSERT_FALSE(r) << next << " accepted";
    EXPECT_TRUE(r.error().is(errc::inconsistent_metadata)) << r.error().message();
    EXPECT_NE(r.error().detail().find("ProducerIdsRecord at offset 5"), std::string::npos)
        << r.error().message();
    EXPECT_NE(r.error().detail().find("is not above the current 2000"), std::string::npos)
        << r.error().message();
  }
}

}  // namespace
}  // namespace ringlog::controller
