#include "engine/log/offset_index.h"

#include <algorithm>

#include <fmt/core.h>

#include <array>
#include <limits>

#include "base/bytes.h"
#include "engine/log/errc.h"

namespace ringlog::storage {
namespace {

constexpr size_t k_warm_entries = index_warm_bytes / offset_index::entry_bytes;
// Entries per 4 KiB page: the granularity of the cold-lookup summary.
constexpr size_t k_page_entries = 4096 / offset_index::entry_bytes;

// Fields as Kafka reads them (signed int32); widened so comparisons and the
// base-offset sum cannot overflow.
int64_t relative_at(const std::byte* data, size_t i) noexcept {
  return static_cast<int32_t>(load_be32(data + i * offset_index::entry_bytes));
}
int64_t position_at(const std::byte* data, size_t i) noexcept {
  return static_cast<int32_t>(load_be32(data + i * offset_index::entry_bytes + 4));
}

}  // namespace

result<offset_index> offset_index::open(std::string path, int64_t base_offset, size_t max_bytes,
                                        index_access access) {
  // Offsets are non-negative, and base + any int32 relative offset must fit.
  RINGLOG_ASSERT(base_offset >= 0 && base_offset <= std::numeric_limits<int64_t>::max() -
                                                        std::numeric_limits<int32_t>::max(),
                 "{}: base offset {} out of range", path, base_offset);
  auto file = index_file::open(std::move(path), entry_bytes, max_bytes, access);
  if (!file) return std::move(file).error();
  offset_index idx(std::move(*file), base_offset);
  idx.rebuild_summary();
  return idx;
}

void offset_index::rebuild_summary() {
  _page_keys.clear();
  const size_t n = entries();
  if (n == 0 || !is_open()) return;
  const std::byte* data = _file.data();
  for (size_t i = 0; i < n; i += k_page_entries) {
    _page_keys.push_back(static_cast<uint32_t>(relative_at(data, i)));
  }
}

bool offset_index::append(int64_t offset, uint32_t position) noexcept {
  RINGLOG_ASSERT(
      offset >= _base_offset && offset - _base_offset <= std::numeric_limits<int32_t>::max(),
      "{}: offset {} is not within int32 of base offset {}", path(), offset, _base_offset);
  RINGLOG_ASSERT(position <= static_cast<uint32_t>(std::numeric_limits<int32_t>::max()),
                 "{}: position {} beyond int32", path(), position);
  if (entries() > 0) {
    const index_entry last = last_entry();
    RINGLOG_ASSERT(offset > last.offset && position > last.position,
                   "{}: entry ({}, {}) appended after ({}, {}) in slot {}", path(), offset,
                   position, last.offset, last.position, entries());
  }
  std::array<std::byte, entry_bytes> buf;
  store_be32(buf.data(), static_cast<uint32_t>(offset - _base_offset));
  store_be32(buf.data() + 4, position);
  const size_t slot = entries();
  if (!_file.append(buf)) return false;
  if (slot % k_page_entries == 0) _page_keys.push_back(static_cast<uint32_t>(offset - _base_offset));
  return true;
}

index_entry offset_index::lookup(int64_t target) const noexcept {
  const size_t n = entries();
  if (n == 0 || target < _base_offset) return {_base_offset, 0};
  RINGLOG_ASSERT(is_open(), "{}: lookup on a closed index", path());
  const std::byte* data = _file.data();
  const int64_t relative = target - _base_offset;
  auto at_or_below = [=](size_t i) { return relative_at(data, i) <= relative; };
  const size_t warm_start = n > k_warm_entries ? n - k_warm_entries : 0;
  size_t count;
  if (warm_start == 0 || at_or_below(warm_start) || _page_keys.empty()) {
    count = index_partition_point(n, k_warm_entries, at_or_below);
  } else {
    // Cold: the page whose first key is the last one <= target, then that page.
    const auto page_end = std::upper_bound(_page_keys.begin(), _page_keys.end(), relative);
    if (page_end == _page_keys.begin()) return {_base_offset, 0};
    const size_t page = static_cast<size_t>(page_end - _page_keys.begin() - 1);
    const size_t first = page * k_page_entries;
    size_t lo = first + 1;  // entry `first` is known to be <= target
    size_t hi = std::min(n, first + k_page_entries);
    if (page + 1 < _page_keys.size() && lo < hi) {
      // A full page with the next page's first key above the target: guess
      // the slot by interpolating between the two keys (entries are one per
      // log.index.interval.bytes, so offsets grow about evenly), then gallop
      // from the guess to bracket the answer. The guess's cache line is
      // usually the only one of the page touched; a binary search over the
      // page touched about nine (BENCHMARKS.md, random lookups).
      const int64_t k0 = _page_keys[page];
      const int64_t k1 = _page_keys[page + 1];
      const size_t guess = std::clamp(
          first + static_cast<size_t>((relative - k0) * static_cast<int64_t>(k_page_entries) /
                                      (k1 - k0)),
          lo, hi - 1);
      size_t step = 1;
      if (at_or_below(guess)) {
        lo = guess + 1;
        while (lo < hi) {
          const size_t probe = std::min(hi - 1, lo + step - 1);
          if (!at_or_below(probe)) {
            hi = probe;
            break;
          }
          lo = probe + 1;
          step *= 2;
        }
      } else {
        hi = guess;
        while (lo < hi) {
          const size_t probe = hi - std::min(step, hi - lo);
          if (at_or_below(probe)) {
            lo = probe + 1;
            break;
          }
          hi = probe;
          step *= 2;
        }
      }
    }
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (at_or_below(mid)) lo = mid + 1;
      else hi = mid;
    }
    count = lo;
  }
  if (count == 0) return {_base_offset, 0};
  return entry(count - 1);
}

void offset_index::truncate_to(int64_t offset) noexcept {
  const size_t n = entries();
  if (n == 0) return;
  RINGLOG_ASSERT(is_open(), "{}: truncate on a closed index", path());
  size_t keep = 0;
  if (offset > _base_offset) {
    const std::byte* data = _file.data();
    const int64_t relative = offset - _base_offset;
    keep = index_partition_point(n, k_warm_entries,
                                 [=](size_t i) { return relative_at(data, i) < relative; });
  }
  _file.truncate_entries(keep);
  _page_keys.resize((keep + k_page_entries - 1) / k_page_entries);
}

std::optional<size_t> offset_index::sanity_check() const noexcept {
  const size_t n = entries();
  if (n == 0) return std::nullopt;
  RINGLOG_ASSERT(is_open(), "{}: sanity_check on a closed index", path());
  const std::byte* data = _file.data();
  // Starting below zero makes entry 0 need non-negative fields.
  int64_t prev_relative = -1;
  int64_t prev_position = -1;
  for (size_t i = 0; i < n; ++i) {
    const int64_t relative = relative_at(data, i);
    const int64_t position = position_at(data, i);
    if (relative <= prev_relative || position <= prev_position) return i;
    prev_relative = relative;
    prev_position = position;
  }
  return std::nullopt;
}

status offset_index::verify() const {
  const auto bad = sanity_check();
  if (!bad) return ok();
  const std::byte* data = _file.data();
  const size_t i = *bad;
  std::string detail = fmt::format("{}: entry {} of {} (relative offset {}, position {})", path(),
                                   i, entries(), relative_at(data, i), position_at(data, i));
  if (i > 0) {
    detail += fmt::format(" does not follow entry {} (relative offset {}, position {})", i - 1,
                          relative_at(data, i - 1), position_at(data, i - 1));
  } else {
    detail += " has a negative field";
  }
  return make_error(errc::corrupt_index, "verify_index", std::move(detail));
}

index_entry offset_index::entry(size_t i) const noexcept {
  RINGLOG_ASSERT(i < entries(), "{}: entry {} of {}", path(), i, entries());
  const std::byte* p = _file.slot(i);
  // Widening a possibly negative relative offset keeps a corrupt file's
  // entries readable (sanity_check reports them); the sum cannot overflow
  // (base_offset range checked at open).
  return {_base_offset + static_cast<int32_t>(load_be32(p)), load_be32(p + 4)};
}

index_entry offset_index::last_entry() const noexcept {
  const size_t n = entries();
  if (n == 0) return {_base_offset, 0};
  return entry(n - 1);
}

}  // namespace ringlog::storage
