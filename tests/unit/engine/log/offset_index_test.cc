// offset_index: Kafka's .index layout on disk, lookups (warm tail and cold
// part), full detection, crash reopen of a preallocated file, trim,
// truncation, sanity checks and bad files.
#include "engine/log/offset_index.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

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

void PrintTo(const index_entry& e, std::ostream* os) {
  *os << "{offset " << e.offset << ", position " << e.position << "}";
}

namespace {

using testing::bytes;
using testing::read_raw;
using testing::scratch_dir;
using testing::write_raw;

constexpr size_t k_small_max_bytes = 64 * 1024;  // 8192 entries: beyond the 1024-entry warm tail

size_t file_size(const std::string& path) { return std::filesystem::file_size(path); }

offset_index open_rw(const std::string& path, int64_t base, size_t max_bytes = k_small_max_bytes) {
  auto idx = offset_index::open(path, base, max_bytes, index_access::read_write);
  EXPECT_TRUE(idx) << idx.error().message();
  return std::move(*idx);
}

offset_index open_ro(const std::string& path, int64_t base) {
  auto idx = offset_index::open(path, base, 0, index_access::read_only);
  EXPECT_TRUE(idx) << idx.error().message();
  return std::move(*idx);
}

// The reference answer: the largest entry with offset <= target, by a plain
// binary search over what was appended.
index_entry model_lookup(const std::vector<index_entry>& model, int64_t base, int64_t target) {
  auto it = std::upper_bound(model.begin(), model.end(), target,
                             [](int64_t t, const index_entry& e) { return t < e.offset; });
  if (it == model.begin()) return {base, 0};
  return *std::prev(it);
}

// Entry i of the standard fixture: offsets base+10i+5, positions 4096i+100.
index_entry fixture_entry(int64_t base, size_t i) {
  return {base + 10 * static_cast<int64_t>(i) + 5, static_cast<uint32_t>(4096 * i + 100)};
}

TEST(OffsetIndex, NewIndexIsEmptyWithRoomForWholeEntriesAndTheFileUntouched) {
  scratch_dir dir;
  const std::string path = dir.file("00000000000000001000.index");
  offset_index idx = open_rw(path, 1000, 1001);
  EXPECT_EQ(file_size(path), 0u) << "entries stay in memory until the index is persisted";
  EXPECT_TRUE(idx.appendable());
  EXPECT_EQ(idx.entries(), 0u);
  EXPECT_EQ(idx.max_entries(), 125u) << "1001 bytes rounded down to 125 entries";
  EXPECT_FALSE(idx.is_full());
  EXPECT_EQ(idx.lookup(5000), (index_entry{1000, 0}));
  EXPECT_EQ(idx.last_entry(), (index_entry{1000, 0}));
  EXPECT_EQ(idx.sanity_check(), std::nullopt);
}

TEST(OffsetIndex, LookupFindsLargestEntryAtOrBeforeTarget) {
  scratch_dir dir;
  const int64_t base = 1000;
  offset_index idx = open_rw(dir.file("a.index"), base);
  const size_t n = 3000;
  for (size_t i = 0; i < n; ++i) {
    const index_entry e = fixture_entry(base, i);
    ASSERT_TRUE(idx.append(e.offset, e.position)) << "entry " << i;
  }
  ASSERT_EQ(idx.entries(), n);
  // Before the first entry, and before the base offset: start of the segment.
  EXPECT_EQ(idx.lookup(base + 4), (index_entry{base, 0}));
  EXPECT_EQ(idx.lookup(base), (index_entry{base, 0}));
  EXPECT_EQ(idx.lookup(0), (index_entry{base, 0}));
  // Exact hits and targets between entries, in the cold part and in the warm tail.
  for (size_t i : {size_t{0}, size_t{1}, size_t{977}, size_t{1975}, size_t{1976}, n - 2, n - 1}) {
    const index_entry e = fixture_entry(base, i);
    EXPECT_EQ(idx.lookup(e.offset), e) << "exact hit on entry " << i;
    EXPECT_EQ(idx.lookup(e.offset + 9), e) << "between entry " << i << " and the next";
  }
  // After the last entry, even far past int32 of the base.
  EXPECT_EQ(idx.lookup(base + 1'000'000'000'000), fixture_entry(base, n - 1));
  EXPECT_EQ(idx.lookup(std::numeric_limits<int64_t>::max()), fixture_entry(base, n - 1));
  EXPECT_EQ(idx.last_entry(), fixture_entry(base, n - 1));
  EXPECT_EQ(idx.entry(17), fixture_entry(base, 17));
  EXPECT_EQ(idx.size_bytes(), n * 8);
}

TEST(OffsetIndex, LookupAgreesWithPlainBinarySearchOnRandomTargets) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("RINGLOG_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  scratch_dir dir;
  const int64_t base = static_cast<int64_t>(rng() % 1'000'000'000);
  offset_index idx = open_rw(dir.file("r.index"), base);
  // Several sizes: below, at and well above the warm tail's 1024 entries.
  std::vector<index_entry> model;
  int64_t offset = base + static_cast<int64_t>(rng() % 3);
  uint32_t position = static_cast<uint32_t>(rng() % 2);
  for (size_t target_entries : {size_t{1}, size_t{700}, size_t{1024}, size_t{1025}, size_t{8192}}) {
    while (model.size() < target_entries) {
      ASSERT_TRUE(idx.append(offset, position));
      model.push_back({offset, position});
      offset += 1 + static_cast<int64_t>(rng() % 50);
      position += 1 + static_cast<uint32_t>(rng() % 20000);
    }
    const int64_t last = model.back().offset;
    for (int k = 0; k < 20'000; ++k) {
      // Half the targets near the tail (the warm path), half anywhere.
      const int64_t span = last - base + 20;
      const int64_t target =
          (k % 2 == 0) ? last + 10 -
                             static_cast<int64_t>(
                                 rng() % static_cast<uint64_t>(std::min<int64_t>(span, 6000)))
                       : base - 10 + static_cast<int64_t>(rng() % static_cast<uint64_t>(span));
      ASSERT_EQ(idx.lookup(target), model_lookup(model, base, target))
          << "target " << target << " with " << model.size() << " entries";
    }
  }
  EXPECT_TRUE(idx.is_full());
}

// The cold path guesses a slot from the page keys, assuming offsets grow
// about evenly; offsets that grow in bursts (runs of single steps, then a
// jump of 100,000) make the guess land far from the answer, which must not
// change the answer.
TEST(OffsetIndex, LookupIsExactWhenOffsetsGrowUnevenly) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("RINGLOG_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  scratch_dir dir;
  const int64_t base = 1000;
  offset_index idx = open_rw(dir.file("u.index"), base);
  std::vector<index_entry> model;
  int64_t offset = base;
  uint32_t position = 0;
  while (model.size() < 6000) {
    ASSERT_TRUE(idx.append(offset, position));
    model.push_back({offset, position});
    offset += rng() % 64 == 0 ? 100'000 : 1 + static_cast<int64_t>(rng() % 2);
    position += 4096;
  }
  const int64_t span = offset - base + 20;
  for (int k = 0; k < 50'000; ++k) {
    // Every entry's own offset, its neighbours, and random targets.
    const int64_t target = k % 3 == 0 ? model[rng() % model.size()].offset
                           : k % 3 == 1 ? model[rng() % model.size()].offset - 1
                                        : base - 10 + static_cast<int64_t>(rng() % static_cast<uint64_t>(span));
    ASSERT_EQ(idx.lookup(target), model_lookup(model, base, target)) << "target " << target;
  }
}

TEST(OffsetIndex, AppendReturnsFalseWhenFull) {
  scratch_dir dir;
  offset_index idx = open_rw(dir.file("f.index"), 0, 80);
  for (uint32_t i = 0; i < 10; ++i) ASSERT_TRUE(idx.append(i, i * 100));
  EXPECT_TRUE(idx.is_full());
  EXPECT_FALSE(idx.append(10, 1000));
  EXPECT_EQ(idx.entries(), 10u);
  EXPECT_EQ(idx.last_entry(), (index_entry{9, 900}));
}

TEST(OffsetIndex, PreallocatedFileCountsEntriesBeforeTrailingZeros) {
  // Older versions preallocated the file, and a crash left it so: entries,
  // then zeros. Every count from empty to full must come back, read-write
  // (active segment after a restart) and read-only (the dump tool).
  const size_t max_entries = 300;
  for (size_t n :
       {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{150}, size_t{299}, max_entries}) {
    SCOPED_TRACE("entries " + std::to_string(n));
    scratch_dir dir;
    const std::string path = dir.file("c.index");
    std::vector<std::byte> raw(max_entries * 8, std::byte{0});
    // Entry 0 is (0, 0) relative: the one all-zero entry that is legitimate.
    for (size_t i = 0; i < n; ++i) {
      store_be32(raw.data() + 8 * i, static_cast<uint32_t>(3 * i));
      store_be32(raw.data() + 8 * i + 4, static_cast<uint32_t>(1000 * i));
    }
    write_raw(path, raw);
    offset_index ro = open_ro(path, 500);
    offset_index rw = open_rw(path, 500, max_entries * 8);
    // An untrimmed index holding only (0, 0) reads as empty; both answer every
    // lookup with the segment start.
    const size_t expected = n == 1 ? 0 : n;
    EXPECT_EQ(ro.entries(), expected);
    EXPECT_EQ(rw.entries(), expected);
    if (n > 1) {
      EXPECT_EQ(ro.lookup(500 + 3 * (n - 1) + 1),
                (index_entry{500 + 3 * static_cast<int64_t>(n - 1),
                             static_cast<uint32_t>(1000 * (n - 1))}));
      EXPECT_EQ(rw.lookup(501), (index_entry{500, 0}));
    }
    EXPECT_EQ(ro.sanity_check(), std::nullopt);
    // Persisting cuts the file to its entries.
    ASSERT_TRUE(rw.persist());
    EXPECT_EQ(file_size(path), expected * 8);
  }
}

TEST(OffsetIndex, EntriesReachTheFileOnlyWhenPersisted) {
  scratch_dir dir;
  const std::string path = dir.file("k.index");
  {
    offset_index idx = open_rw(path, 0);
    for (uint32_t i = 1; i <= 40; ++i) ASSERT_TRUE(idx.append(i, i * 10));
  }  // dropped without persisting: a crash; recovery rebuilds from the .log
  EXPECT_EQ(file_size(path), 0u);
  {
    offset_index idx = open_rw(path, 0);
    for (uint32_t i = 1; i <= 40; ++i) ASSERT_TRUE(idx.append(i, i * 10));
    ASSERT_TRUE(idx.flush());
    EXPECT_EQ(file_size(path), 320u);
    EXPECT_TRUE(idx.appendable()) << "flush keeps the index active";
  }
  offset_index idx = open_rw(path, 0);
  ASSERT_EQ(idx.entries(), 40u);
  EXPECT_TRUE(idx.append(41, 410));
  EXPECT_EQ(idx.lookup(1000), (index_entry{41, 410}));
}

TEST(OffsetIndex, TrimSealsTheIndexIntoItsFile) {
  scratch_dir dir;
  const std::string path = dir.file("t.index");
  {
    offset_index idx = open_rw(path, 0);
    for (uint32_t i = 0; i < 100; ++i) ASSERT_TRUE(idx.append(2 * i + 1, 50 * i + 7));
    ASSERT_TRUE(idx.trim());
    EXPECT_EQ(file_size(path), 800u);
    EXPECT_FALSE(idx.appendable());
    EXPECT_TRUE(idx.is_full()) << "a trimmed index has no free slot";
    EXPECT_EQ(idx.lookup(100), (index_entry{99, 50 * 49 + 7}));
    ASSERT_TRUE(idx.trim()) << "a no-op on a sealed index";
    ASSERT_TRUE(idx.flush());
  }
  offset_index ro = open_ro(path, 0);
  EXPECT_EQ(ro.entries(), 100u);
  EXPECT_EQ(ro.max_entries(), 100u);
  EXPECT_EQ(ro.lookup(2), (index_entry{1, 7}));
  EXPECT_EQ(ro.sanity_check(), std::nullopt);
  // Sealed, then appendable again (the last segment after a clean restart).
  auto sealed = offset_index::open(path, 0, k_small_max_bytes, index_access::sealed);
  ASSERT_TRUE(sealed) << sealed.error().message();
  EXPECT_FALSE(sealed->appendable());
  EXPECT_EQ(sealed->entries(), 100u);
  ASSERT_TRUE(sealed->make_appendable(k_small_max_bytes));
  EXPECT_EQ(file_size(path), 800u) << "the file is not extended";
  EXPECT_EQ(sealed->entries(), 100u);
  EXPECT_EQ(sealed->max_entries(), k_small_max_bytes / 8);
  EXPECT_TRUE(sealed->append(500, 100'000));
  EXPECT_EQ(sealed->lookup(1000), (index_entry{500, 100'000}));
}

TEST(OffsetIndex, TrimOfEmptyIndexLeavesEmptyFile) {
  scratch_dir dir;
  const std::string path = dir.file("e.index");
  offset_index idx = open_rw(path, 0);
  ASSERT_TRUE(idx.trim());
  EXPECT_EQ(file_size(path), 0u);
  EXPECT_EQ(idx.entries(), 0u);
  EXPECT_EQ(idx.lookup(10), (index_entry{0, 0}));
  offset_index ro = open_ro(path, 0);
  EXPECT_EQ(ro.entries(), 0u);
  EXPECT_EQ(ro.lookup(10), (index_entry{0, 0}));
}

TEST(OffsetIndex, TruncateToDropsEntriesAtOrAfterOffset) {
  scratch_dir dir;
  const std::string path = dir.file("tr.index");
  const int64_t base = 100;
  offset_index idx = open_rw(path, base);
  auto fill = [&] {
    idx.truncate_to(base);
    for (size_t i = 0; i < 2000; ++i) {
      const index_entry e = fixture_entry(base, i);
      ASSERT_TRUE(idx.append(e.offset, e.position));
    }
  };
  fill();
  idx.truncate_to(fixture_entry(base, 2000).offset + 100);  // past the last: no change
  EXPECT_EQ(idx.entries(), 2000u);
  idx.truncate_to(fixture_entry(base, 1500).offset);  // exact hit: drops entry 1500 too
  EXPECT_EQ(idx.entries(), 1500u);
  EXPECT_EQ(idx.last_entry(), fixture_entry(base, 1499));
  idx.truncate_to(fixture_entry(base, 700).offset + 3);  // between: keeps entry 700
  EXPECT_EQ(idx.entries(), 701u);
  EXPECT_EQ(idx.lookup(1'000'000), fixture_entry(base, 700));
  // Appending resumes after the new last entry.
  EXPECT_TRUE(idx.append(fixture_entry(base, 701).offset, fixture_entry(base, 701).position));
  idx.truncate_to(base + 2);  // before the first entry: empty
  EXPECT_EQ(idx.entries(), 0u);
  EXPECT_EQ(idx.lookup(1'000'000), (index_entry{base, 0}));

  // Persisted after a truncation, the file holds exactly the entries kept.
  fill();
  ASSERT_TRUE(idx.persist());
  idx.truncate_to(fixture_entry(base, 42).offset);
  ASSERT_TRUE(idx.persist());
  EXPECT_EQ(file_size(path), 42u * 8);
  offset_index again = open_ro(path, base);
  EXPECT_EQ(again.entries(), 42u);
  EXPECT_EQ(again.lookup(1'000'000), fixture_entry(base, 41));
}

TEST(OffsetIndex, BytesOnDiskAreKafkaBigEndianLayout) {
  scratch_dir dir;
  const std::string path = dir.file("00000000000000000100.index");
  offset_index idx = open_rw(path, 100);
  ASSERT_TRUE(idx.append(100, 0));     // relative 0, position 0
  ASSERT_TRUE(idx.append(105, 4096));  // relative 5, position 0x1000
  ASSERT_TRUE(idx.append(100 + 0x01020304, 0x0A0B0C0D));
  ASSERT_TRUE(idx.trim());
  EXPECT_EQ(read_raw(path), bytes({0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
                                   0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x10, 0x00,  //
                                   0x01, 0x02, 0x03, 0x04, 0x0A, 0x0B, 0x0C, 0x0D}));
}

TEST(OffsetIndex, ReadsAFileWrittenByHand) {
  scratch_dir dir;
  const std::string path = dir.file("h.index");
  // One legitimate (0, 0) entry in a trimmed file is an entry.
  write_raw(path, bytes({0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(open_ro(path, 7).entries(), 1u);
  write_raw(path, bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 1, 0}));
  offset_index idx = open_ro(path, 7);
  EXPECT_EQ(idx.entries(), 2u);
  EXPECT_EQ(idx.lookup(15), (index_entry{7, 0}));
  EXPECT_EQ(idx.lookup(16), (index_entry{16, 256}));
}

TEST(OffsetIndex, SanityCheckFindsNonMonotonicEntries) {
  scratch_dir dir;
  const std::string path = dir.file("bad.index");
  struct raw {
    int32_t relative;
    int32_t position;
  };
  auto write_entries = [&](std::vector<raw> entries) {
    std::vector<std::byte> out(entries.size() * 8);
    for (size_t i = 0; i < entries.size(); ++i) {
      store_be32(out.data() + 8 * i, static_cast<uint32_t>(entries[i].relative));
      store_be32(out.data() + 8 * i + 4, static_cast<uint32_t>(entries[i].position));
    }
    write_raw(path, out);
  };
  write_entries({{0, 0}, {5, 100}, {4, 200}, {9, 300}});
  {
    offset_index idx = open_ro(path, 0);
    EXPECT_EQ(idx.sanity_check(), std::optional<size_t>(2)) << "offset 4 after 5";
    const status st = idx.verify();
    ASSERT_FALSE(st);
    EXPECT_TRUE(st.error().is(errc::corrupt_index));
    EXPECT_NE(st.error().message().find(path), std::string::npos) << st.error().message();
    EXPECT_NE(st.error().message().find("entry 2 of 4"), std::string::npos) << st.error().message();
  }
  write_entries({{1, 10}, {2, 10}});
  EXPECT_EQ(open_ro(path, 0).sanity_check(), std::optional<size_t>(1)) << "position repeated";
  write_entries({{1, 10}, {1, 20}});
  EXPECT_EQ(open_ro(path, 0).sanity_check(), std::optional<size_t>(1)) << "offset repeated";
  write_entries({{-1, 10}, {3, 20}});
  EXPECT_EQ(open_ro(path, 0).sanity_check(), std::optional<size_t>(0)) << "negative relative";
  write_entries({{1, -5}});
  EXPECT_EQ(open_ro(path, 0).sanity_check(), std::optional<size_t>(0)) << "negative position";
  write_entries({{1, 5}, {2, 6}, {3, 7}});
  offset_index good = open_ro(path, 0);
  EXPECT_EQ(good.sanity_check(), std::nullopt);
  EXPECT_TRUE(good.verify());
}

TEST(OffsetIndex, SizeNotAMultipleOfEightIsCorruptAndNamesTheFile) {
  scratch_dir dir;
  const std::string path = dir.file("torn.index");
  write_raw(path, std::vector<std::byte>(13, std::byte{1}));
  for (index_access access : {index_access::read_only, index_access::read_write}) {
    auto idx = offset_index::open(path, 0, k_small_max_bytes, access);
    ASSERT_FALSE(idx);
    EXPECT_TRUE(idx.error().is(errc::corrupt_index));
    const std::string msg = idx.error().message();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("size 13"), std::string::npos) << msg;
  }
  EXPECT_EQ(file_size(path), 13u) << "a torn file must not be extended";
}

TEST(OffsetIndex, MissingFileReadOnlyIsASystemError) {
  scratch_dir dir;
  auto idx = offset_index::open(dir.file("none.index"), 0, 0, index_access::read_only);
  ASSERT_FALSE(idx);
  EXPECT_EQ(idx.error().sys_errno(), ENOENT);
  EXPECT_NE(idx.error().message().find("none.index"), std::string::npos);
}

TEST(OffsetIndex, CloseFreesTheMappingAndReopenRestoresIt) {
  scratch_dir dir;
  const std::string path = dir.file("cold.index");
  offset_index idx = open_rw(path, 0);
  for (uint32_t i = 0; i < 50; ++i) ASSERT_TRUE(idx.append(i + 1, i + 1));
  ASSERT_TRUE(idx.trim());
  idx.close();
  idx.close();  // idempotent
  EXPECT_FALSE(idx.is_open());
  EXPECT_EQ(idx.entries(), 50u) << "the count survives closing";
  ASSERT_TRUE(idx.reopen());
  EXPECT_TRUE(idx.is_open());
  EXPECT_EQ(idx.lookup(25), (index_entry{25, 25}));
  ASSERT_TRUE(idx.reopen());  // no-op when open

  // A file that changed size while closed is not silently trusted.
  idx.close();
  std::filesystem::resize_file(path, 160);
  const status st = idx.reopen();
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().is(errc::corrupt_index));
  EXPECT_NE(st.error().message().find("size 160"), std::string::npos) << st.error().message();
  EXPECT_FALSE(idx.is_open());
}

TEST(OffsetIndex, MoveTransfersOwnership) {
  scratch_dir dir;
  offset_index a = open_rw(dir.file("m.index"), 10);
  ASSERT_TRUE(a.append(11, 1));
  offset_index b = std::move(a);
  EXPECT_EQ(b.lookup(20), (index_entry{11, 1}));
  offset_index c = open_rw(dir.file("n.index"), 0);
  c = std::move(b);
  EXPECT_EQ(c.lookup(20), (index_entry{11, 1}));
  EXPECT_TRUE(c.append(12, 2));
}

TEST(OffsetIndexDeathTest, AppendBreakingMonotonicityIsAProgrammerError) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  scratch_dir dir;
  offset_index idx = open_rw(dir.file("d.index"), 100);
  ASSERT_TRUE(idx.append(110, 500));
  EXPECT_DEATH((void)idx.append(110, 600), "entry \\(110, 600\\) appended after \\(110, 500\\)");
  EXPECT_DEATH((void)idx.append(111, 500), "appended after");
  EXPECT_DEATH((void)idx.append(99, 600), "not within int32 of base offset 100");
  EXPECT_DEATH((void)idx.append(100 + (int64_t{1} << 31), 600), "not within int32");
  offset_index ro = open_ro(dir.file("d.index"), 100);
  EXPECT_DEATH((void)ro.append(120, 700), "append to an index that is not appendable");
}

}  // namespace
}  // namespace ringlog::storage
