// Records inside a batch: every malformed length, count and delta is an
// error naming the record and its position; compressed records are bounded;
// the uncompressed path allocates nothing.
#include "engine/record/record.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/crc32c.h"
#include "engine/record/batch_builder.h"
#include "engine/record/compression.h"
#include "engine/record/errc.h"
#include "engine/record/record_batch.h"

// Counts every global allocation of this test binary, so a test can assert a
// code path allocates nothing.
namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
// noinline: inlined into callers, GCC pairs the caller's `new` with free()
// and warns (-Wmismatched-new-delete) although the pair is ours and matches.
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace ringlog::record {
namespace {

std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(static_cast<std::byte>(b));
  return out;
}

// Writes a batch header by hand around `records` (compressed with `codec`
// first), with a valid CRC, so that record-level checks are what fails.
std::vector<std::byte> raw_batch(const std::vector<std::byte>& records, int32_t count,
                                 int32_t last_delta, compression codec = compression::none) {
  std::vector<std::byte> out(k_batch_header_bytes);
  EXPECT_TRUE(compress(codec, records, out));
  store_be64(out.data() + k_base_offset_pos, 100);
  store_be32(out.data() + k_batch_length_pos, static_cast<uint32_t>(out.size() - k_log_overhead));
  store_be32(out.data() + k_partition_leader_epoch_pos, 0);
  out[k_magic_pos] = std::byte{2};
  store_be16(out.data() + k_attributes_pos, static_cast<uint16_t>(codec));
  store_be32(out.data() + k_last_offset_delta_pos, static_cast<uint32_t>(last_delta));
  store_be64(out.data() + k_base_timestamp_pos, 1000);
  store_be64(out.data() + k_max_timestamp_pos, 1000);
  store_be64(out.data() + k_producer_id_pos, static_cast<uint64_t>(-1));
  store_be16(out.data() + k_producer_epoch_pos, static_cast<uint16_t>(-1));
  store_be32(out.data() + k_base_sequence_pos, static_cast<uint32_t>(-1));
  store_be32(out.data() + k_records_count_pos, static_cast<uint32_t>(count));
  store_be32(out.data() + k_crc_pos,
             crc32c(std::span<const std::byte>(out).subspan(k_crc_range_pos)));
  return out;
}

std::vector<std::byte> concat(std::initializer_list<std::vector<std::byte>> parts) {
  std::vector<std::byte> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// A well-formed record at `delta`: key "k", value "v1", no headers (10 bytes).
std::vector<std::byte> good_record(int delta) {
  return bytes({0x12, 0x00, 0x00, delta * 2, 0x02, 'k', 0x04, 'v', '1', 0x00});
}

// Iterates every record; returns how many there were or the first error.
result<int> count_records(std::span<const std::byte> batch_bytes,
                          const validate_options& options = {}) {
  auto batch = record_batch_view::parse(batch_bytes, options);
  if (!batch) return batch.error();
  std::vector<std::byte> scratch;
  auto it = record_iterator::open(*batch, scratch, options);
  if (!it) return it.error();
  int n = 0;
  for (;;) {
    auto rec = it->next();
    if (!rec) return rec.error();
    if (!*rec) return n;
    ++n;
  }
}

// Expects the records of `batch` to fail with `code` and a detail containing `needle`.
void expect_record_error(const std::vector<std::byte>& batch, errc code, const std::string& needle,
                         const validate_options& options = {}) {
  auto n = count_records(batch, options);
  ASSERT_FALSE(n) << "expected an error containing \"" << needle << "\", got " << *n << " records";
  EXPECT_TRUE(n.error().is(code)) << n.error().message();
  EXPECT_NE(n.error().detail().find(needle), std::string::npos)
      << "expected \"" << needle << "\" in: " << n.error().detail();
}

// ---------------------------------------------------------------- lengths

TEST(Records, WellFormedRawRecordsIterate) {
  const auto batch = raw_batch(concat({good_record(0), good_record(1)}), 2, 1);
  auto n = count_records(batch);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 2);
}

TEST(Records, DeclaredLengthShorterThanTheFieldsIsRejected) {
  // Length 8, but the fields (through headersCount) need 9.
  const auto batch =
      raw_batch(bytes({0x10, 0x00, 0x00, 0x00, 0x02, 'k', 0x04, 'v', '1', 0x00}), 1, 0);
  expect_record_error(batch, errc::invalid_record,
                      "record 0 at batch byte 61: declared length 8 is shorter");
}

TEST(Records, DeclaredLengthLongerThanTheFieldsIsRejected) {
  // Length 10: the fields end after 9 and one stray byte sits inside the record.
  const auto batch =
      raw_batch(bytes({0x14, 0x00, 0x00, 0x00, 0x02, 'k', 0x04, 'v', '1', 0x00, 0x7f}), 1, 0);
  expect_record_error(batch, errc::invalid_record,
                      "declared length 10 but its fields end after 9 bytes");
}

TEST(Records, LengthPastTheEndOfTheRecordsIsRejected) {
  auto rec = good_record(0);
  rec[0] = std::byte{0x7e};  // 63
  const auto batch = raw_batch(rec, 1, 0);
  expect_record_error(batch, errc::invalid_record, "length 63 but only 9 bytes of records remain");
}

TEST(Records, NegativeOrMalformedRecordLengthIsRejected) {
  auto negative = good_record(0);
  negative[0] = std::byte{0x01};  // -1
  expect_record_error(raw_batch(negative, 1, 0), errc::invalid_record, "negative length -1");
  // A varint running past 5 bytes.
  const auto overlong = raw_batch(bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0}), 1, 0);
  expect_record_error(overlong, errc::invalid_record, "varint longer than 32 bits");
}

TEST(Records, LengthsBelowMinusOneAreRejected) {
  // key length -2
  expect_record_error(raw_batch(bytes({0x0e, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0, 0, 0}), 1, 0),
                      errc::invalid_record, "key length -2 at body byte 3");
  // value length -5
  expect_record_error(raw_batch(bytes({0x0e, 0x00, 0x00, 0x00, 0x01, 0x09, 0x00, 0, 0, 0}), 1, 0),
                      errc::invalid_record, "value length -5 at body byte 4");
  // header count -1
  expect_record_error(raw_batch(bytes({0x0c, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0, 0, 0}), 1, 0),
                      errc::invalid_record, "header count -1");
  // header key length -1: header keys are never null
  expect_record_error(
      raw_batch(bytes({0x10, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x01, 0x01, 0}), 1, 0),
      errc::invalid_record, "header key length -1");
  // header value length -2
  expect_record_error(
      raw_batch(bytes({0x12, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x02, 'h', 0x03}), 1, 0),
      errc::invalid_record, "header value length -2");
}

TEST(Records, HugeHeaderCountFailsFastOnTheBytesThatRemain) {
  // headersCount 2^31-1 with no header bytes: must fail, not loop 2^31 times.
  const auto batch =
      raw_batch(bytes({0x14, 0x00, 0x00, 0x00, 0x01, 0x01, 0xfe, 0xff, 0xff, 0xff, 0x0f}), 1, 0);
  expect_record_error(batch, errc::invalid_record, "shorter than its fields");
}

TEST(Records, KeyLongerThanTheRecordIsRejected) {
  // Key length 50 inside a 9-byte record.
  const auto batch =
      raw_batch(bytes({0x12, 0x00, 0x00, 0x00, 0x64, 'k', 0x04, 'v', '1', 0x00}), 1, 0);
  expect_record_error(batch, errc::invalid_record,
                      "shorter than its fields (truncated at body byte 4)");
}

// ---------------------------------------------------------------- counts

TEST(Records, FewerRecordsThanRecordsCountIsRejected) {
  // One 20-byte record where recordsCount says 2 (enough bytes to pass the
  // header's "can it fit" check).
  const auto big = bytes({0x28, 0x00, 0x00, 0x00, 0x01, 0x1c, 'a', 'b', 'c', 'd', 'e',
                          'f',  'g',  'h',  'i',  'j',  'k',  'l', 'm', 'n', 0x00});
  expect_record_error(raw_batch(big, 2, 1), errc::invalid_record,
                      "recordsCount is 2 but the records end after 1, at batch byte 82");
  // Compressed batches skip the header's size check; the iterator catches it.
  expect_record_error(
      raw_batch(good_record(0), 5, 4, compression::zstd), errc::invalid_record,
      "recordsCount is 5 but the records end after 1, at byte 10 of the decompressed records");
}

TEST(Records, TrailingBytesAfterTheLastRecordAreRejected) {
  const auto batch = raw_batch(concat({good_record(0), bytes({0xde, 0xad, 0xbe})}), 1, 0);
  expect_record_error(batch, errc::invalid_record,
                      "3 trailing bytes after the last of 1 records, at batch byte 71");
  const auto gz = raw_batch(concat({good_record(0), bytes({0x00})}), 1, 0, compression::gzip);
  expect_record_error(gz, errc::invalid_record, "1 trailing bytes");
}

TEST(Records, ErrorsNameTheRecordIndexAndPosition) {
  auto bad = good_record(2);
  bad[4] = std::byte{0x05};  // key length -3
  const auto batch = raw_batch(concat({good_record(0), good_record(1), bad}), 3, 2);
  expect_record_error(batch, errc::invalid_record,
                      "record 2 at batch byte 81: key length -3 at body byte 3");
}

TEST(Records, FirstErrorIsStickyAndEndIsRepeatable) {
  auto bad = good_record(1);
  bad[0] = std::byte{0x01};
  const auto batch = raw_batch(concat({good_record(0), bad}), 2, 1);
  auto view = record_batch_view::parse(batch);
  ASSERT_TRUE(view);
  std::vector<std::byte> scratch;
  auto it = record_iterator::open(*view, scratch);
  ASSERT_TRUE(it);
  auto r0 = it->next();
  ASSERT_TRUE(r0 && r0->has_value());
  auto e1 = it->next();
  ASSERT_FALSE(e1);
  auto e2 = it->next();
  ASSERT_FALSE(e2);
  EXPECT_EQ(e1.error().detail(), e2.error().detail());
  EXPECT_EQ(it->records_read(), 1);

  const auto good = raw_batch(good_record(0), 1, 0);
  auto gv = record_batch_view::parse(good);
  ASSERT_TRUE(gv);
  auto git = record_iterator::open(*gv, scratch);
  ASSERT_TRUE(git);
  ASSERT_TRUE(git->next());
  for (int i = 0; i < 3; ++i) {
    auto end = git->next();
    ASSERT_TRUE(end);
    EXPECT_FALSE(end->has_value());
  }
}

// ---------------------------------------------------------------- offset deltas

TEST(Records, OffsetDeltasMustBeTheRecordIndexUnlessGapsAreAllowed) {
  const auto skipped = raw_batch(concat({good_record(0), good_record(2)}), 2, 1);
  expect_record_error(skipped, errc::invalid_record,
                      "record 1 at batch byte 71: offset delta 2, expected 1");

  // With gaps allowed (compacted data): increasing deltas up to lastOffsetDelta.
  const auto gaps = raw_batch(concat({good_record(1), good_record(3)}), 2, 3);
  auto n = count_records(gaps, {.allow_offset_gaps = true});
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 2);
  expect_record_error(raw_batch(concat({good_record(2), good_record(2)}), 2, 3),
                      errc::invalid_record, "offset delta 2 outside (2, 3]",
                      {.allow_offset_gaps = true});
  expect_record_error(raw_batch(concat({good_record(3), good_record(1)}), 2, 3),
                      errc::invalid_record, "offset delta 1 outside (3, 3]",
                      {.allow_offset_gaps = true});
  expect_record_error(raw_batch(concat({good_record(0), good_record(4)}), 2, 3),
                      errc::invalid_record, "offset delta 4 outside (0, 3]",
                      {.allow_offset_gaps = true});
}

// ---------------------------------------------------------------- compressed records

std::vector<std::byte> build(const batch_builder& b) {
  auto out = b.build();
  EXPECT_TRUE(out) << (out ? "" : out.error().message());
  return out ? std::move(out).value() : std::vector<std::byte>{};
}

// Rewrites a compressed batch with its compressed stream cut to `keep` bytes
// (header length and CRC fixed), so the codec sees a truncated stream.
std::vector<std::byte> cut_stream(const std::vector<std::byte>& batch, size_t keep) {
  std::vector<std::byte> out(batch.begin(),
                             batch.begin() + static_cast<std::ptrdiff_t>(k_records_pos + keep));
  store_be32(out.data() + k_batch_length_pos, static_cast<uint32_t>(out.size() - k_log_overhead));
  store_be32(out.data() + k_crc_pos,
             crc32c(std::span<const std::byte>(out).subspan(k_crc_range_pos)));
  return out;
}

TEST(CompressedRecords, TruncatedStreamsAreCorruptForEveryCodec) {
  for (compression codec :
       {compression::gzip, compression::snappy, compression::lz4, compression::zstd}) {
    SCOPED_TRACE(std::string(to_string(codec)));
    batch_builder b({.codec = codec});
    std::string value(3000, 'x');
    for (int i = 0; i < 3000; ++i)
      value[static_cast<size_t>(i)] = static_cast<char>('a' + (i * 7 + i / 13) % 26);
    for (int i = 0; i < 20; ++i)
      b.add({.key = as_bytes("key"), .value = as_bytes(value), .timestamp_ms = i});
    const auto batch = build(b);
    const size_t stream = batch.size() - k_records_pos;
    for (size_t keep : {stream - 1, stream / 2, size_t{5}, size_t{1}}) {
      auto n = count_records(cut_stream(batch, keep));
      ASSERT_FALSE(n) << "kept " << keep << " of " << stream;
      EXPECT_TRUE(n.error().is(errc::corrupt_message))
          << "kept " << keep << ": " << n.error().message();
      EXPECT_NE(n.error().detail().find(
                    fmt::format("records of a {}-compressed batch", to_string(codec))),
                std::string::npos)
          << n.error().detail();
    }
  }
}

TEST(CompressedRecords, CorruptGzipStreamIsCorrupt) {
  batch_builder b({.codec = compression::gzip});
  for (int i = 0; i < 50; ++i) b.add({.value = as_bytes("hello hello hello"), .timestamp_ms = i});
  auto batch = build(b);
  // Flip a byte in the deflate data (after the 10-byte gzip header); gzip's
  // CRC-32 trailer or the deflate decoder itself must notice.
  batch[k_records_pos + 12] ^= std::byte{0x55};
  store_be32(batch.data() + k_crc_pos,
             crc32c(std::span<const std::byte>(batch).subspan(k_crc_range_pos)));
  auto n = count_records(batch);
  ASSERT_FALSE(n);
  EXPECT_TRUE(n.error().is(errc::corrupt_message)) << n.error().message();
}

TEST(CompressedRecords, DecompressionStopsAtTheCap) {
  for (compression codec :
       {compression::gzip, compression::snappy, compression::lz4, compression::zstd}) {
    SCOPED_TRACE(std::string(to_string(codec)));
    // 8 MiB of zeros compresses to a few KiB: a small zip bomb.
    const std::string zeros(size_t{8} << 20, '\0');
    batch_builder b({.codec = codec});
    b.add({.value = as_bytes(zeros)});
    const size_t decompressed = b.uncompressed_records_bytes();
    const auto batch = build(b);
    EXPECT_LT(batch.size(), size_t{1} << 20) << "compressed batch should be small";

    auto capped = count_records(batch, {.max_decompressed_bytes = size_t{1} << 20});
    ASSERT_FALSE(capped);
    EXPECT_TRUE(capped.error().is(errc::message_too_large)) << capped.error().message();

    auto exact = count_records(batch, {.max_decompressed_bytes = decompressed});
    EXPECT_TRUE(exact) << "a cap equal to the decompressed size must pass: "
                       << exact.error().message();
    auto one_less = count_records(batch, {.max_decompressed_bytes = decompressed - 1});
    ASSERT_FALSE(one_less);
    EXPECT_TRUE(one_less.error().is(errc::message_too_large)) << one_less.error().message();
  }
}

TEST(CompressedRecords, RecordsLiveInTheScratchBufferAndScratchIsReused) {
  batch_builder b({.codec = compression::lz4});
  b.add({.key = as_bytes("a"), .value = as_bytes("payload")});
  const auto batch = build(b);
  auto view = record_batch_view::parse(batch);
  ASSERT_TRUE(view);
  std::vector<std::byte> scratch = bytes({1, 2, 3});
  auto it = record_iterator::open(*view, scratch);
  ASSERT_TRUE(it) << it.error().message();
  EXPECT_EQ(it->records_bytes().data(), scratch.data())
      << "records decompressed into scratch, cleared first";
  EXPECT_EQ(scratch.size(), b.uncompressed_records_bytes());
  auto rec = it->next();
  ASSERT_TRUE(rec && rec->has_value());
  const auto* key = (*rec)->key()->data();
  EXPECT_TRUE(key >= scratch.data() && key < scratch.data() + scratch.size());
}

TEST(UncompressedRecords, ReadInPlaceWithoutTouchingScratch) {
  const auto batch = raw_batch(good_record(0), 1, 0);
  auto view = record_batch_view::parse(batch);
  ASSERT_TRUE(view);
  std::vector<std::byte> scratch = bytes({9});
  auto it = record_iterator::open(*view, scratch);
  ASSERT_TRUE(it);
  EXPECT_EQ(it->records_bytes().data(), batch.data() + k_records_pos);
  EXPECT_EQ(scratch, bytes({9}));
  auto rec = it->next();
  ASSERT_TRUE(rec && rec->has_value());
  EXPECT_EQ((*rec)->bytes().data(), batch.data() + k_records_pos);
  EXPECT_EQ((*rec)->bytes().size(), 10u);
  EXPECT_EQ((*rec)->offset(), 100);
  EXPECT_EQ((*rec)->timestamp(), 1000);
}

TEST(UncompressedRecords, ParsingAndIteratingAllocateNothing) {
  batch_builder b({});
  const record_header headers[] = {{.key = "a", .value = as_bytes("1")},
                                   {.key = "b", .value = std::nullopt}};
  for (int i = 0; i < 1000; ++i)
    b.add({.key = as_bytes("key"), .value = as_bytes("value"), .headers = headers});
  const auto batch = build(b);
  std::vector<std::byte> scratch;

  const long probe = g_allocations.load();
  ::operator delete(::operator new(16));  // an explicit call, which the compiler may not elide
  ASSERT_EQ(g_allocations.load(), probe + 1) << "the allocation counter is not wired in";

  const long before = g_allocations.load();
  int records = 0;
  size_t header_bytes = 0;
  {
    auto view = record_batch_view::parse(batch);
    ASSERT_TRUE(view);
    auto it = record_iterator::open(*view, scratch);
    ASSERT_TRUE(it);
    for (;;) {
      auto rec = it->next();
      ASSERT_TRUE(rec);
      if (!*rec) break;
      ++records;
      for (const record_header& h : (*rec)->headers()) header_bytes += h.key.size();
    }
    ASSERT_TRUE(validate_records(*view, scratch));
  }
  EXPECT_EQ(g_allocations.load() - before, 0) << "parse/iterate of an uncompressed batch allocated";
  EXPECT_EQ(records, 1000);
  EXPECT_EQ(header_bytes, 2000u);
}

// ---------------------------------------------------------------- property

// Seeded: RINGLOG_SEED=<n> replays a failure.
TEST(RecordsProperty, RandomCorruptionNeverCrashesAndIsReported) {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("RINGLOG_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::cout << "RINGLOG_SEED=" << seed << "\n";
  std::mt19937_64 rng(seed);

  std::vector<std::vector<std::byte>> bases;
  for (compression codec : {compression::none, compression::gzip, compression::snappy,
                            compression::lz4, compression::zstd}) {
    batch_builder b({.codec = codec});
    const record_header h{.key = "hk", .value = as_bytes("hv")};
    for (int i = 0; i < 8; ++i) {
      b.add({.key = i % 2 ? as_bytes("key") : nullable_bytes{},
             .value = as_bytes("value value"),
             .headers = {&h, static_cast<size_t>(i % 2)},
             .timestamp_ms = i});
    }
    bases.push_back(build(b));
  }
  std::vector<std::byte> scratch;
  for (int round = 0; round < 3000; ++round) {
    auto batch = bases[rng() % bases.size()];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      const size_t pos = k_records_pos + rng() % (batch.size() - k_records_pos);
      batch[pos] = static_cast<std::byte>(rng());
    }
    // Valid CRC, so the corruption reaches the record decoder.
    store_be32(batch.data() + k_crc_pos,
               crc32c(std::span<const std::byte>(batch).subspan(k_crc_range_pos)));
    auto view = record_batch_view::parse(batch);
    ASSERT_TRUE(view) << "seed " << seed << " round " << round << ": " << view.error().message();
    auto st = validate_records(*view, scratch, {.max_decompressed_bytes = 1 << 20});
    if (!st) {
      EXPECT_TRUE(st.error().is(errc::invalid_record) || st.error().is(errc::corrupt_message) ||
                  st.error().is(errc::message_too_large))
          << st.error().message();
      EXPECT_FALSE(st.error().detail().empty());
    }
  }
}

}  // namespace
}  // namespace ringlog::record
