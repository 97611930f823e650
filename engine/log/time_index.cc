#include "engine/log/time_index.h"

#include <fmt/core.h>

#include <array>
#include <limits>

#include "base/bytes.h"
#include "engine/log/errc.h"

namespace ringlog::storage {
namespace {

constexpr size_t k_warm_entries = index_warm_bytes / time_index::entry_bytes;

int64_t timestamp_at(const std::byte* data, size_t i) noexcept {
  return static_cast<int64_t>(load_be64(data + i * time_index::entry_bytes));
}
// Signed int32 as Kafka reads it, widened so sums and comparisons cannot
// overflow.
int64_t relative_at(const std::byte* data, size_t i) noexcept {
  return static_cast<int32_t>(load_be32(data + i * time_index::entry_bytes + 8));
}

}  // namespace

result<time_index> time_index::open(std::string path, int64_t base_offset, size_t max_bytes,
                                    index_access access) {
  RINGLOG_ASSERT(base_offset >= 0 && base_offset <= std::numeric_limits<int64_t>::max() -
                                                        std::numeric_limits<int32_t>::max(),
                 "{}: base offset {} out of range", path, base_offset);
  auto file = index_file::open(std::move(path), entry_bytes, max_bytes, access);
  if (!file) return std::move(file).error();
  return time_index(std::move(*file), base_offset);
}

time_index::append_result time_index::maybe_append(int64_t timestamp, int64_t offset) noexcept {
  return append_checked(timestamp, offset, false);
}

time_index::append_result time_index::append_final(int64_t timestamp, int64_t offset) noexcept {
  return append_checked(timestamp, offset, true);
}

time_index::append_result time_index::append_checked(int64_t timestamp, int64_t offset,
                                                     bool use_reserved) noexcept {
  RINGLOG_ASSERT(
      offset >= _base_offset && offset - _base_offset <= std::numeric_limits<int32_t>::max(),
      "{}: offset {} is not within int32 of base offset {}", path(), offset, _base_offset);
  const timestamp_offset last = last_entry();
  RINGLOG_ASSERT(offset >= last.offset, "{}: offset {} appended after offset {} in slot {}", path(),
                 offset, last.offset, entries());
  if (timestamp <= last.timestamp) return append_result::not_newer;
  if (use_reserved ? entries() >= max_entries() : is_full()) return append_result::full;
  std::array<std::byte, entry_bytes> buf;
  store_be64(buf.data(), static_cast<uint64_t>(timestamp));
  store_be32(buf.data() + 8, static_cast<uint32_t>(offset - _base_offset));
  const bool added = _file.append(buf);
  RINGLOG_ASSERT(added, "{}: append to a free slot failed", path());
  return append_result::appended;
}

timestamp_offset time_index::lookup(int64_t target_timestamp) const noexcept {
  const size_t n = entries();
  if (n == 0) return {no_timestamp, _base_offset};
  RINGLOG_ASSERT(is_open(), "{}: lookup on a closed index", path());
  const std::byte* data = _file.data();
  const size_t count = index_partition_point(
      n, k_warm_entries, [=](size_t i) { return timestamp_at(data, i) <= target_timestamp; });
  if (count == 0) return {no_timestamp, _base_offset};
  return entry(count - 1);
}

void time_index::truncate_to(int64_t offset) noexcept {
  const size_t n = entries();
  if (n == 0) return;
  RINGLOG_ASSERT(is_open(), "{}: truncate on a closed index", path());
  size_t keep = 0;
  if (offset > _base_offset) {
    const std::byte* data = _file.data();
    const int64_t relative = offset - _base_offset;
    // Relative offsets never decrease, so "< relative" holds on a prefix.
    keep = index_partition_point(n, k_warm_entries,
                                 [=](size_t i) { return relative_at(data, i) < relative; });
  }
  _file.truncate_entries(keep);
}

std::optional<size_t> time_index::sanity_check() const noexcept {
  const size_t n = entries();
  if (n == 0) return std::nullopt;
  RINGLOG_ASSERT(is_open(), "{}: sanity_check on a closed index", path());
  const std::byte* data = _file.data();
  // Starting at (NO_TIMESTAMP, 0) makes entry 0 need a timestamp >= 0 and a
  // relative offset >= 0, the same rule maybe_append follows.
  int64_t prev_timestamp = no_timestamp;
  int64_t prev_relative = 0;
  for (size_t i = 0; i < n; ++i) {
    const int64_t timestamp = timestamp_at(data, i);
    const int64_t relative = relative_at(data, i);
    if (timestamp <= prev_timestamp || relative < prev_relative) return i;
    prev_timestamp = timestamp;
    prev_relative = relative;
  }
  return std::nullopt;
}

status time_index::verify() const {
  const auto bad = sanity_check();
  if (!bad) return ok();
  const std::byte* data = _file.data();
  const size_t i = *bad;
  std::string detail = fmt::format("{}: entry {} of {} (timestamp {}, relative offset {})", path(),
                                   i, entries(), timestamp_at(data, i), relative_at(data, i));
  if (i > 0) {
    detail += fmt::format(" does not follow entry {} (timestamp {}, relative offset {})", i - 1,
                          timestamp_at(data, i - 1), relative_at(data, i - 1));
  } else {
    detail += " has a negative field";
  }
  return make_error(errc::corrupt_index, "verify_index", std::move(detail));
}

timestamp_offset time_index::entry(size_t i) const noexcept {
  RINGLOG_ASSERT(i < entries(), "{}: entry {} of {}", path(), i, entries());
  const std::byte* p = _file.slot(i);
  return {static_cast<int64_t>(load_be64(p)),
          _base_offset + static_cast<int32_t>(load_be32(p + 8))};
}

timestamp_offset time_index::last_entry() const noexcept {
  const size_t n = entries();
  if (n == 0) return {no_timestamp, _base_offset};
  return entry(n - 1);
}

}  // namespace ringlog::storage
