#include "base/bytes.h"
#include "base/saturating.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "base/crc32c.h"
#include "base/varint.h"

namespace ringlog {
namespace {

std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(static_cast<std::byte>(b));
  return out;
}

TEST(Crc32c, MatchesKnownVectors) {
  // RFC 3720 B.4 and the common check value.
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  std::vector<std::byte> zeros(32, std::byte{0});
  EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);
  std::vector<std::byte> ones(32, std::byte{0xff});
  EXPECT_EQ(crc32c(ones), 0x62A8AB43u);
  std::vector<std::byte> inc(32);
  for (int i = 0; i < 32; ++i) inc[i] = static_cast<std::byte>(i);
  EXPECT_EQ(crc32c(inc), 0x46DD794Eu);
  std::vector<std::byte> dec(32);
  for (int i = 0; i < 32; ++i) dec[i] = static_cast<std::byte>(31 - i);
  EXPECT_EQ(crc32c(dec), 0x113FDB5Cu);
  EXPECT_EQ(crc32c(std::span<const std::byte>{}), 0u);
}

TEST(Crc32c, ExtendEqualsWholeBuffer) {
  std::vector<std::byte> data(10'000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 131 + 7);
  const uint32_t whole = crc32c(data);
  for (size_t cut : {size_t{0}, size_t{1}, size_t{63}, size_t{4096}, data.size()}) {
    std::span<const std::byte> all(data);
    EXPECT_EQ(crc32c_extend(crc32c(all.first(cut)), all.subspan(cut)), whole) << "cut at " << cut;
  }
}

TEST(Varint, ZigzagMapsSmallMagnitudesToSmallCodes) {
  EXPECT_EQ(zigzag_encode32(0), 0u);
  EXPECT_EQ(zigzag_encode32(-1), 1u);
  EXPECT_EQ(zigzag_encode32(1), 2u);
  EXPECT_EQ(zigzag_encode32(std::numeric_limits<int32_t>::max()), 0xFFFFFFFEu);
  EXPECT_EQ(zigzag_encode32(std::numeric_limits<int32_t>::min()), 0xFFFFFFFFu);
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{1}, std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max()}) {
    EXPECT_EQ(zigzag_decode64(zigzag_encode64(v)), v);
  }
}

TEST(Varint, RoundTripsEdgeValues) {
  for (int32_t v : {0, 1, -1, 63, -64, 64, -65, 8191, -8192, 1 << 20, std::numeric_limits<int32_t>::max(),
                    std::numeric_limits<int32_t>::min()}) {
    std::vector<std::byte> buf;
    byte_writer w(buf);
    w.write_varint(v);
    EXPECT_EQ(buf.size(), varint_size(v)) << v;
    byte_reader r(buf);
    EXPECT_EQ(r.read_varint(), v);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.remaining(), 0u);
  }
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{1} << 40, std::numeric_limits<int64_t>::max(),
                    std::numeric_limits<int64_t>::min()}) {
    std::vector<std::byte> buf;
    byte_writer w(buf);
    w.write_varlong(v);
    EXPECT_EQ(buf.size(), varlong_size(v)) << v;
    byte_reader r(buf);
    EXPECT_EQ(r.read_varlong(), v);
    EXPECT_TRUE(r.ok());
  }
  EXPECT_EQ(varlong_size(std::numeric_limits<int64_t>::min()), 10u);
  EXPECT_EQ(varint_size(std::numeric_limits<int32_t>::min()), 5u);
}

TEST(Varint, KnownEncodings) {
  // Kafka's unsigned varint of 300 is AC 02; zigzag -64 is 0x7F, 64 is 80 01.
  std::vector<std::byte> buf;
  byte_writer w(buf);
  w.write_uvarint(300);
  w.write_varint(-64);
  w.write_varint(64);
  EXPECT_EQ(buf, bytes({0xAC, 0x02, 0x7F, 0x80, 0x01}));
}

TEST(Varint, TruncatedInputFailsWithPosition) {
  auto buf = bytes({0x01, 0x80, 0x80});
  byte_reader r(buf);
  EXPECT_EQ(r.read_uvarint(), 1u);
  EXPECT_EQ(r.read_uvarint(), 0u);
  EXPECT_FALSE(r.ok());
  EXPECT_STREQ(r.failure(), "truncated varint");
  EXPECT_EQ(r.failure_position(), 1u);
}

TEST(Varint, RejectsValuesWiderThanTheirType) {
  // Six bytes for a 32-bit varint.
  auto too_long = bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x01});
  byte_reader r1(too_long);
  (void)r1.read_varint();
  EXPECT_FALSE(r1.ok());
  EXPECT_STREQ(r1.failure(), "varint longer than 32 bits");
  // Five bytes, but the fifth carries bits above bit 31.
  auto high_bits = bytes({0xFF, 0xFF, 0xFF, 0xFF, 0x1F});
  byte_reader r2(high_bits);
  (void)r2.read_uvarint();
  EXPECT_FALSE(r2.ok());
  // The largest legal 32-bit value is accepted.
  auto max32 = bytes({0xFF, 0xFF, 0xFF, 0xFF, 0x0F});
  byte_reader r3(max32);
  EXPECT_EQ(r3.read_uvarint(), 0xFFFFFFFFu);
  EXPECT_TRUE(r3.ok());
  // Eleven bytes for a varlong.
  std::vector<std::byte> eleven(10, std::byte{0x80});
  eleven.push_back(std::byte{0x01});
  byte_reader r4(eleven);
  (void)r4.read_varlong();
  EXPECT_FALSE(r4.ok());
  EXPECT_STREQ(r4.failure(), "varlong longer than 64 bits");
}

TEST(ByteReader, ReadsBigEndianAndStopsAtTheEnd) {
  auto buf = bytes({0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xFF, 0xFE, 0x7F});
  byte_reader r(buf);
  EXPECT_EQ(r.read_u32(), 0x01020304u);
  EXPECT_EQ(r.read_i16(), 0x0506);
  EXPECT_EQ(r.read_u8(), 0x07);
  EXPECT_EQ(r.read_i8(), 0x08);
  EXPECT_EQ(r.read_i16(), -2);  // FF FE
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.read_i32(), 0);  // only one byte left
  EXPECT_FALSE(r.ok());
  EXPECT_STREQ(r.failure(), "truncated");
  EXPECT_EQ(r.failure_position(), 10u);
  // Sticky: later reads return zero and keep the first failure.
  EXPECT_EQ(r.read_u8(), 0u);
  EXPECT_EQ(r.failure_position(), 10u);
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(ByteReader, ReadBytesNeverPassesTheEnd) {
  auto buf = bytes({'a', 'b', 'c'});
  byte_reader r(buf);
  EXPECT_EQ(r.read_string_view(2), "ab");
  EXPECT_TRUE(r.read_bytes(std::numeric_limits<size_t>::max()).empty());
  EXPECT_FALSE(r.ok());
}

TEST(ByteWriter, WritesBigEndianAndPatches) {
  std::vector<std::byte> buf;
  byte_writer w(buf);
  const size_t len_at = w.size();
  w.write_i32(0);
  w.write_i64(-2);
  w.write_u16(0xBEEF);
  w.patch_u32(len_at, static_cast<uint32_t>(buf.size() - 4));
  byte_reader r(buf);
  EXPECT_EQ(r.read_i32(), 10);
  EXPECT_EQ(r.read_i64(), -2);
  EXPECT_EQ(r.read_u16(), 0xBEEF);
  EXPECT_TRUE(r.ok());
}

TEST(AddSaturating, StopsAtTheEndsInsteadOfWrapping) {
  constexpr int64_t max = std::numeric_limits<int64_t>::max();
  constexpr int64_t min = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(add_saturating(1'000, 2'000), 3'000);
  EXPECT_EQ(add_saturating(1'700'000'000'000, max), max);  // now + Long.MAX: never
  EXPECT_EQ(add_saturating(max, 1), max);
  EXPECT_EQ(add_saturating(-5, min), min);
  EXPECT_EQ(add_saturating(max, min), -1);
}

}  // namespace
}  // namespace ringlog
