// Metadata records: KRaft framing and flexible encoding byte for byte (a
// TopicRecord written by hand from the schema), round trips of every record
// type, and decoding of truncated or garbage input failing with a message
// that names the record and the byte.
#include "controller/metadata_records.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "controller/errc.h"

namespace ringlog::controller {
namespace {

std::vector<std::byte> bytes(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

const topic_id k_id{0x0102030405060708ULL, 0x090a0b0c0d0e0f10ULL};

TEST(Uuid, PrintsAndParsesKafkasBase64UrlForm) {
  EXPECT_EQ(k_id.to_string(), "AQIDBAUGBwgJCgsMDQ4PEA");
  EXPECT_EQ((topic_id{~0ULL, ~0ULL}).to_string(), "_____________________w");
  EXPECT_EQ(topic_id{}.to_string(), "AAAAAAAAAAAAAAAAAAAAAA");
  auto parsed = topic_id::parse("AQIDBAUGBwgJCgsMDQ4PEA");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, k_id);
  for (const char* bad :
       {"", "AQIDBAUGBwgJCgsMDQ4PE", "AQIDBAUGBwgJCgsMDQ4PEAA",
        "AQIDBAUGBwgJCgsMDQ4PE=", "AQIDBAUGBwgJCgsMDQ4PEB", "AQIDBAUGBwgJCgsMDQ4P+A"}) {
    EXPECT_FALSE(topic_id::parse(bad)) << bad;
  }
}

TEST(Uuid, RandomIdsAreVersion4NonZeroAndNeverStartWithADash) {
  for (int i = 0; i < 2000; ++i) {
    const topic_id id = topic_id::random();
    EXPECT_FALSE(id.is_zero());
    EXPECT_EQ((id.msb >> 12) & 0xF, 4u);
    EXPECT_NE(id.to_string().front(), '-');
    EXPECT_EQ(topic_id::parse(id.to_string()), id);
  }
}

TEST(MetadataRecords, TopicRecordMatchesBytesWrittenFromTheSchema) {
  // frame version 1, type 2 (TopicRecord), version 0; Name "foo" as a
  // compact string (length + 1 = 4); TopicId, 16 bytes big-endian; no tags.
  const auto expected =
      bytes({0x01, 0x02, 0x00, 0x04, 'f',  'o',  'o',  0x01, 0x02, 0x03, 0x04, 0x05,
             0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x00});
  EXPECT_EQ(encode(topic_record{"foo", k_id}), expected);
  auto decoded = decode(expected);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(std::get<topic_record>(*decoded), (topic_record{"foo", k_id}));
}

TEST(MetadataRecords, PartitionAndConfigRecordsMatchBytesWrittenFromTheSchema) {
  partition_record p;
  p.partition_id = 1;
  p.topic = k_id;
  p.replicas = {7};
  p.isr = {7};
  p.leader = 7;
  p.leader_epoch = 0;
  p.partition_epoch = 2;
  std::vector<std::byte> expected = bytes({0x01, 0x03, 0x00, 0, 0, 0, 1});
  for (int i = 1; i <= 16; ++i) expected.push_back(static_cast<std::byte>(i));
  for (int b : {0x02, 0,    0, 0, 7,  // replicas [7]
                0x02, 0,    0, 0, 7,  // isr [7]
                0x01, 0x01,           // removing, adding: empty
                0,    0,    0, 7,     // leader
                0,    0,    0, 0,     // leader epoch
                0,    0,    0, 2,     // partition epoch
                0x00}) {
    expected.push_back(static_cast<std::byte>(b));
  }
  EXPECT_EQ(encode(p), expected);

  // ResourceType 2 (topic), "t", "retention.ms", null value.
  const auto config = bytes({0x01, 0x04, 0x00, 0x02, 0x02, 't', 0x0d, 'r', 'e',  't', 'e',
                             'n',  't',  'i',  'o',  'n',  '.', 'm',  's', 0x00, 0x00});
  EXPECT_EQ(encode(config_record{config_resource_type::topic, "t", "retention.ms", std::nullopt}),
            config);
}

TEST(MetadataRecords, ProducerIdsRecordMatchesBytesWrittenFromTheSchema) {
  // frame 1, type 15, version 0; BrokerId int32 1; BrokerEpoch int64 5;
  // NextProducerId int64 2000 (0x7d0); no tags.
  const auto expected = bytes(
      {0x01, 0x0f, 0x00, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0x07, 0xd0, 0x00});
  const producer_ids_record r{1, 5, 2000};
  EXPECT_EQ(encode(r), expected);
  auto decoded = decode(expected);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(std::get<producer_ids_record>(*decoded), r);
  EXPECT_EQ(name_of(type_of(r)), "ProducerIdsRecord");
}

std::vector<metadata_record> samples() {
  register_broker_record b;
  b.broker_id = 3;
  b.incarnation = incarnation_id{0x1111, 0x2222};
  b.broker_epoch = 42;
  b.endpoints = {{"PLAINTEXT", "127.0.0.1", 9092, 0}, {"INTERNAL", "", 19092, 0}};
  b.features = {{"metadata.version", 7, 7}};
  b.rack = "rack-a";
  b.fenced = false;
  b.in_controlled_shutdown = true;

  partition_record p;
  p.partition_id = 4;
  p.topic = k_id;
  p.replicas = {1, 2, 3};
  p.isr = {1, 3};
  p.removing_replicas = {2};
  p.adding_replicas = {};
  p.leader = 3;
  p.leader_recovery_state = 1;
  p.leader_epoch = 9;
  p.partition_epoch = 12;

  return {b,
          register_broker_record{},
          topic_record{"orders", k_id},
          p,
          partition_record{},
          config_record{config_resource_type::topic, "orders", "cleanup.policy", "compact"},
          config_record{config_resource_type::broker, "", "log.retention.ms", std::nullopt},
          remove_topic_record{k_id},
          feature_level_record{"metadata.version", 7},
          producer_ids_record{3, 42, 9'000'000'000LL},
          producer_ids_record{}};
}

TEST(MetadataRecords, EveryRecordTypeRoundTrips) {
  for (const metadata_record& r : samples()) {
    const auto encoded = encode(r);
    auto decoded = decode(encoded);
    ASSERT_TRUE(decoded) << name_of(type_of(r)) << ": " << decoded.error().message();
    EXPECT_EQ(*decoded, r) << name_of(type_of(r));
  }
}

TEST(MetadataRecords, FramesCarryTheVersionsWeWrite) {
  EXPECT_EQ(encode(register_broker_record{})[2], std::byte{1});
  EXPECT_EQ(encode(partition_record{})[2], std::byte{0});
  EXPECT_EQ(encode(feature_level_record{})[1], std::byte{12});
  EXPECT_EQ(encode(remove_topic_record{})[1], std::byte{9});
  EXPECT_EQ(encode(producer_ids_record{})[1], std::byte{15});
  EXPECT_EQ(encode(producer_ids_record{})[2], std::byte{0});
}

TEST(MetadataRecords, EveryTruncationFailsNamingTheRecordAndByte) {
  for (const metadata_record& r : samples()) {
    const auto encoded = encode(r);
    for (size_t n = 0; n < encoded.size(); ++n) {
      auto decoded = decode(std::span(encoded).first(n));
      ASSERT_FALSE(decoded) << name_of(type_of(r)) << " cut to " << n << " bytes decoded";
      EXPECT_TRUE(decoded.error().is(errc::corrupt_metadata_record)) << decoded.error().message();
      if (n >= 3) {
        EXPECT_NE(decoded.error().detail().find(std::string(name_of(type_of(r)))),
                  std::string::npos)
            << decoded.error().message();
        EXPECT_NE(decoded.error().detail().find("at byte"), std::string::npos)
            << decoded.error().message();
      }
    }
  }
}

TEST(MetadataRecords, GarbageFailsWithAReason) {
  // A frame version other than 1.
  auto e = decode(bytes({0x02, 0x02, 0x00}));
  ASSERT_FALSE(e);
  EXPECT_TRUE(e.error().is(errc::corrupt_metadata_record));
  EXPECT_NE(e.error().detail().find("frame version 2"), std::string::npos) << e.error().message();

  // A record type we do not implement (PartitionChangeRecord, 5) and an
  // unknown one: refused, not skipped.
  for (int type : {5, 99}) {
    e = decode(bytes({0x01, type, 0x00, 0x00}));
    ASSERT_FALSE(e);
    EXPECT_TRUE(e.error().is(errc::unsupported_metadata_record)) << e.error().message();
    EXPECT_NE(e.error().detail().find("record type " + std::to_string(type)), std::string::npos);
  }

  // A version past the ones we read.
  auto topic = encode(topic_record{"foo", k_id});
  topic[2] = std::byte{1};
  e = decode(topic);
  ASSERT_FALSE(e);
  EXPECT_TRUE(e.error().is(errc::unsupported_metadata_record));
  EXPECT_NE(e.error().detail().find("TopicRecord v1"), std::string::npos) << e.error().message();

  // Bytes after the record.
  topic = encode(topic_record{"foo", k_id});
  topic.push_back(std::byte{0});
  e = decode(topic);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().detail().find("1 bytes after the record at byte 24"), std::string::npos)
      << e.error().message();

  // A string length past the end.
  e = decode(bytes({0x01, 0x02, 0x00, 0x7f, 'a'}));
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().detail().find("TopicRecord v0: truncated at byte 4"), std::string::npos)
      << e.error().message();

  // A null name where the schema has none.
  e = decode(bytes({0x01, 0x02, 0x00, 0x00}));
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().detail().find("null string"), std::string::npos) << e.error().message();

  // An array count far past the end: refused before anything is reserved.
  auto part = encode(partition_record{});
  part[3 + 4 + 16] = std::byte{0xff};
  part.insert(part.begin() + 3 + 4 + 16 + 1, {std::byte{0xff}, std::byte{0xff}, std::byte{0x0f}});
  e = decode(part);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().detail().find("array count past the end"), std::string::npos)
      << e.error().message();

  // A varint longer than 32 bits in the frame.
  e = decode(bytes({0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}));
  ASSERT_FALSE(e);
  EXPECT_TRUE(e.error().is(errc::corrupt_metadata_record));
}

TEST(MetadataRecords, UnknownTaggedFieldsAreSkippedAndOrderIsChecked) {
  auto topic = encode(topic_record{"foo", k_id});
  topic.pop_back();  // the empty tag section
  for (int b : {0x02, 0x03, 0x02, 0xaa, 0xbb, 0x07, 0x00})
    topic.push_back(static_cast<std::byte>(b));
  auto decoded = decode(topic);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(std::get<topic_record>(*decoded).name, "foo");

  topic = encode(topic_record{"foo", k_id});
  topic.pop_back();
  for (int b : {0x02, 0x07, 0x00, 0x03, 0x00}) topic.push_back(static_cast<std::byte>(b));
  decoded = decode(topic);
  ASSERT_FALSE(decoded);
  EXPECT_NE(decoded.error().detail().find("out of order"), std::string::npos);
}

}  // namespace
}  // namespace ringlog::controller
