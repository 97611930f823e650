// The wire primitives: encodings from FORMATS.md §4, the reader's bounds and
// sticky error on bad input, and the writer's memory/file chunk stream.
#include "net/protocol/wire.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "net/protocol/api/api_versions.h"
#include "net/protocol/api/metadata.h"
#include "tests/unit/net/protocol/bytes_util.h"

namespace ringlog::protocol {
namespace {

using testutil::bytes;
using testutil::hex;

TEST(WireWriter, EncodesPrimitivesBigEndianAndVarintsAsInTheSpec) {
  wire_writer w(false);
  w.write_int8(-2);
  w.write_int16(0x0102);
  w.write_int32(-1);
  w.write_int64(0x0102030405060708);
  w.write_uint16(0xfffe);
  w.write_uint32(0x80000000u);
  w.write_bool(true);
  w.write_float64(1.0);
  EXPECT_EQ(hex(w.memory()),
            "fe 01 02 ff ff ff ff 01 02 03 04 05 06 07 08 ff fe 80 00 00 00 01 "
            "3f f0 00 00 00 00 00 00");
  w.clear();
  // FORMATS.md §4: 0->00, -1->01, 1->02, 63->7E, -64->7F, 64->80 01.
  for (int32_t v : {0, -1, 1, 63, -64, 64}) w.write_varint(v);
  w.write_uvarint(300);
  EXPECT_EQ(hex(w.memory()), "00 01 02 7e 7f 80 01 ac 02");
}

TEST(WireWriter, WritesClassicAndCompactStringsBytesAndArrays) {
  wire_writer w(false);
  w.write_string("ab");
  w.write_nullable_string(std::nullopt);
  w.write_compact_string("ab");
  w.write_compact_nullable_string(std::nullopt);
  w.write_compact_string("");
  std::vector<std::byte> b = bytes({1, 2});
  w.write_bytes(b);
  w.write_nullable_bytes(std::nullopt);
  w.write_compact_bytes(b);
  w.write_array_length(2);
  w.write_null_array_length();
  w.write_compact_array_length(2);
  w.write_compact_null_array_length();
  EXPECT_EQ(hex(w.memory()),
            "00 02 61 62 ff ff 03 61 62 00 01 00 00 00 02 01 02 ff ff ff ff 03 01 02 "
            "00 00 00 02 ff ff ff ff 03 00");
}

TEST(WireReader, ReadsWhatTheWriterWrote) {
  wire_writer w(false);
  w.write_int8(-5);
  w.write_int16(-300);
  w.write_int32(123456789);
  w.write_int64(std::numeric_limits<int64_t>::min());
  w.write_uint16(65535);
  w.write_uint32(4000000000u);
  w.write_float64(-2.5);
  w.write_bool(false);
  w.write_varint(-1234567);
  w.write_varlong(std::numeric_limits<int64_t>::max());
  w.write_uvarint(std::numeric_limits<uint32_t>::max());
  uuid u;
  for (size_t i = 0; i < 16; ++i) u.bytes[i] = static_cast<uint8_t>(i * 7);
  w.write_uuid(u);
  w.write_compact_nullable_string("x");
  w.write_nullable_string(std::nullopt);
  auto buf = w.memory();
  wire_reader r(buf);
  EXPECT_EQ(r.read_int8(), -5);
  EXPECT_EQ(r.read_int16(), -300);
  EXPECT_EQ(r.read_int32(), 123456789);
  EXPECT_EQ(r.read_int64(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(r.read_uint16(), 65535);
  EXPECT_EQ(r.read_uint32(), 4000000000u);
  EXPECT_EQ(r.read_float64(), -2.5);
  EXPECT_FALSE(r.read_bool());
  EXPECT_EQ(r.read_varint(), -1234567);
  EXPECT_EQ(r.read_varlong(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(r.read_uvarint(), std::numeric_limits<uint32_t>::max());
  EXPECT_EQ(r.read_uuid(), u);
  EXPECT_EQ(r.read_compact_nullable_string(), std::optional<std::string_view>("x"));
  EXPECT_EQ(r.read_nullable_string(), std::nullopt);
  EXPECT_TRUE(r.ok()) << r.error_message();
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(WireReader, AnyNonZeroBoolByteIsTrue) {
  auto buf = bytes({0x02, 0xff});
  wire_reader r(buf);
  EXPECT_TRUE(r.read_bool());
  EXPECT_TRUE(r.read_bool());
}

TEST(Uuid, PrintsKafkasUrlSafeBase64WithoutPadding) {
  uuid zero;
  EXPECT_TRUE(zero.is_zero());
  EXPECT_EQ(zero.to_string(), "AAAAAAAAAAAAAAAAAAAAAA");
  uuid u;
  u.bytes.fill(0xff);
  EXPECT_FALSE(u.is_zero());
  EXPECT_EQ(u.to_string(), "_____________________w");
  // Bytes chosen so that both '-' (62) and '_' (63) appear: fb ef be -> "----".
  uuid v;
  v.bytes = {0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  EXPECT_EQ(v.to_string(), "----____AAAAAAAAAAAAAQ");
}

// ------------------------------------------------------------- bad input

TEST(WireReader, TruncatedReadFailsWithPositionAndLaterReadsReturnZero) {
  auto buf = bytes({0, 0, 0, 7, 1});
  wire_reader r(buf);
  EXPECT_EQ(r.read_int32(), 7);
  r.set_field("test.field");
  EXPECT_EQ(r.read_int16(), 0);
  EXPECT_FALSE(r.ok());
  EXPECT_STREQ(r.failure(), "truncated");
  EXPECT_EQ(r.failure_position(), 4u);
  EXPECT_EQ(r.error_message(), "truncated at byte 4 (field test.field)");
  EXPECT_EQ(r.remaining(), 0u);
  // Sticky: a read that would fit still returns zero and the first reason stays.
  EXPECT_EQ(r.read_int8(), 0);
  EXPECT_EQ(r.read_string(), "");
  EXPECT_STREQ(r.failure(), "truncated");
}

TEST(WireReader, NegativeLengthOfANonNullableStringFails) {
  auto buf = bytes({0xff, 0xfe, 'a', 'b'});  // -2
  wire_reader r(buf);
  EXPECT_EQ(r.read_string(), "");
  EXPECT_FALSE(r.ok());
  EXPECT_STREQ(r.failure(), "negative string length");
  EXPECT_EQ(r.failure_position(), 0u);

  auto null = bytes({0xff, 0xff});  // -1: null, but the field is not nullable
  wire_reader r2(null);
  EXPECT_EQ(r2.read_string(), "");
  EXPECT_STREQ(r2.failure(), "null in a non-nullable string");

  auto bytes_null = bytes({0xff, 0xff, 0xff, 0xff});
  wire_reader r3(bytes_null);
  EXPECT_TRUE(r3.read_bytes().empty());
  EXPECT_STREQ(r3.failure(), "null in non-nullable bytes");

  auto neg_bytes = bytes({0x80, 0, 0, 0});
  wire_reader r4(neg_bytes);
  (void)r4.read_nullable_bytes();
  EXPECT_STREQ(r4.failure(), "negative bytes length");
}

TEST(WireReader, StringLongerThanWhatRemainsOrTheCapFails) {
  auto buf = bytes({0x00, 0x05, 'a', 'b'});
  wire_reader r(buf);
  (void)r.read_string();
  EXPECT_STREQ(r.failure(), "truncated");

  std::vector<std::byte> big(2 + 100, std::byte{'x'});
  big[0] = std::byte{0};
  big[1] = std::byte{100};
  wire_reader capped(big, decode_limits{.max_string_bytes = 99});
  (void)capped.read_string();
  EXPECT_STREQ(capped.failure(), "string longer than the limit");
}

TEST(WireReader, HugeArrayCountWithFourBytesLeftFailsBeforeAllocating) {
  // Metadata v0 response: brokers count 0x7fffffff followed by 4 bytes.
  auto buf = bytes({0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0});
  wire_reader r(buf);
  metadata_response m;
  m.decode(r, 0);
  EXPECT_FALSE(r.ok());
  EXPECT_STREQ(r.failure(), "array longer than the limit");
  EXPECT_EQ(r.failure_position(), 0u);
  EXPECT_NE(r.error_message().find("metadata_response.brokers"), std::string::npos)
      << r.error_message();
  EXPECT_EQ(m.brokers.capacity(), 0u);

  // Under the element cap, the count is checked against the remaining bytes
  // times the smallest element (a broker takes at least 10 bytes in v0).
  auto small = bytes({0x00, 0x01, 0x00, 0x00, 0, 0, 0, 0});
  wire_reader r2(small);
  metadata_response m2;
  m2.decode(r2, 0);
  EXPECT_STREQ(r2.failure(), "array count exceeds the remaining bytes");
  EXPECT_EQ(m2.brokers.capacity(), 0u);
}

TEST(WireReader, NegativeArrayCountFailsAndNullOnlyWhereNullable) {
  auto neg = bytes({0xff, 0xff, 0xff, 0xfe});
  wire_reader r(neg);
  EXPECT_EQ(r.read_array_length(), 0u);
  EXPECT_STREQ(r.failure(), "negative array length");

  auto null = bytes({0xff, 0xff, 0xff, 0xff});
  wire_reader r2(null);
  EXPECT_EQ(r2.read_array_length(), 0u);
  EXPECT_STREQ(r2.failure(), "null in a non-nullable array");
  wire_reader r3(null);
  EXPECT_EQ(r3.read_nullable_array_length(), std::nullopt);
  EXPECT_TRUE(r3.ok());
}

TEST(WireReader, CompactLengthOverflowingAVarintFails) {
  // Five bytes whose last carries bits above 32: not a 32-bit uvarint.
  auto five = bytes({0xff, 0xff, 0xff, 0xff, 0x7f, 'a'});
  wire_reader r(five);
  (void)r.read_compact_string();
  EXPECT_FALSE(r.ok());
  EXPECT_STREQ(r.failure(), "varint longer than 32 bits");
  // Six bytes: the continuation bit never stops within five.
  auto six = bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x01});
  wire_reader r2(six);
  (void)r2.read_compact_array_length();
  EXPECT_STREQ(r2.failure(), "varint longer than 32 bits");
  // A length that fits 32 bits but not what remains.
  auto big = bytes({0xff, 0xff, 0xff, 0xff, 0x0f});
  wire_reader r3(big);
  (void)r3.read_compact_bytes();
  EXPECT_FALSE(r3.ok());
  auto cut = bytes({0x80, 0x80});
  wire_reader r4(cut);
  (void)r4.read_uvarint();
  EXPECT_STREQ(r4.failure(), "truncated varint");
}

TEST(WireReader, UnknownTaggedFieldsAreSkipped) {
  // Two unknown tags (5: 3 bytes, 9: 0 bytes), then an int8 after the section.
  auto buf = bytes({0x02, 0x05, 0x03, 1, 2, 3, 0x09, 0x00, 0x2a});
  wire_reader r(buf);
  int seen = 0;
  r.read_tagged_fields([&](uint32_t tag) {
    ++seen;
    EXPECT_TRUE(tag == 5 || tag == 9);
    return false;
  });
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(r.read_int8(), 42);
  EXPECT_TRUE(r.ok()) << r.error_message();
}

TEST(WireReader, KnownTaggedFieldIsReadWithinItsSize) {
  auto buf = bytes({0x01, 0x00, 0x02, 0x01, 0x02, 0x2a});
  wire_reader r(buf);
  int16_t value = 0;
  r.read_tagged_fields([&](uint32_t tag) {
    if (tag != 0) return false;
    value = r.read_int16();
    return true;
  });
  EXPECT_TRUE(r.ok()) << r.error_message();
  EXPECT_EQ(value, 0x0102);
  EXPECT_EQ(r.read_int8(), 42);

  // The field claims 1 byte but its reader wants 2: it may not read past its size.
  auto short_field = bytes({0x01, 0x00, 0x01, 0x01, 0x02});
  wire_reader r2(short_field);
  r2.read_tagged_fields([&](uint32_t) {
    (void)r2.read_int16();
    return true;
  });
  EXPECT_STREQ(r2.failure(), "truncated");

  // The field claims 3 bytes but its reader takes 2.
  auto long_field = bytes({0x01, 0x00, 0x03, 0x01, 0x02, 0x03});
  wire_reader r3(long_field);
  r3.read_tagged_fields([&](uint32_t) {
    (void)r3.read_int16();
    return true;
  });
  EXPECT_STREQ(r3.failure(), "tagged field shorter than its size");
}

TEST(WireReader, TaggedFieldWhoseSizeRunsPastTheEndFails) {
  auto buf = bytes({0x01, 0x04, 0x10, 1, 2, 3});
  wire_reader r(buf);
  r.skip_tagged_fields();
  EXPECT_FALSE(r.ok());
  EXPECT_STREQ(r.failure(), "tagged field runs past the end");

  // Same inside a message: ApiVersions v3 response, body tag section last.
  auto msg = bytes({0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x07, 0x7f, 0x00});
  wire_reader r2(msg);
  api_versions_response resp;
  resp.decode(r2, 3);
  EXPECT_STREQ(r2.failure(), "tagged field runs past the end");
}

TEST(WireReader, HugeTaggedFieldCountEndsAtTheBufferEnd) {
  auto buf = bytes({0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x00});
  wire_reader r(buf);
  r.skip_tagged_fields();
  EXPECT_FALSE(r.ok());
}

// ------------------------------------------------------------- records and chunks

TEST(Records, DecodeIsAViewIntoTheBufferAndNullIsDistinctFromEmpty) {
  auto buf = bytes({0, 0, 0, 3, 7, 8, 9, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0});
  wire_reader r(buf);
  records_data a = r.read_records();
  EXPECT_FALSE(a.is_null);
  ASSERT_EQ(a.bytes.size(), 3u);
  EXPECT_EQ(a.bytes.data(), buf.data() + 4);
  records_data n = r.read_records();
  EXPECT_TRUE(n.is_null);
  records_data e = r.read_records();
  EXPECT_FALSE(e.is_null);
  EXPECT_EQ(e.size(), 0u);
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(n == e);
}

TEST(WireWriter, FileRangesBecomeChunksBetweenMemoryRuns) {
  wire_writer w;  // framed
  w.write_int32(7);
  records_data rec;
  rec.is_null = false;
  auto mem = bytes({1, 2, 3});
  rec.bytes = mem;
  rec.files.push_back({.fd = 5, .offset = 4096, .bytes = 1000, .owner = nullptr});
  rec.files.push_back({.fd = 6, .offset = 0, .bytes = 24, .owner = nullptr});
  EXPECT_EQ(rec.size(), 1027u);
  w.write_records(rec);
  w.write_int16(9);
  w.finish();
  EXPECT_EQ(w.total_bytes(), 4u + 4 + 4 + 3 + 1000 + 24 + 2);
  EXPECT_EQ(hex(std::span(w.memory()).first(15)), "00 00 04 0d 00 00 00 07 00 00 04 03 01 02 03");
  const auto chunks = w.chunks();
  ASSERT_EQ(chunks.size(), 4u);
  EXPECT_EQ(chunks[0].memory_offset, 0u);
  EXPECT_EQ(chunks[0].memory_bytes, 15u);
  EXPECT_EQ(chunks[1].file.fd, 5);
  EXPECT_EQ(chunks[1].file.bytes, 1000u);
  EXPECT_EQ(chunks[1].memory_bytes, 0u);
  EXPECT_EQ(chunks[2].file.fd, 6);
  EXPECT_EQ(chunks[3].memory_offset, 15u);
  EXPECT_EQ(chunks[3].memory_bytes, 2u);
  EXPECT_EQ(chunks[3].file.bytes, 0u);

  w.clear();
  EXPECT_EQ(w.total_bytes(), 4u);
  EXPECT_EQ(w.chunks().size(), 1u);
  w.append_file({.fd = 1, .offset = 0, .bytes = 0, .owner = nullptr});  // empty: dropped
  EXPECT_EQ(w.chunks().size(), 1u);
}

TEST(WireWriter, TaggedFieldSizeIsInsertedBeforeItsValue) {
  wire_writer w(false);
  w.write_uvarint(1);
  const size_t mark = w.begin_tagged_field(3);
  for (int i = 0; i < 200; ++i) w.write_int8(1);  // 200 bytes: a 2-byte size
  w.end_tagged_field(mark);
  ASSERT_EQ(w.memory().size(), 1u + 1 + 2 + 200);
  EXPECT_EQ(hex(std::span(w.memory()).first(5)), "01 03 c8 01 01");
  auto buf = w.memory();
  wire_reader r(buf);
  r.skip_tagged_fields();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

}  // namespace
}  // namespace ringlog::protocol
