// RecordBatch v2: header validation, the CRC, framing of batch streams, the
// in-place stamps of the append path, the builder (against hand-made and
// third-party bytes) and control batches.
#include "engine/record/record_batch.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/crc32c.h"
#include "engine/record/batch_builder.h"
#include "engine/record/control_record.h"
#include "engine/record/errc.h"
#include "engine/record/record.h"

namespace ringlog::record {
namespace {

std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(static_cast<std::byte>(b));
  return out;
}

std::optional<std::string> text_of(const nullable_bytes& b) {
  if (!b) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(b->data()), b->size());
}

std::string hex(std::span<const std::byte> b) {
  std::string out;
  for (std::byte x : b) out += fmt::format("{:02x} ", static_cast<int>(x));
  return out;
}

// Recomputes the CRC after a test edits a field inside the CRC range, so the
// check under test is reached instead of the CRC check.
void fix_crc(std::vector<std::byte>& batch) {
  store_be32(batch.data() + k_crc_pos,
             crc32c(std::span<const std::byte>(batch).subspan(k_crc_range_pos)));
}

struct owned_record {
  int64_t offset = 0;
  int64_t timestamp = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  bool operator==(const owned_record&) const = default;
};

result<std::vector<owned_record>> read_all(const record_batch_view& batch,
                                           const validate_options& options = {}) {
  std::vector<std::byte> scratch;
  auto it = record_iterator::open(batch, scratch, options);
  if (!it) return it.error();
  std::vector<owned_record> out;
  for (;;) {
    auto rec = it->next();
    if (!rec) return rec.error();
    if (!*rec) return out;
    const record_view& r = **rec;
    owned_record o{r.offset(), r.timestamp(), text_of(r.key()), text_of(r.value()), {}};
    for (const record_header& h : r.headers())
      o.headers.emplace_back(std::string(h.key), text_of(h.value));
    out.push_back(std::move(o));
  }
}

std::vector<std::byte> build_or_die(const batch_builder& b) {
  auto out = b.build();
  EXPECT_TRUE(out.has_value()) << (out ? "" : out.error().message());
  return out ? std::move(out).value() : std::vector<std::byte>{};
}

// A small uncompressed batch of `n` records "k<i>" -> "v<i>".
std::vector<std::byte> simple_batch(int n, int64_t base_offset = 0) {
  batch_builder b({.base_offset = base_offset});
  std::vector<std::string> keys, values;
  for (int i = 0; i < n; ++i) {
    keys.push_back(fmt::format("k{}", i));
    values.push_back(fmt::format("v{}", i));
  }
  for (int i = 0; i < n; ++i)
    b.add({.key = as_bytes(keys[i]), .value = as_bytes(values[i]), .timestamp_ms = 1000 + i});
  return build_or_die(b);
}

// ---------------------------------------------------------------- known bytes

// One batch written out by hand from FORMATS.md §1-2: two records, the first
// with key "k" and value "v1", the second with a null key, an empty value and
// one header "h" with a null value, 5 ms later. CRC-32C computed independently
// (bitwise reference implementation) as 0x483818ee.
const std::vector<std::byte> k_known_batch = bytes({
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // baseOffset 0
    0x00, 0x00, 0x00, 0x45,                          // batchLength 69 (81 - 12)
    0xff, 0xff, 0xff, 0xff,                          // partitionLeaderEpoch -1
    0x02,                                            // magic 2
    0x48, 0x38, 0x18, 0xee,                          // crc
    0x00, 0x00,                                      // attributes: none, CreateTime
    0x00, 0x00, 0x00, 0x01,                          // lastOffsetDelta 1
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,  // baseTimestamp 1700000000000
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x05,  // maxTimestamp 1700000000005
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // producerId -1
    0xff, 0xff,                                      // producerEpoch -1
    0xff, 0xff, 0xff, 0xff,                          // baseSequence -1
    0x00, 0x00, 0x00, 0x02,                          // recordsCount 2
    // record 0
    0x12,            // length 9 (zigzag 18)
    0x00,            // attributes
    0x00,            // timestampDelta 0
    0x00,            // offsetDelta 0
    0x02, 'k',       // key length 1, "k"
    0x04, 'v', '1',  // value length 2, "v1"
    0x00,            // headers 0
    // record 1
    0x12,       // length 9
    0x00,       // attributes
    0x0a,       // timestampDelta 5
    0x02,       // offsetDelta 1
    0x01,       // key length -1 (null)
    0x00,       // value length 0 (empty)
    0x02,       // headers 1
    0x02, 'h',  // header key length 1, "h"
    0x01,       // header value length -1 (null)
});

TEST(KnownBytes, CrcOfHandWrittenBatchIsCastagnoliOverAttributesToEnd) {
  ASSERT_EQ(k_known_batch.size(), 81u);
  EXPECT_EQ(crc32c(std::span<const std::byte>(k_known_batch).subspan(21)), 0x483818eeu);
}

TEST(KnownBytes, BuilderWritesTheHandWrittenBatchByteForByte) {
  batch_builder b({});
  const record_header header{.key = "h", .value = std::nullopt};
  b.add({.key = as_bytes("k"), .value = as_bytes("v1"), .timestamp_ms = 1'700'000'000'000});
  b.add({.key = std::nullopt,
         .value = as_bytes(""),
         .headers = {&header, 1},
         .timestamp_ms = 1'700'000'000'005});
  const auto built = build_or_die(b);
  EXPECT_EQ(built, k_known_batch) << "built:    " << hex(built)
                                  << "\nexpected: " << hex(k_known_batch);
}

TEST(KnownBytes, ParserReadsEveryHeaderFieldOfTheHandWrittenBatch) {
  auto v = record_batch_view::parse(k_known_batch);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->size_bytes(), 81u);
  EXPECT_EQ(v->base_offset(), 0);
  EXPECT_EQ(v->batch_length(), 69);
  EXPECT_EQ(v->partition_leader_epoch(), -1);
  EXPECT_EQ(v->magic(), 2);
  EXPECT_EQ(v->crc(), 0x483818eeu);
  EXPECT_EQ(v->attributes(), 0);
  EXPECT_EQ(v->codec(), compression::none);
  EXPECT_EQ(v->ts_type(), timestamp_type::create_time);
  EXPECT_FALSE(v->is_transactional());
  EXPECT_FALSE(v->is_control());
  EXPECT_FALSE(v->has_delete_horizon());
  EXPECT_EQ(v->last_offset_delta(), 1);
  EXPECT_EQ(v->last_offset(), 1);
  EXPECT_EQ(v->base_timestamp(), 1'700'000'000'000);
  EXPECT_EQ(v->max_timestamp(), 1'700'000'000'005);
  EXPECT_EQ(v->producer_id(), -1);
  EXPECT_EQ(v->producer_epoch(), -1);
  EXPECT_EQ(v->base_sequence(), -1);
  EXPECT_EQ(v->records_count(), 2);
  EXPECT_EQ(v->records_bytes().size(), 20u);

  auto recs = read_all(*v);
  ASSERT_TRUE(recs) << recs.error().message();
  const std::vector<owned_record> expected{
      {0, 1'700'000'000'000, "k", "v1", {}},
      {1, 1'700'000'000'005, std::nullopt, "", {{"h", std::nullopt}}},
  };
  EXPECT_EQ(*recs, expected);
}

// ---------------------------------------------------------------- round trips

struct round_trip_case {
  compression codec;
  int records;
};

// gtest would otherwise print the raw bytes of the struct, padding included.
void PrintTo(const round_trip_case& c, std::ostream* os) {
  *os << to_string(c.codec) << " x" << c.records;
}

class RoundTrip : public ::testing::TestWithParam<round_trip_case> {};

TEST_P(RoundTrip, BuildParseIterateKeepsEveryField) {
  const auto [codec, n] = GetParam();
  const int64_t base_ts = 1'700'000'000'000;
  // Storage for the inputs; the builder copies during add().
  std::vector<std::string> keys(n), values(n), header_values(n);
  std::vector<std::vector<record_header>> headers(n);
  std::vector<owned_record> expected;
  batch_builder b({.base_offset = 5000,
                   .partition_leader_epoch = 7,
                   .producer_id = 123456789,
                   .producer_epoch = 3,
                   .base_sequence = 42,
                   .transactional = true,
                   .codec = codec});
  int64_t max_ts = std::numeric_limits<int64_t>::min();
  for (int i = 0; i < n; ++i) {
    keys[i] = fmt::format("key-{}", i);
    values[i] = std::string(static_cast<size_t>(i % 50), static_cast<char>('a' + i % 26));
    header_values[i] = fmt::format("hv{}", i);
    const nullable_bytes key = i % 4 == 0 ? nullable_bytes{} : as_bytes(keys[i]);
    // Null values (tombstones) and empty values must stay distinct.
    const nullable_bytes value = i % 5 == 0 ? nullable_bytes{} : as_bytes(values[i]);
    for (int h = 0; h < i % 3; ++h) {
      headers[i].push_back({.key = h == 0 ? "trace" : "",
                            .value = h == 0 ? as_bytes(header_values[i]) : nullable_bytes{}});
    }
    // Timestamps go backwards now and then: deltas may be negative.
    const int64_t ts = base_ts + (i % 10 == 9 ? -1000 : i * 3);
    max_ts = std::max(max_ts, ts);
    b.add({.key = key, .value = value, .headers = headers[i], .timestamp_ms = ts});
    owned_record o{5000 + i, ts, text_of(key), text_of(value), {}};
    for (const auto& h : headers[i]) o.headers.emplace_back(std::string(h.key), text_of(h.value));
    expected.push_back(std::move(o));
  }
  const auto batch = build_or_die(b);

  auto v = record_batch_view::parse(batch);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->codec(), codec);
  EXPECT_EQ(v->base_offset(), 5000);
  EXPECT_EQ(v->partition_leader_epoch(), 7);
  EXPECT_EQ(v->producer_id(), 123456789);
  EXPECT_EQ(v->producer_epoch(), 3);
  EXPECT_EQ(v->base_sequence(), 42);
  EXPECT_TRUE(v->is_transactional());
  EXPECT_EQ(v->records_count(), n);
  EXPECT_EQ(v->last_offset_delta(), n - 1);
  EXPECT_EQ(v->base_timestamp(), base_ts);
  EXPECT_EQ(v->max_timestamp(), max_ts);

  auto recs = read_all(*v);
  ASSERT_TRUE(recs) << recs.error().message();
  ASSERT_EQ(recs->size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ((*recs)[i], expected[i]) << "record " << i;
}

INSTANTIATE_TEST_SUITE_P(Codecs, RoundTrip,
                         ::testing::Values(round_trip_case{compression::none, 1},
                                           round_trip_case{compression::none, 1000},
                                           round_trip_case{compression::gzip, 1},
                                           round_trip_case{compression::gzip, 1000},
                                           round_trip_case{compression::snappy, 1},
                                           round_trip_case{compression::snappy, 1000},
                                           round_trip_case{compression::lz4, 1},
                                           round_trip_case{compression::lz4, 1000},
                                           round_trip_case{compression::zstd, 1},
                                           round_trip_case{compression::zstd, 1000}),
                         [](const ::testing::TestParamInfo<round_trip_case>& param_info) {
                           return std::string(to_string(param_info.param.codec)) + "_" +
                                  std::to_string(param_info.param.records);
                         });

// ---------------------------------------------------------------- bad headers

TEST(ParseBatch, EveryTruncationFailsAsTruncated) {
  for (compression codec : {compression::none, compression::gzip}) {
    batch_builder b({.codec = codec});
    for (int i = 0; i < 20; ++i)
      b.add({.key = as_bytes("key"), .value = as_bytes("some value"), .timestamp_ms = i});
    const auto batch = build_or_die(b);
    for (size_t cut = 0; cut < batch.size(); ++cut) {
      auto v = record_batch_view::parse(std::span<const std::byte>(batch).first(cut));
      ASSERT_FALSE(v) << "cut at " << cut << " of " << batch.size() << " parsed";
      EXPECT_TRUE(v.error().is(errc::truncated)) << "cut at " << cut << ": " << v.error().message();
    }
    EXPECT_TRUE(record_batch_view::parse(batch));
  }
}

TEST(ParseBatch, FlippingAnyByteInTheCrcRangeOrTheCrcFailsTheCrc) {
  const auto good = simple_batch(3);
  for (size_t pos = k_crc_pos; pos < good.size(); ++pos) {
    auto bad = good;
    bad[pos] ^= std::byte{0x01};
    auto v = record_batch_view::parse(bad);
    ASSERT_FALSE(v) << "flip at " << pos << " parsed";
    EXPECT_TRUE(v.error().is(errc::corrupt_message))
        << "flip at " << pos << ": " << v.error().message();
    EXPECT_NE(v.error().detail().find("crc mismatch: stored 0x"), std::string::npos)
        << v.error().detail();
    EXPECT_NE(v.error().detail().find("computed 0x"), std::string::npos) << v.error().detail();
  }
}

TEST(ParseBatch, CrcErrorNamesStoredAndComputedValues) {
  auto bad = simple_batch(1);
  const uint32_t good_crc = load_be32(bad.data() + k_crc_pos);
  store_be32(bad.data() + k_crc_pos, 0x1234abcd);
  auto v = record_batch_view::parse(bad);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().detail(),
            fmt::format("crc mismatch: stored 0x1234abcd at byte 17, computed {:#010x} "
                        "over bytes [21, {})",
                        good_crc, bad.size()));
  EXPECT_EQ(v.error().op(), "record_batch");
}

TEST(ParseBatch, StampedFieldsOutsideTheCrcRangeDoNotBreakIt) {
  auto batch = simple_batch(2);
  const uint32_t crc = load_be32(batch.data() + k_crc_pos);
  set_base_offset(batch, 0x0123456789abcdefLL);
  set_partition_leader_epoch(batch, 99);
  EXPECT_EQ(load_be32(batch.data() + k_crc_pos), crc) << "stored CRC must not be touched";
  auto v = record_batch_view::parse(batch);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->base_offset(), 0x0123456789abcdefLL);
  EXPECT_EQ(v->partition_leader_epoch(), 99);
  EXPECT_EQ(v->last_offset(), 0x0123456789abcdefLL + 1);
  auto recs = read_all(*v);
  ASSERT_TRUE(recs);
  EXPECT_EQ((*recs)[1].offset, 0x0123456789abcdefLL + 1);
}

TEST(ParseBatch, SetMaxTimestampRecomputesTheCrcAndSwitchesTimestampType) {
  auto batch = simple_batch(3);
  set_max_timestamp_and_type(batch, 1'800'000'000'000, timestamp_type::log_append_time);
  auto v = record_batch_view::parse(batch);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->ts_type(), timestamp_type::log_append_time);
  EXPECT_EQ(v->max_timestamp(), 1'800'000'000'000);
  EXPECT_EQ(v->attributes(), k_attr_log_append_time);
  auto recs = read_all(*v);
  ASSERT_TRUE(recs);
  for (const auto& r : *recs)
    EXPECT_EQ(r.timestamp, 1'800'000'000'000) << "LogAppendTime applies to every record";

  set_max_timestamp_and_type(batch, 1002, timestamp_type::create_time);
  auto back = record_batch_view::parse(batch);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->ts_type(), timestamp_type::create_time);
  EXPECT_EQ(batch, simple_batch(3)) << "restoring the original values restores the original bytes";
}

TEST(ParseBatch, LegacyMagicIsUnsupportedOtherMagicIsCorrupt) {
  for (int magic : {0, 1, 3, 0x7f, 0xff, 0x80}) {
    auto batch = simple_batch(1);
    batch[k_magic_pos] = static_cast<std::byte>(magic);
    auto v = record_batch_view::parse(batch);
    ASSERT_FALSE(v) << "magic " << magic;
    const errc expected = magic <= 1 ? errc::unsupported_magic : errc::corrupt_message;
    EXPECT_TRUE(v.error().is(expected)) << "magic " << magic << ": " << v.error().message();
    EXPECT_NE(v.error().detail().find("at byte 16"), std::string::npos) << v.error().detail();
  }
  // A legacy message is often shorter than a v2 header: still unsupported_magic.
  auto short_legacy = std::vector<std::byte>(30, std::byte{0});
  short_legacy[k_magic_pos] = std::byte{1};
  auto v = record_batch_view::parse(short_legacy);
  ASSERT_FALSE(v);
  EXPECT_TRUE(v.error().is(errc::unsupported_magic)) << v.error().message();
}

TEST(ParseBatch, ImpossibleBatchLengthsAreRejected) {
  const auto good = simple_batch(2);
  struct length_case {
    int32_t length;
    errc expected;
  };
  for (auto [length, expected] : {
           length_case{-1, errc::corrupt_message},
           length_case{std::numeric_limits<int32_t>::min(), errc::corrupt_message},
           length_case{0, errc::corrupt_message},
           length_case{48, errc::corrupt_message},  // smaller than the header
           length_case{static_cast<int32_t>(good.size() - 12 + 1),
                       errc::truncated},  // past the buffer
           length_case{std::numeric_limits<int32_t>::max(), errc::truncated},
       }) {
    auto bad = good;
    store_be32(bad.data() + k_batch_length_pos, static_cast<uint32_t>(length));
    auto v = record_batch_view::parse(bad);
    ASSERT_FALSE(v) << "batchLength " << length;
    EXPECT_TRUE(v.error().is(expected)) << "batchLength " << length << ": " << v.error().message();
  }
  // A batchLength shorter than the real batch cuts records off: the CRC over
  // the shorter range no longer matches.
  auto shorter = good;
  store_be32(shorter.data() + k_batch_length_pos, static_cast<uint32_t>(good.size() - 12 - 1));
  auto v = record_batch_view::parse(shorter);
  ASSERT_FALSE(v);
  EXPECT_TRUE(v.error().is(errc::corrupt_message)) << v.error().message();
}

TEST(ParseBatch, MaxBatchBytesCountsTheWholeBatchAndWinsOverTruncation) {
  const auto batch = simple_batch(4);
  EXPECT_TRUE(record_batch_view::parse(batch, {.max_batch_bytes = batch.size()}));
  auto v = record_batch_view::parse(batch, {.max_batch_bytes = batch.size() - 1});
  ASSERT_FALSE(v);
  EXPECT_TRUE(v.error().is(errc::message_too_large)) << v.error().message();
  // Only the header has arrived, but it already says the batch is too big.
  auto head = record_batch_view::parse(std::span<const std::byte>(batch).first(61),
                                       {.max_batch_bytes = batch.size() - 1});
  ASSERT_FALSE(head);
  EXPECT_TRUE(head.error().is(errc::message_too_large)) << head.error().message();
}

TEST(ParseBatch, RecordsCountMustMatchLastOffsetDelta) {
  const auto good = simple_batch(3);  // count 3, lastOffsetDelta 2
  struct count_case {
    int32_t count;
    int32_t last_delta;
    bool ok_without_gaps;
    bool ok_with_gaps;
  };
  for (auto c : {count_case{3, 2, true, true}, count_case{2, 2, false, true},
                 count_case{4, 2, false, false}, count_case{0, 2, false, true},
                 count_case{-1, 2, false, false}, count_case{3, -1, false, false},
                 count_case{3, std::numeric_limits<int32_t>::min(), false, false}}) {
    auto bad = good;
    store_be32(bad.data() + k_records_count_pos, static_cast<uint32_t>(c.count));
    store_be32(bad.data() + k_last_offset_delta_pos, static_cast<uint32_t>(c.last_delta));
    fix_crc(bad);
    auto strict = record_batch_view::parse(bad);
    auto lax = record_batch_view::parse(bad, {.allow_offset_gaps = true});
    EXPECT_EQ(strict.has_value(), c.ok_without_gaps)
        << "count " << c.count << " delta " << c.last_delta;
    EXPECT_EQ(lax.has_value(), c.ok_with_gaps) << "count " << c.count << " delta " << c.last_delta;
    if (!strict) {
      EXPECT_TRUE(strict.error().is(errc::invalid_record)) << strict.error().message();
    }
    if (!lax) {
      EXPECT_TRUE(lax.error().is(errc::invalid_record)) << lax.error().message();
    }
  }
}

TEST(ParseBatch, RecordsCountThatCannotFitIsRejectedBeforeIterating) {
  auto bad = simple_batch(1);
  store_be32(bad.data() + k_records_count_pos, 1'000'000);
  store_be32(bad.data() + k_last_offset_delta_pos, 999'999);
  fix_crc(bad);
  auto v = record_batch_view::parse(bad);
  ASSERT_FALSE(v);
  EXPECT_TRUE(v.error().is(errc::invalid_record)) << v.error().message();
  EXPECT_NE(v.error().detail().find("cannot fit"), std::string::npos) << v.error().detail();
}

TEST(ParseBatch, UnusedAttributeBitsAndUnknownCodecsAreRejected) {
  for (uint16_t bit = 7; bit < 16; ++bit) {
    auto bad = simple_batch(1);
    store_be16(bad.data() + k_attributes_pos, static_cast<uint16_t>(1u << bit));
    fix_crc(bad);
    auto v = record_batch_view::parse(bad);
    ASSERT_FALSE(v) << "bit " << bit;
    EXPECT_TRUE(v.error().is(errc::invalid_record)) << v.error().message();
  }
  for (uint16_t codec = 5; codec <= 7; ++codec) {
    auto bad = simple_batch(1);
    store_be16(bad.data() + k_attributes_pos, codec);
    fix_crc(bad);
    auto v = record_batch_view::parse(bad);
    ASSERT_FALSE(v) << "codec " << codec;
    EXPECT_TRUE(v.error().is(errc::unsupported_compression)) << v.error().message();
  }
  // The defined bits (timestamp type, transactional, control, delete horizon) parse.
  auto flags = simple_batch(1);
  store_be16(flags.data() + k_attributes_pos, 0x78);
  fix_crc(flags);
  auto v = record_batch_view::parse(flags);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_TRUE(v->is_transactional() && v->is_control() && v->has_delete_horizon());
  EXPECT_EQ(v->ts_type(), timestamp_type::log_append_time);
}

TEST(ParseBatch, ViewCoversExactlyOneBatchOfALongerBuffer) {
  auto two = simple_batch(2);
  const size_t first = two.size();
  const auto second = simple_batch(3, 2);
  two.insert(two.end(), second.begin(), second.end());
  auto v = record_batch_view::parse(two);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->size_bytes(), first);
}

TEST(PeekSize, NeedsOnlyTheFramingAndChecksTheMinimumLength) {
  const auto batch = simple_batch(2);
  for (size_t n = 0; n < k_log_overhead; ++n) {
    auto s = record_batch_view::peek_size(std::span<const std::byte>(batch).first(n));
    ASSERT_FALSE(s);
    EXPECT_TRUE(s.error().is(errc::truncated));
  }
  auto s = record_batch_view::peek_size(std::span<const std::byte>(batch).first(k_log_overhead));
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, batch.size());
  auto bad = batch;
  store_be32(bad.data() + k_batch_length_pos, static_cast<uint32_t>(-5));
  auto neg = record_batch_view::peek_size(bad);
  ASSERT_FALSE(neg);
  EXPECT_TRUE(neg.error().is(errc::corrupt_message));
}

// ---------------------------------------------------------------- streams

TEST(BatchIterator, WalksAConcatenationAndStopsAtItsEnd) {
  std::vector<std::byte> stream;
  std::vector<size_t> starts;
  for (int i = 0; i < 3; ++i) {
    starts.push_back(stream.size());
    const auto b = simple_batch(i + 1, i * 10);
    stream.insert(stream.end(), b.begin(), b.end());
  }
  batch_iterator it(stream);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(it.position(), starts[i]);
    auto b = it.next();
    ASSERT_TRUE(b) << b.error().message();
    ASSERT_TRUE(b->has_value());
    EXPECT_EQ((*b)->base_offset(), i * 10);
    EXPECT_EQ((*b)->records_count(), i + 1);
  }
  auto end = it.next();
  ASSERT_TRUE(end);
  EXPECT_FALSE(end->has_value());
  EXPECT_EQ(it.position(), stream.size());

  batch_iterator empty(std::span<const std::byte>{});
  auto e = empty.next();
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->has_value());
}

TEST(BatchIterator, ATornTailStopsAtTheStartOfThePartialBatch) {
  std::vector<std::byte> stream = simple_batch(2);
  const size_t good_end = stream.size();
  const auto tail = simple_batch(5, 2);
  stream.insert(stream.end(), tail.begin(), tail.end() - 7);
  batch_iterator it(stream);
  auto first = it.next();
  ASSERT_TRUE(first && first->has_value());
  auto second = it.next();
  ASSERT_FALSE(second);
  EXPECT_TRUE(second.error().is(errc::truncated)) << second.error().message();
  EXPECT_NE(second.error().detail().find(fmt::format("batch at byte {} of the stream", good_end)),
            std::string::npos)
      << second.error().detail();
  EXPECT_EQ(it.position(), good_end);
  // Sticky: the same error again, position unchanged.
  auto again = it.next();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().detail(), second.error().detail());
  EXPECT_EQ(it.position(), good_end);
}

TEST(BatchIterator, ACorruptBatchInTheMiddleIsReportedWithItsPosition) {
  std::vector<std::byte> stream = simple_batch(1);
  const size_t second_at = stream.size();
  auto bad = simple_batch(1, 1);
  bad.back() ^= std::byte{0xff};
  stream.insert(stream.end(), bad.begin(), bad.end());
  const auto third = simple_batch(1, 2);
  stream.insert(stream.end(), third.begin(), third.end());
  batch_iterator it(stream);
  ASSERT_TRUE(it.next());
  auto e = it.next();
  ASSERT_FALSE(e);
  EXPECT_TRUE(e.error().is(errc::corrupt_message));
  EXPECT_EQ(it.position(), second_at);
}

// ---------------------------------------------------------------- builder

TEST(BatchBuilder, LogAppendTimeStampsEveryRecordWithTheAppendTime) {
  batch_builder b({.ts_type = timestamp_type::log_append_time, .log_append_time_ms = 555});
  b.add({.value = as_bytes("a"), .timestamp_ms = 1});
  b.add({.value = as_bytes("b"), .timestamp_ms = 9999});
  const auto batch = build_or_die(b);
  auto v = record_batch_view::parse(batch);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->ts_type(), timestamp_type::log_append_time);
  EXPECT_EQ(v->base_timestamp(), 555);
  EXPECT_EQ(v->max_timestamp(), 555);
  auto recs = read_all(*v);
  ASSERT_TRUE(recs);
  for (const auto& r : *recs) EXPECT_EQ(r.timestamp, 555);
}

TEST(BatchBuilder, GapsNeedAllowOffsetGapsOnBothHeaderAndRecords) {
  batch_builder b({});
  b.add_at(0, {.value = as_bytes("a")});
  b.add_at(4, {.value = as_bytes("b")});
  b.add_at(9, {.value = as_bytes("c")});
  const auto batch = build_or_die(b);
  auto strict = record_batch_view::parse(batch);
  ASSERT_FALSE(strict);
  EXPECT_TRUE(strict.error().is(errc::invalid_record));
  auto v = record_batch_view::parse(batch, {.allow_offset_gaps = true});
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->last_offset_delta(), 9);
  auto recs = read_all(*v, {.allow_offset_gaps = true});
  ASSERT_TRUE(recs) << recs.error().message();
  ASSERT_EQ(recs->size(), 3u);
  EXPECT_EQ((*recs)[1].offset, 4);
  EXPECT_EQ((*recs)[2].offset, 9);
}

TEST(BatchBuilder, EmptyBatchKeepsItsOffsetRangeAndProducerState) {
  batch_builder b(
      {.producer_id = 77, .producer_epoch = 2, .base_sequence = 10, .last_offset_delta = 4});
  const auto batch = build_or_die(b);
  EXPECT_EQ(batch.size(), k_batch_header_bytes);
  auto v = record_batch_view::parse(batch, {.allow_offset_gaps = true});
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->records_count(), 0);
  EXPECT_EQ(v->last_offset_delta(), 4);
  EXPECT_EQ(v->base_timestamp(), -1);
  EXPECT_EQ(v->producer_id(), 77);
  auto recs = read_all(*v, {.allow_offset_gaps = true});
  ASSERT_TRUE(recs);
  EXPECT_TRUE(recs->empty());
}

TEST(BatchBuilder, BuildAppendsSoBatchesConcatenate) {
  std::vector<std::byte> out = bytes({0xaa});
  batch_builder b({});
  b.add({.value = as_bytes("x")});
  ASSERT_TRUE(b.build(out));
  ASSERT_TRUE(b.build(out));
  EXPECT_EQ(out[0], std::byte{0xaa});
  batch_iterator it(std::span<const std::byte>(out).subspan(1));
  int n = 0;
  for (;;) {
    auto next = it.next();
    ASSERT_TRUE(next) << next.error().message();
    if (!*next) break;
    ++n;
  }
  EXPECT_EQ(n, 2);
}

// ---------------------------------------------------------------- control batches

TEST(ControlBatch, CommitAndAbortMarkersRoundTrip) {
  for (control_type type : {control_type::commit, control_type::abort}) {
    const auto batch = build_control_batch({.type = type,
                                            .coordinator_epoch = 17,
                                            .producer_id = 4242,
                                            .producer_epoch = 5,
                                            .timestamp_ms = 1'700'000'000'123,
                                            .base_offset = 900,
                                            .partition_leader_epoch = 3});
    auto v = record_batch_view::parse(batch);
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_TRUE(v->is_control());
    EXPECT_TRUE(v->is_transactional());
    EXPECT_EQ(v->codec(), compression::none);
    EXPECT_EQ(v->attributes(), k_attr_control | k_attr_transactional);
    EXPECT_EQ(v->producer_id(), 4242);
    EXPECT_EQ(v->producer_epoch(), 5);
    EXPECT_EQ(v->base_sequence(), -1);
    EXPECT_EQ(v->base_offset(), 900);
    EXPECT_EQ(v->partition_leader_epoch(), 3);
    EXPECT_EQ(v->records_count(), 1);
    EXPECT_EQ(v->base_timestamp(), 1'700'000'000'123);

    std::vector<std::byte> scratch;
    auto it = record_iterator::open(*v, scratch);
    ASSERT_TRUE(it);
    auto rec = it->next();
    ASSERT_TRUE(rec && rec->has_value());
    const record_view& r = **rec;
    ASSERT_TRUE(r.key());
    EXPECT_EQ(hex(*r.key()), type == control_type::commit ? "00 00 00 01 " : "00 00 00 00 ");
    ASSERT_TRUE(r.value());
    EXPECT_EQ(hex(*r.value()), "00 00 00 00 00 11 ");
    auto key = parse_control_key(r.key());
    ASSERT_TRUE(key);
    EXPECT_EQ(key->version, 0);
    EXPECT_EQ(key->type, type);
    auto marker = parse_end_txn_marker(r.value());
    ASSERT_TRUE(marker);
    EXPECT_EQ(marker->coordinator_epoch, 17);
    auto end = it->next();
    ASSERT_TRUE(end);
    EXPECT_FALSE(end->has_value());
  }
}

TEST(ControlBatch, KeysAndValuesAreCheckedForLengthButMayBeLonger) {
  EXPECT_TRUE(parse_control_key(std::nullopt).error().is(errc::invalid_record));
  const auto three = bytes({0, 0, 0});
  EXPECT_TRUE(
      parse_control_key(std::span<const std::byte>(three)).error().is(errc::invalid_record));
  const auto longer = bytes({0, 1, 0, 9, 0xde, 0xad});
  auto k = parse_control_key(std::span<const std::byte>(longer));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->version, 1);
  EXPECT_EQ(static_cast<int16_t>(k->type), 9) << "unknown types are kept for the caller to ignore";
  const auto negative = bytes({0xff, 0xff, 0, 1});
  EXPECT_FALSE(parse_control_key(std::span<const std::byte>(negative)));

  const auto five = bytes({0, 0, 0, 0, 1});
  EXPECT_TRUE(
      parse_end_txn_marker(std::span<const std::byte>(five)).error().is(errc::invalid_record));
  EXPECT_FALSE(parse_end_txn_marker(std::nullopt));
  const auto v1 = bytes({0, 1, 0, 0, 1, 0, 0xff});
  auto m = parse_end_txn_marker(std::span<const std::byte>(v1));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->version, 1);
  EXPECT_EQ(m->coordinator_epoch, 256);
}

// ---------------------------------------------------------------- errors

TEST(RecordErrc, MapsToKafkaErrorCodes) {
  EXPECT_EQ(to_kafka_error(errc::corrupt_message), 2);
  EXPECT_EQ(to_kafka_error(errc::truncated), 87);
  EXPECT_EQ(to_kafka_error(errc::invalid_record), 87);
  EXPECT_EQ(to_kafka_error(errc::message_too_large), 10);
  EXPECT_EQ(to_kafka_error(errc::unsupported_compression), 76);
  EXPECT_EQ(to_kafka_error(errc::unsupported_magic), 43);
  EXPECT_EQ(to_kafka_error(errc::compression_failed), -1);
  const ringlog::error e =
      make_error(errc::invalid_record, "record", "record 3 at batch byte 90: x");
  EXPECT_TRUE(e.is(errc::invalid_record));
  EXPECT_EQ(e.domain().name, "record");
  EXPECT_EQ(e.message(), "record: invalid record: record 3 at batch byte 90: x");
}

}  // namespace
}  // namespace ringlog::record
