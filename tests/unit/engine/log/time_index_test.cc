// time_index: Kafka's .timeindex layout on disk, the monotonic-timestamp rule,
// the reserved last slot, lookups (warm tail and cold part), crash reopen,
// trim, truncation, sanity checks and bad files.
#include "engine/log/time_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <ostream>
#include <random>
#include <vector>

#include "base/bytes.h"
#include "engine/log/errc.h"
#include "tests/unit/engine/log/index_test_util.h"

namespace ringlog::storage {

void PrintTo(const timestamp_offset& e, std::ostream* os) {
  *os << "{timestamp " << e.timestamp << ", offset " << e.offset << "}";
}

namespace {

using testing::bytes;
using testing::read_raw;
using testing::scratch_dir;
using testing::write_raw;
using append_result = time_index::append_result;

constexpr size_t k_small_max_bytes = 12 * 4000;  // beyond the 682-entry warm tail
constexpr int64_t k_no_ts = time_index::no_timestamp;

size_t file_size(const std::string& path) { return std::filesystem::file_size(path); }

time_index open_rw(const std::string& path, int64_t base, size_t max_bytes = k_small_max_bytes) {
  auto idx = time_index::open(path, base, max_bytes, index_access::read_write);
  EXPECT_TRUE(idx) << idx.error().message();
  return std::move(*idx);
}

time_index open_ro(const std::string& path, int64_t base) {
  auto idx = time_index::open(path, base, 0, index_access::read_only);
  EXPECT_TRUE(idx) << idx.error().message();
  return std::move(*idx);
}

timestamp_offset model_lookup(const std::vector<timestamp_offset>& model, int64_t base,
                              int64_t target) {
  auto it = std::upper_bound(model.begin(), model.end(), target,
                             [](int64_t t, const timestamp_offset& e) { return t < e.timestamp; });
  if (it == model.begin()) return {k_no_ts, base};
  return *std::prev(it);
}

TEST(TimeIndex, NewIndexIsEmptyWithRoomForWholeEntriesAndTheFileUntouched) {
  scratch_dir dir;
  const std::string path = dir.file("00000000000000000000.timeindex");
  time_index idx = open_rw(path, 0, time_index::default_max_bytes);
  EXPECT_EQ(file_size(path), 0u) << "entries stay in memory until the index is persisted";
  EXPECT_EQ(idx.max_entries(), 873'813u) << "10 MiB rounded down to whole entries";
  EXPECT_EQ(idx.entries(), 0u);
  EXPECT_EQ(idx.lookup(1'700'000'000'000), (timestamp_offset{k_no_ts, 0}));
  EXPECT_EQ(idx.last_entry(), (timestamp_offset{k_no_ts, 0}));
}

TEST(TimeIndex, MaybeAppendAddsOnlyGrowingTimestamps) {
  scratch_dir dir;
  time_index idx = open_rw(dir.file("m.timeindex"), 100);
  // An empty index's last timestamp is NO_TIMESTAMP (-1): v0 batches without
  // timestamps never create entries.
  EXPECT_EQ(idx.maybe_append(-1, 100), append_result::not_newer);
  EXPECT_EQ(idx.maybe_append(-7, 100), append_result::not_newer);
  EXPECT_EQ(idx.entries(), 0u);
  EXPECT_EQ(idx.maybe_append(0, 100), append_result::appended) << "timestamp 0 is a timestamp";
  EXPECT_EQ(idx.maybe_append(1000, 105), append_result::appended);
  EXPECT_EQ(idx.maybe_append(1000, 110), append_result::not_newer) << "equal timestamp";
  EXPECT_EQ(idx.maybe_append(999, 120), append_result::not_newer) << "older timestamp";
  EXPECT_EQ(idx.maybe_append(1001, 120), append_result::appended);
  // The same offset may carry a newer timestamp (Kafka's rule only forbids
  // smaller offsets).
  EXPECT_EQ(idx.maybe_append(1002, 120), append_result::appended);
  EXPECT_EQ(idx.entries(), 4u);
  EXPECT_EQ(idx.last_entry(), (timestamp_offset{1002, 120}));
  EXPECT_EQ(idx.entry(0), (timestamp_offset{0, 100}));
  EXPECT_EQ(idx.sanity_check(), std::nullopt);
}

TEST(TimeIndex, LookupFindsLargestTimestampAtOrBeforeTarget) {
  scratch_dir dir;
  const int64_t base = 5000;
  time_index idx = open_rw(dir.file("l.timeindex"), base);
  const int64_t t0 = 1'700'000'000'000;
  const size_t n = 2000;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(
        idx.maybe_append(t0 + 100 * static_cast<int64_t>(i), base + 7 * static_cast<int64_t>(i)),
        append_result::appended);
  }
  EXPECT_EQ(idx.lookup(t0 - 1), (timestamp_offset{k_no_ts, base})) << "before the first";
  EXPECT_EQ(idx.lookup(0), (timestamp_offset{k_no_ts, base}));
  for (size_t i : {size_t{0}, size_t{1}, size_t{600}, size_t{1317}, size_t{1318}, n - 1}) {
    const timestamp_offset e{t0 + 100 * static_cast<int64_t>(i),
                             base + 7 * static_cast<int64_t>(i)};
    EXPECT_EQ(idx.lookup(e.timestamp), e) << "exact hit on entry " << i;
    EXPECT_EQ(idx.lookup(e.timestamp + 99), e) << "between entry " << i << " and the next";
  }
  EXPECT_EQ(idx.lookup(std::numeric_limits<int64_t>::max()), idx.last_entry()) << "after the last";
}

TEST(TimeIndex, LookupAgreesWithPlainBinarySearchOnRandomTargets) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("RINGLOG_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  scratch_dir dir;
  const int64_t base = static_cast<int64_t>(rng() % 1'000'000);
  time_index idx = open_rw(dir.file("r.timeindex"), base);
  std::vector<timestamp_offset> model;
  int64_t ts = static_cast<int64_t>(rng() % 2'000'000'000'000);
  int64_t offset = base;
  for (size_t target_entries : {size_t{1}, size_t{500}, size_t{682}, size_t{683}, size_t{3999}}) {
    while (model.size() < target_entries) {
      ASSERT_EQ(idx.maybe_append(ts, offset), append_result::appended);
      model.push_back({ts, offset});
      ts += 1 + static_cast<int64_t>(rng() % 10'000);
      offset += static_cast<int64_t>(rng() % 4);  // offsets may repeat
    }
    const int64_t first = model.front().timestamp;
    const int64_t last = model.back().timestamp;
    const auto span = static_cast<uint64_t>(last - first + 200);
    for (int k = 0; k < 20'000; ++k) {
      const int64_t target =
          (k % 2 == 0)
              ? last + 100 - static_cast<int64_t>(rng() % std::min<uint64_t>(span, 5'000'000))
              : first - 100 + static_cast<int64_t>(rng() % span);
      ASSERT_EQ(idx.lookup(target), model_lookup(model, base, target))
          << "target " << target << " with " << model.size() << " entries";
    }
  }
  EXPECT_TRUE(idx.is_full()) << "3999 of 4000 slots: only the reserved slot is left";
}

TEST(TimeIndex, LastSlotIsReservedForTheFinalEntry) {
  scratch_dir dir;
  time_index idx = open_rw(dir.file("f.timeindex"), 0, 60);  // 5 slots
  for (int64_t i = 0; i < 4; ++i) ASSERT_EQ(idx.maybe_append(10 * i, i), append_result::appended);
  EXPECT_TRUE(idx.is_full());
  EXPECT_EQ(idx.maybe_append(100, 10), append_result::full);
  EXPECT_EQ(idx.entries(), 4u);
  EXPECT_EQ(idx.append_final(30, 10), append_result::not_newer) << "the max did not grow";
  EXPECT_EQ(idx.append_final(100, 10), append_result::appended);
  EXPECT_EQ(idx.entries(), 5u);
  EXPECT_EQ(idx.append_final(200, 11), append_result::full);
  EXPECT_EQ(idx.last_entry(), (timestamp_offset{100, 10}));
}

TEST(TimeIndex, PreallocatedFileCountsEntriesBeforeTrailingZeros) {
  const size_t max_entries = 100;
  for (size_t n :
       {size_t{0}, size_t{1}, size_t{2}, size_t{57}, size_t{98}, size_t{99}, max_entries}) {
    SCOPED_TRACE("entries " + std::to_string(n));
    scratch_dir dir;
    const std::string path = dir.file("c.timeindex");
    {
      time_index idx = open_rw(path, 40, max_entries * 12);
      // Entry 0 is (timestamp 0, relative 0): all zero bytes, yet legitimate.
      for (size_t i = 0; i < n; ++i) {
        const auto r =
            i + 1 == max_entries
                ? idx.append_final(static_cast<int64_t>(5 * i), 40 + static_cast<int64_t>(i))
                : idx.maybe_append(static_cast<int64_t>(5 * i), 40 + static_cast<int64_t>(i));
        ASSERT_EQ(r, append_result::appended);
      }
      // Written as older versions left a crashed index: the whole
      // preallocated file, entries then zeros.
      ASSERT_TRUE(idx.persist());
      std::filesystem::resize_file(path, max_entries * 12);
    }
    ASSERT_EQ(file_size(path), max_entries * 12);
    time_index ro = open_ro(path, 40);
    time_index rw = open_rw(path, 40, max_entries * 12);
    // An untrimmed index holding only the all-zero entry reads as empty; the
    // lookups it would answer differ only in the timestamp of "no entry".
    const size_t expected = n == 1 ? 0 : n;
    EXPECT_EQ(ro.entries(), expected);
    EXPECT_EQ(rw.entries(), expected);
    if (n > 1) {
      const timestamp_offset last{static_cast<int64_t>(5 * (n - 1)),
                                  40 + static_cast<int64_t>(n - 1)};
      EXPECT_EQ(ro.lookup(1'000'000), last);
      EXPECT_EQ(rw.last_entry(), last);
    }
    EXPECT_EQ(ro.sanity_check(), std::nullopt);
  }
}

TEST(TimeIndex, TrimShrinksFileToEntriesAndReopens) {
  scratch_dir dir;
  const std::string path = dir.file("t.timeindex");
  {
    time_index idx = open_rw(path, 0);
    for (int64_t i = 1; i <= 30; ++i)
      ASSERT_EQ(idx.maybe_append(i * 1000, i), append_result::appended);
    ASSERT_TRUE(idx.trim());
    EXPECT_EQ(file_size(path), 360u);
    ASSERT_TRUE(idx.flush());
  }
  time_index ro = open_ro(path, 0);
  EXPECT_EQ(ro.entries(), 30u);
  EXPECT_EQ(ro.lookup(15'500), (timestamp_offset{15'000, 15}));
  EXPECT_EQ(ro.sanity_check(), std::nullopt);
  ro.close();
  EXPECT_FALSE(ro.is_open());
  ASSERT_TRUE(ro.reopen());
  EXPECT_EQ(ro.lookup(29'999), (timestamp_offset{29'000, 29}));
}

TEST(TimeIndex, TruncateToDropsEntriesAtOrAfterOffset) {
  scratch_dir dir;
  const std::string path = dir.file("tr.timeindex");
  time_index idx = open_rw(path, 10);
  // Offsets 10, 12, 12, 14, 16, ... (entry 2 repeats entry 1's offset).
  ASSERT_EQ(idx.maybe_append(100, 10), append_result::appended);
  ASSERT_EQ(idx.maybe_append(200, 12), append_result::appended);
  ASSERT_EQ(idx.maybe_append(250, 12), append_result::appended);
  for (int64_t i = 3; i < 1500; ++i) {
    ASSERT_EQ(idx.maybe_append(100 * i, 10 + 2 * (i - 1)), append_result::appended);
  }
  idx.truncate_to(10 + 2 * 1499);  // past the last entry (offset 3006): no change
  EXPECT_EQ(idx.entries(), 1500u);
  idx.truncate_to(10 + 2 * 1000);  // exact: drops the entry at offset 2010 (entry 1001)
  EXPECT_EQ(idx.entries(), 1001u);
  EXPECT_EQ(idx.last_entry(), (timestamp_offset{100'000, 2008}));
  idx.truncate_to(13);  // between: keeps offsets 10, 12, 12
  EXPECT_EQ(idx.entries(), 3u);
  idx.truncate_to(12);  // both entries at offset 12 go
  EXPECT_EQ(idx.entries(), 1u);
  EXPECT_EQ(idx.lookup(1'000'000), (timestamp_offset{100, 10}));
  EXPECT_EQ(idx.maybe_append(150, 11), append_result::appended) << "appending resumes";
  idx.truncate_to(10);
  EXPECT_EQ(idx.entries(), 0u);

  // Persisted after a truncation, the file holds exactly the entries kept.
  for (int64_t i = 1; i < 50; ++i) ASSERT_EQ(idx.maybe_append(i, 10 + i), append_result::appended);
  ASSERT_TRUE(idx.persist());
  idx.truncate_to(30);
  EXPECT_EQ(idx.entries(), 19u);
  ASSERT_TRUE(idx.persist());
  EXPECT_EQ(open_ro(path, 10).entries(), 19u);
}

TEST(TimeIndex, BytesOnDiskAreKafkaBigEndianLayout) {
  scratch_dir dir;
  const std::string path = dir.file("00000000000000000100.timeindex");
  time_index idx = open_rw(path, 100);
  ASSERT_EQ(idx.maybe_append(0x0102030405060708, 100 + 0x0A0B0C0D), append_result::appended);
  ASSERT_EQ(idx.maybe_append(0x0102030405060709, 100 + 0x0A0B0C0E), append_result::appended);
  ASSERT_TRUE(idx.trim());
  EXPECT_EQ(read_raw(path), bytes({0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  //
                                   0x0A, 0x0B, 0x0C, 0x0D,                          //
                                   0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x09,  //
                                   0x0A, 0x0B, 0x0C, 0x0E}));
}

TEST(TimeIndex, SanityCheckFindsNonMonotonicEntries) {
  scratch_dir dir;
  const std::string path = dir.file("bad.timeindex");
  struct raw {
    int64_t timestamp;
    int32_t relative;
  };
  auto write_entries = [&](std::vector<raw> entries) {
    std::vector<std::byte> out(entries.size() * 12);
    for (size_t i = 0; i < entries.size(); ++i) {
      store_be64(out.data() + 12 * i, static_cast<uint64_t>(entries[i].timestamp));
      store_be32(out.data() + 12 * i + 8, static_cast<uint32_t>(entries[i].relative));
    }
    write_raw(path, out);
  };
  write_entries({{10, 0}, {20, 1}, {15, 2}, {30, 3}});
  {
    time_index idx = open_ro(path, 0);
    EXPECT_EQ(idx.sanity_check(), std::optional<size_t>(2)) << "timestamp 15 after 20";
    const status st = idx.verify();
    ASSERT_FALSE(st);
    EXPECT_TRUE(st.error().is(errc::corrupt_index));
    EXPECT_NE(st.error().message().find(path), std::string::npos) << st.error().message();
    EXPECT_NE(st.error().message().find("entry 2 of 4"), std::string::npos) << st.error().message();
  }
  write_entries({{10, 5}, {20, 4}});
  EXPECT_EQ(open_ro(path, 0).sanity_check(), std::optional<size_t>(1)) << "offset went back";
  write_entries({{10, 5}, {10, 6}});
  EXPECT_EQ(open_ro(path, 0).sanity_check(), std::optional<size_t>(1)) << "timestamp repeated";
  write_entries({{-5, 0}, {10, 6}});
  EXPECT_EQ(open_ro(path, 0).sanity_check(), std::optional<size_t>(0)) << "negative timestamp";
  write_entries({{5, -1}});
  EXPECT_EQ(open_ro(path, 0).sanity_check(), std::optional<size_t>(0)) << "negative relative";
  write_entries({{5, 0}, {6, 0}, {7, 3}});
  time_index good = open_ro(path, 0);
  EXPECT_EQ(good.sanity_check(), std::nullopt);
  EXPECT_TRUE(good.verify());
}

TEST(TimeIndex, SizeNotAMultipleOfTwelveIsCorruptAndNamesTheFile) {
  scratch_dir dir;
  const std::string path = dir.file("torn.timeindex");
  write_raw(path, std::vector<std::byte>(16, std::byte{1}));  // a valid .index size, not 12
  for (index_access access : {index_access::read_only, index_access::read_write}) {
    auto idx = time_index::open(path, 0, k_small_max_bytes, access);
    ASSERT_FALSE(idx);
    EXPECT_TRUE(idx.error().is(errc::corrupt_index));
    const std::string msg = idx.error().message();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("size 16"), std::string::npos) << msg;
    EXPECT_NE(msg.find("12-byte"), std::string::npos) << msg;
  }
  EXPECT_EQ(file_size(path), 16u);
}

TEST(TimeIndexDeathTest, AppendWithSmallerOffsetIsAProgrammerError) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  scratch_dir dir;
  time_index idx = open_rw(dir.file("d.timeindex"), 100);
  ASSERT_EQ(idx.maybe_append(10, 110), append_result::appended);
  EXPECT_DEATH((void)idx.maybe_append(20, 109), "offset 109 appended after offset 110");
  EXPECT_DEATH((void)idx.maybe_append(20, 99), "not within int32 of base offset 100");
}

}  // namespace
}  // namespace ringlog::storage
