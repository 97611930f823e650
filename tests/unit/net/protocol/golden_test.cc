// Golden frames written by hand from the spec (FORMATS.md §4-5 and Kafka's
// message specs), checked against what our codecs write and read: headers of
// both versions, a flexible body with tagged fields, Produce records as a view
// into the request, and a Fetch response whose records go out as a file range.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "net/protocol/api/api_versions.h"
#include "net/protocol/api/fetch.h"
#include "net/protocol/api/metadata.h"
#include "net/protocol/api/produce.h"
#include "net/protocol/api/request_header.h"
#include "net/protocol/wire.h"
#include "tests/unit/net/protocol/bytes_util.h"

namespace ringlog::protocol {
namespace {

using testutil::golden;
using testutil::hex;

// Golden frames are built with clang-format off: one line per wire field reads
// like the spec.

// The frame after its 4 size bytes, as the server hands it to the decoder.
std::vector<std::byte> body_of(const std::vector<std::byte>& frame) {
  return {frame.begin() + 4, frame.end()};
}

TEST(Golden, ApiVersionsV0RequestHeaderAndBody) {
  // Request header v1: api_key, api_version, correlation_id, client_id
  // (int16-length string). ApiVersions v0 has an empty body.
  const auto expected = golden{}.be16(18).be16(0).be32(1).str("abc").framed();
  EXPECT_EQ(hex(expected), "00 00 00 0d 00 12 00 00 00 00 00 01 00 03 61 62 63");

  wire_writer w;
  encode_request_header(w,
                        {.api_key = 18, .api_version = 0, .correlation_id = 1, .client_id = "abc"});
  api_versions_request{}.encode(w, 0);
  w.finish();
  EXPECT_EQ(hex(w.memory()), hex(expected));

  auto body = body_of(expected);
  wire_reader r(body);
  request_header h;
  ASSERT_TRUE(decode_request_header(r, h)) << r.error_message();
  EXPECT_EQ(h.api_key, 18);
  EXPECT_EQ(h.api_version, 0);
  EXPECT_EQ(h.correlation_id, 1);
  EXPECT_EQ(h.client_id, "abc");
  api_versions_request req;
  req.decode(r, 0);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(Golden, ApiVersionsV3RequestHasHeaderV2AndCompactStrings) {
  // Header v2 keeps client_id's int16 length, then an empty tagged section.
  // clang-format off
  const auto expected = golden{}
      .be16(18).be16(3).be32(7).str("cli").u8(0)  // header v2: int16 client id, tags
      .cstr("kcat").cstr("1.7").u8(0)             // body: compact strings, tags
      .framed();
  // clang-format on
  wire_writer w;
  encode_request_header(w,
                        {.api_key = 18, .api_version = 3, .correlation_id = 7, .client_id = "cli"});
  api_versions_request req;
  req.client_software_name = "kcat";
  req.client_software_version = "1.7";
  req.encode(w, 3);
  w.finish();
  EXPECT_EQ(hex(w.memory()), hex(expected));

  auto body = body_of(expected);
  wire_reader r(body);
  request_header h;
  ASSERT_TRUE(decode_request_header(r, h));
  api_versions_request out;
  out.decode(r, 3);
  ASSERT_TRUE(r.ok()) << r.error_message();
  EXPECT_EQ(out.client_software_name, "kcat");
  EXPECT_EQ(out.client_software_version, "1.7");
}

TEST(Golden, ApiVersionsV3ResponseUsesHeaderV0WithAFlexibleBody) {
  // clang-format off
  const auto expected = golden{}
      .be32(7)                          // header v0: no tags
      .be16(0)                          // error_code
      .u8(3)                            // 2 api keys, +1
      .be16(0).be16(0).be16(11).u8(0)   // Produce 0-11
      .be16(18).be16(0).be16(4).u8(0)   // ApiVersions 0-4
      .be32(0)                          // throttle_time_ms
      .u8(2)                            // two tagged fields
      .u8(1).u8(8).be64(5)              // tag 1: finalized_features_epoch = 5
      .u8(3).u8(1).u8(1)                // tag 3: zk_migration_ready = true
      .framed();
  // clang-format on
  EXPECT_EQ(response_header_version(18, 3), 0);
  api_versions_response resp;
  resp.api_keys = {{.api_key = 0, .min_version = 0, .max_version = 11},
                   {.api_key = 18, .min_version = 0, .max_version = 4}};
  resp.finalized_features_epoch = 5;
  resp.zk_migration_ready = true;
  wire_writer w;
  encode_response_header(w, 7, api_versions_response::api_key, 3);
  resp.encode(w, 3);
  w.finish();
  EXPECT_EQ(hex(w.memory()), hex(expected));

  auto body = body_of(expected);
  wire_reader r(body);
  EXPECT_EQ(r.read_int32(), 7);
  api_versions_response out;
  out.decode(r, 3);
  ASSERT_TRUE(r.ok()) << r.error_message();
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_TRUE(out == resp);
  EXPECT_EQ(out.finalized_features_epoch, 5);
  EXPECT_TRUE(out.zk_migration_ready);
}

TEST(Golden, ApiVersionsResponseSkipsUnknownTagsAnywhere) {
  // One api key whose element carries unknown tag 9, and an unknown tag 6 in
  // the body next to the known tag 1.
  // clang-format off
  auto body = golden{}
      .be16(0)
      .u8(2)                                                     // one api key
      .be16(3).be16(0).be16(12).u8(1).u8(9).u8(2).be16(0x7777)   // with unknown tag 9
      .be32(100)
      .u8(2).u8(1).u8(8).be64(77).u8(6).u8(3).u8(1).u8(2).u8(3)  // tag 1, unknown tag 6
      .out;
  // clang-format on
  wire_reader r(body);
  api_versions_response out;
  out.decode(r, 4);
  ASSERT_TRUE(r.ok()) << r.error_message();
  EXPECT_EQ(r.remaining(), 0u);
  ASSERT_EQ(out.api_keys.size(), 1u);
  EXPECT_EQ(out.api_keys[0].max_version, 12);
  EXPECT_EQ(out.throttle_time_ms, 100);
  EXPECT_EQ(out.finalized_features_epoch, 77);
}

TEST(Golden, MetadataV0Request) {
  // Metadata v0: topics is a non-nullable int32-counted array of strings.
  // clang-format off
  const auto expected = golden{}
      .be16(3).be16(0).be32(42).be16(-1)  // header v1, null client id
      .be32(2).str("foo").str("bar")      // topics
      .framed();
  // clang-format on
  wire_writer w;
  encode_request_header(
      w, {.api_key = 3, .api_version = 0, .correlation_id = 42, .client_id = std::nullopt});
  metadata_request req;
  req.topics.emplace();
  req.topics->push_back({.topic_id = {}, .name = "foo"});
  req.topics->push_back({.topic_id = {}, .name = "bar"});
  req.encode(w, 0);
  w.finish();
  EXPECT_EQ(hex(w.memory()), hex(expected));

  auto body = body_of(expected);
  wire_reader r(body);
  request_header h;
  ASSERT_TRUE(decode_request_header(r, h));
  EXPECT_FALSE(h.client_id.has_value());
  metadata_request out;
  out.decode(r, 0);
  ASSERT_TRUE(r.ok()) << r.error_message();
  ASSERT_TRUE(out.topics.has_value());
  ASSERT_EQ(out.topics->size(), 2u);
  EXPECT_EQ((*out.topics)[1].name, "bar");
  EXPECT_TRUE(out.allow_auto_topic_creation);  // v4+ field: its default
}

TEST(Golden, ProduceV3RequestRecordsAreAViewIntoTheFrame) {
  const auto batch = testutil::bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x31, 0xaa, 0xbb});
  // clang-format off
  auto frame = golden{}
      .be16(0).be16(3).be32(9).str("p")   // header v1
      .be16(-1)                           // transactional_id: null
      .be16(-1)                           // acks = -1
      .be32(30000)                        // timeout_ms
      .be32(1).str("t")                   // one topic "t"
      .be32(1).be32(0)                    // one partition, index 0
      .be32(static_cast<int64_t>(batch.size())).raw(batch)
      .framed();
  // clang-format on
  auto body = body_of(frame);
  wire_reader r(body);
  request_header h;
  ASSERT_TRUE(decode_request_header(r, h));
  produce_request req;
  req.decode(r, h.api_version);
  ASSERT_TRUE(r.ok()) << r.error_message();
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_FALSE(req.transactional_id.has_value());
  EXPECT_EQ(req.acks, -1);
  EXPECT_EQ(req.timeout_ms, 30000);
  ASSERT_EQ(req.topic_data.size(), 1u);
  const auto& topic = req.topic_data[0];
  EXPECT_EQ(topic.name, "t");
  ASSERT_EQ(topic.partition_data.size(), 1u);
  const records_data& rec = topic.partition_data[0].records;
  EXPECT_FALSE(rec.is_null);
  ASSERT_EQ(rec.bytes.size(), batch.size());
  // No copy: the view sits at the records' place in the buffer, and writing
  // through it (as offset assignment does) changes the request in place.
  EXPECT_EQ(rec.bytes.data(), body.data() + body.size() - batch.size());
  EXPECT_GE(reinterpret_cast<const std::byte*>(topic.name.data()), body.data());
  EXPECT_LT(reinterpret_cast<const std::byte*>(topic.name.data()), body.data() + body.size());
  rec.bytes[7] = std::byte{0x2a};
  EXPECT_EQ(body[body.size() - batch.size() + 7], std::byte{0x2a});

  // Re-encoding writes the same frame (with the stamped byte).
  auto stamped = frame;
  stamped[stamped.size() - batch.size() + 7] = std::byte{0x2a};
  wire_writer w;
  encode_request_header(w, h);
  req.encode(w, h.api_version);
  w.finish();
  EXPECT_EQ(hex(w.memory()), hex(stamped));
}

TEST(Golden, FetchV11ResponseSendsFileRecordsAsAChunkBetweenMemoryRuns) {
  constexpr uint32_t k_file_bytes = 1000;
  // clang-format off
  golden g;
  g.be32(5)                                      // response header v0
      .be32(0).be16(0).be32(0)                   // throttle, error_code, session_id
      .be32(1).str("t")                          // one topic
      .be32(2)                                   // two partitions
      .be32(0).be16(0).be64(100).be64(90).be64(0)  // p0: index, error, hw, lso, log start
      .be32(-1)                                  // aborted_transactions: null
      .be32(-1)                                  // preferred_read_replica
      .be32(k_file_bytes);                       // records length; the bytes are in a file
  const size_t file_at = g.out.size() + 4;       // + the frame size
  g.be32(1).be16(0).be64(100).be64(100).be64(0)  // p1
      .be32(0)                                   // aborted_transactions: empty
      .be32(-1)                                  // preferred_read_replica
      .be32(3).u8(7).u8(8).u8(9);                // records in memory
  // clang-format on
  std::vector<std::byte> memory =
      golden{}.be32(static_cast<int64_t>(g.out.size() + k_file_bytes)).out;
  memory.insert(memory.end(), g.out.begin(), g.out.end());

  auto segment = std::make_shared<int>(0);  // stands for the open segment
  auto in_memory = testutil::bytes({7, 8, 9});
  fetch_response resp;
  auto& topic = resp.responses.emplace_back();
  topic.topic = "t";
  auto& p0 = topic.partitions.emplace_back();
  p0.partition_index = 0;
  p0.high_watermark = 100;
  p0.last_stable_offset = 90;
  p0.log_start_offset = 0;
  p0.aborted_transactions.reset();
  p0.records.is_null = false;
  p0.records.files.push_back({.fd = 42, .offset = 8192, .bytes = k_file_bytes, .owner = segment});
  auto& p1 = topic.partitions.emplace_back();
  p1.partition_index = 1;
  p1.high_watermark = 100;
  p1.last_stable_offset = 100;
  p1.log_start_offset = 0;
  p1.records.is_null = false;
  p1.records.bytes = in_memory;

  wire_writer w;
  encode_response_header(w, 5, fetch_response::api_key, 11);
  resp.encode(w, 11);
  w.finish();
  EXPECT_EQ(hex(w.memory()), hex(memory));
  EXPECT_EQ(w.total_bytes(), memory.size() + k_file_bytes);

  const auto chunks = w.chunks();
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].memory_offset, 0u);
  EXPECT_EQ(chunks[0].memory_bytes, file_at);
  EXPECT_EQ(chunks[0].file.bytes, 0u);
  EXPECT_EQ(chunks[1].memory_bytes, 0u);
  EXPECT_EQ(chunks[1].file.fd, 42);
  EXPECT_EQ(chunks[1].file.offset, 8192u);
  EXPECT_EQ(chunks[1].file.bytes, k_file_bytes);
  EXPECT_EQ(chunks[1].file.owner, segment);
  EXPECT_EQ(chunks[2].memory_offset, file_at);
  EXPECT_EQ(chunks[2].memory_bytes, memory.size() - file_at);
  uint32_t size;
  std::memcpy(&size, w.memory().data(), 4);
  EXPECT_EQ(__builtin_bswap32(size), w.total_bytes() - 4);
}

TEST(Headers, VersionsFollowTheBodysFlexibility) {
  EXPECT_EQ(request_header_version(produce_request::api_key, 8), 1);
  EXPECT_EQ(request_header_version(produce_request::api_key, 9), 2);
  EXPECT_EQ(response_header_version(produce_request::api_key, 8), 0);
  EXPECT_EQ(response_header_version(produce_request::api_key, 9), 1);
  // ApiVersions: request header v2 when flexible (even above our max), the
  // response header always v0.
  EXPECT_EQ(request_header_version(18, 3), 2);
  EXPECT_EQ(request_header_version(18, 9), 2);
  EXPECT_EQ(response_header_version(18, 4), 0);
  // SaslHandshake is never flexible.
  EXPECT_EQ(request_header_version(17, 1), 1);
  // A key we do not declare: v1, so its correlation id is still readable.
  EXPECT_EQ(request_header_version(4, 7), 1);
  EXPECT_EQ(request_header_version(-5, 0), 1);
}

TEST(Headers, FlexibleRequestHeaderSkipsUnknownTags) {
  auto frame =
      golden{}.be16(3).be16(12).be32(77).str("x").u8(1).u8(3).u8(2).u8(0).u8(0).u8(0xee).out;
  wire_reader r(frame);
  request_header h;
  ASSERT_TRUE(decode_request_header(r, h)) << r.error_message();
  EXPECT_EQ(h.correlation_id, 77);
  EXPECT_EQ(r.remaining(), 1u);
}

TEST(Headers, TruncatedHeaderFailsWithAReason) {
  auto full = golden{}.be16(3).be16(12).be32(77).str("client").u8(0).out;
  for (size_t cut = 0; cut < full.size(); ++cut) {
    std::vector<std::byte> prefix(full.begin(), full.begin() + static_cast<ptrdiff_t>(cut));
    wire_reader r(prefix);
    request_header h;
    EXPECT_FALSE(decode_request_header(r, h)) << "cut at " << cut;
    EXPECT_NE(r.error_message().find("request_header."), std::string::npos) << r.error_message();
  }
  auto unknown_key = golden{}.be16(999).be16(0).be32(5).str("c").be32(1).out;
  wire_reader r(unknown_key);
  request_header h;
  ASSERT_TRUE(decode_request_header(r, h));
  EXPECT_EQ(h.api_key, 999);
  EXPECT_EQ(h.correlation_id, 5);
  EXPECT_EQ(r.remaining(), 4u);
}

TEST(Headers, ResponseHeaderV1HasAnEmptyTaggedSection) {
  wire_writer w(false);
  encode_response_header(w, 0x01020304, produce_request::api_key, 9);
  EXPECT_EQ(hex(w.memory()), "01 02 03 04 00");
  w.clear();
  encode_response_header(w, 0x01020304, produce_request::api_key, 8);
  EXPECT_EQ(hex(w.memory()), "01 02 03 04");
}

}  // namespace
}  // namespace ringlog::protocol
