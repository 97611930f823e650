// Topic configs: values are checked with Kafka's types and ranges and stored
// in one spelling; DescribeConfigs reports every key with its source; the
// partition logs get the effective settings.
#include "controller/topic_config.h"

#include <gtest/gtest.h>

#include <limits>

#include "controller/errc.h"

namespace ringlog::controller {
namespace {

broker_config defaults() {
  auto c = load_broker_config(std::nullopt, {});
  EXPECT_TRUE(c) << c.error().message();
  return *c;
}

TEST(TopicConfig, ValuesAreCheckedAndNormalised) {
  struct good_case {
    const char* key;
    const char* value;
    const char* normalised;
  };
  for (const auto& c : std::initializer_list<good_case>{
           {"retention.ms", " 1000 ", "1000"},
           {"retention.ms", "+5", "5"},
           {"retention.ms", "-1", "-1"},
           {"retention.bytes", "-100", "-100"},
           {"cleanup.policy", "compact , delete", "compact,delete"},
           {"cleanup.policy", "", ""},
           {"unclean.leader.election.enable", "TRUE", "true"},
           {"min.cleanable.dirty.ratio", " 0.25", "0.25"},
           {"compression.type", "zstd", "zstd"},
           {"message.timestamp.type", "LogAppendTime", "LogAppendTime"},
           {"flush.ms", "-1", "-1"},
           {"segment.bytes", "14", "14"},
       }) {
    auto r = check_topic_config(c.key, c.value);
    ASSERT_TRUE(r) << c.key << "=" << c.value << ": " << r.error().message();
    EXPECT_EQ(*r, c.normalised) << c.key;
  }
}

TEST(TopicConfig, BadKeysAndValuesAreInvalidConfigNamingTheKey) {
  struct bad_case {
    const char* key;
    const char* value;
    const char* expect;
  };
  for (const auto& c : std::initializer_list<bad_case>{
           {"retention.msx", "1",
            "Unknown topic config name: retention.msx (did you mean retention.ms?)"},
           {"log.retention.ms", "1", "Unknown topic config name: log.retention.ms"},
           {"retention.ms", "abc", "retention.ms: \"abc\" is not an integer"},
           {"retention.ms", "-2", "is out of range"},
           {"segment.bytes", "13", "is out of range"},
           {"segment.bytes", "2147483648", "is out of range"},
           {"min.insync.replicas", "0", "is out of range"},
           {"cleanup.policy", "delete,archive", "not allowed: \"archive\""},
           {"compression.type", "brotli", "is not an allowed value"},
           {"unclean.leader.election.enable", "yes", "is not a boolean"},
           {"min.cleanable.dirty.ratio", "1.5", "is out of range"},
           {"message.timestamp.type", "createtime", "is not an allowed value"},
       }) {
    auto r = check_topic_config(c.key, c.value);
    ASSERT_FALSE(r) << c.key << "=" << c.value;
    EXPECT_TRUE(r.error().is(errc::invalid_config)) << r.error().message();
    EXPECT_NE(r.error().detail().find(c.expect), std::string::npos) << r.error().detail();
  }
}

TEST(TopicConfig, DescribeListsEveryKeyWithItsSource) {
  broker_config broker = defaults();
  broker.log_retention_ms = 3'600'000;  // as if the config file set it
  auto described = describe_topic_configs(broker, {{"cleanup.policy", "compact"}});
  ASSERT_EQ(described.size(), topic_config_schema().keys().size());
  EXPECT_TRUE(std::is_sorted(described.begin(), described.end(),
                             [](const auto& a, const auto& b) { return a.name < b.name; }));
  auto find = [&](std::string_view name) {
    auto it = std::find_if(described.begin(), described.end(),
                           [&](const auto& d) { return d.name == name; });
    EXPECT_NE(it, described.end()) << name;
    return *it;
  };
  EXPECT_EQ(find("cleanup.policy").value, "compact");
  EXPECT_EQ(find("cleanup.policy").source, config_source::topic_config);
  EXPECT_EQ(find("cleanup.policy").type, config_type::list);
  EXPECT_EQ(find("retention.ms").value, "3600000");
  EXPECT_EQ(find("retention.ms").source, config_source::static_broker_config);
  EXPECT_EQ(find("segment.bytes").value, "1073741824");
  EXPECT_EQ(find("segment.bytes").source, config_source::default_config);
  EXPECT_EQ(find("segment.bytes").type, config_type::int32);
  EXPECT_EQ(find("compression.type").value, "producer");
  EXPECT_EQ(find("flush.ms").value, "-1");
  for (const auto& d : described) {
    EXPECT_FALSE(d.read_only);
    EXPECT_FALSE(d.sensitive);
    EXPECT_FALSE(d.documentation.empty()) << d.name;
  }
}

TEST(TopicConfig, LogConfigTakesOverridesOverBrokerDefaults) {
  broker_config broker = defaults();
  broker.log_segment_bytes = 1 << 20;
  auto plain = topic_log_config(broker, {});
  EXPECT_EQ(plain.segment_bytes, 1 << 20);
  EXPECT_EQ(plain.retention_ms, 604'800'000);
  EXPECT_EQ(plain.retention_bytes, -1);
  EXPECT_EQ(plain.flush_interval_ms, -1);
  EXPECT_EQ(plain.flush_interval_messages, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(plain.max_message_bytes, 1'048'588);

  auto c = topic_log_config(broker, {{"segment.bytes", "4096"},
                                     {"retention.ms", "-1"},
                                     {"retention.bytes", "-50"},
                                     {"segment.ms", "1000"},
                                     {"segment.index.bytes", "8192"},
                                     {"index.interval.bytes", "100"},
                                     {"max.message.bytes", "2000"},
                                     {"flush.ms", "50"},
                                     {"flush.messages", "10"}});
  EXPECT_EQ(c.segment_bytes, 4096);
  EXPECT_EQ(c.retention_ms, -1);
  EXPECT_EQ(c.retention_bytes, -1);
  EXPECT_EQ(c.segment_ms, 1000);
  EXPECT_EQ(c.index_max_bytes, 8192);
  EXPECT_EQ(c.index_interval_bytes, 100);
  EXPECT_EQ(c.max_message_bytes, 2000);
  EXPECT_EQ(c.flush_interval_ms, 50);
  EXPECT_EQ(c.flush_interval_messages, 10);

  // An override that does not parse (a build with other rules wrote it)
  // falls back to the broker default.
  EXPECT_EQ(topic_log_config(broker, {{"segment.bytes", "big"}}).segment_bytes, 1 << 20);
}

TEST(TopicConfig, OnlyListKeysTakeAppendAndSubtract) {
  EXPECT_TRUE(is_list_config("cleanup.policy"));
  EXPECT_FALSE(is_list_config("retention.ms"));
  EXPECT_FALSE(is_list_config("nope"));
}

}  // namespace
}  // namespace ringlog::controller
