#include "tools/dump/index_check.h"

#include <fmt/core.h>

#include <algorithm>
#include <limits>

#include "base/assert.h"
#include "engine/log/errc.h"

namespace ringlog::dump {
namespace {

// Read-ahead for the unused-area scan: the area can be most of a 10 MiB file.
constexpr size_t k_scan_chunk_bytes = size_t{1} << 20;

// The detail of an engine error without the "<path>: " it starts with (the
// reporter names the file already).
std::string without_path(const std::string& detail, const std::string& path) {
  const std::string prefix = path + ": ";
  if (detail.compare(0, prefix.size(), prefix) == 0) return detail.substr(prefix.size());
  return detail;
}

// The slots after the entries: zeros (note) or not (problem).
status check_unused_area(const file_reader& file, size_t entries, size_t entry_bytes,
                         reporter& rep) {
  const uint64_t used = uint64_t{entries} * entry_bytes;
  const uint64_t size = file.size();
  if (used >= size) return ok();
  read_window window(file, k_scan_chunk_bytes);
  for (uint64_t at = used; at < size;) {
    const auto n = static_cast<size_t>(std::min<uint64_t>(size - at, k_scan_chunk_bytes));
    auto chunk = window.get(at, n);
    if (!chunk) return std::move(chunk).error();
    for (size_t i = 0; i < n; ++i) {
      if ((*chunk)[i] == std::byte{0}) continue;
      const uint64_t q = at + i;
      rep.report({problem_kind::index_garbage,
                  file.path(),
                  q,
                  q / entry_bytes,
                  {},
                  fmt::format("slot {} (byte {}) is all zeros, so the index is read as {} "
                              "entries, but this slot after it is not zero: entries after the "
                              "first zero slot are ignored",
                              entries, used, entries)});
      return ok();
    }
    at += n;
  }
  rep.note(file.path(), used,
           fmt::format("{} unused slots (bytes {}..{}) are zeros: the index was preallocated and "
                       "not trimmed (written by a Ringlog before in-memory active indexes, or "
                       "by another tool); they are not entries",
                       (size - used) / entry_bytes, used, size));
  return ok();
}

// Opens an index of either kind; nullopt for a size that is not whole entries.
template <class Index>
result<std::optional<Index>> open_raw(const file_reader& file, int64_t base_offset, reporter& rep) {
  RINGLOG_ASSERT(base_offset >= 0 && base_offset <= k_index_base_offset_max,
                 "{}: base offset {} checked by the caller", file.path(), base_offset);
  auto index = Index::open(file.path(), base_offset, 0, storage::index_access::read_only);
  if (!index) {
    if (!index.error().is(storage::errc::corrupt_index)) return std::move(index).error();
    const uint64_t whole = file.size() / Index::entry_bytes * Index::entry_bytes;
    rep.report(
        {problem_kind::index_size,
         file.path(),
         whole,
         {},
         {},
         without_path(index.error().detail(), file.path()) +
             fmt::format(" ({} bytes after the last whole entry); not read", file.size() - whole)});
    return std::optional<Index>{};
  }
  return std::optional<Index>(std::move(*index));
}

}  // namespace

result<std::optional<storage::offset_index>> open_offset_index(const file_reader& file,
                                                               int64_t base_offset, reporter& rep,
                                                               bool list) {
  using storage::offset_index;
  auto opened = open_raw<offset_index>(file, base_offset, rep);
  if (!opened || !*opened) return opened;
  const offset_index& index = **opened;
  std::optional<size_t> first_bad;
  // The engine's rule (offset_index::sanity_check): relative offset and
  // position strictly increase as int32s, from (-1, -1).
  int64_t prev_relative = -1;
  int64_t prev_position = -1;
  for (size_t i = 0; i < index.entries(); ++i) {
    const storage::index_entry e = index.entry(i);
    if (list) rep.offset_entry(file.path(), i, e.offset, e.position);
    const int64_t relative = e.offset - base_offset;
    const int64_t position = static_cast<int32_t>(e.position);
    if (relative <= prev_relative || position <= prev_position) {
      if (!first_bad) first_bad = i;
      std::string why;
      if (i == 0) {
        why = relative < 0
                  ? fmt::format(
                        "offset {} is below the base offset {} (relative offset "
                        "{})",
                        e.offset, base_offset, relative)
                  : fmt::format("position {} is negative as an int32 ({})", e.position, position);
      } else {
        const storage::index_entry p = index.entry(i - 1);
        why = fmt::format(
            "offset {} at position {} does not follow entry {} (offset {} at "
            "position {}): offsets and positions must both increase",
            e.offset, e.position, i - 1, p.offset, p.position);
      }
      rep.report({problem_kind::index_order,
                  file.path(),
                  i * offset_index::entry_bytes,
                  i,
                  {},
                  std::move(why)});
    }
    prev_relative = relative;
    prev_position = position;
  }
  RINGLOG_ASSERT(first_bad == index.sanity_check(), "{}: first bad entry {} but sanity_check {}",
                 file.path(), first_bad.value_or(SIZE_MAX),
                 index.sanity_check().value_or(SIZE_MAX));
  if (auto st = check_unused_area(file, index.entries(), offset_index::entry_bytes, rep); !st) {
    return st.error();
  }
  return opened;
}

result<std::optional<storage::time_index>> open_time_index(const file_reader& file,
                                                           int64_t base_offset, reporter& rep,
                                                           bool list) {
  using storage::time_index;
  auto opened = open_raw<time_index>(file, base_offset, rep);
  if (!opened || !*opened) return opened;
  const time_index& index = **opened;
  std::optional<size_t> first_bad;
  // The engine's rule (time_index::sanity_check): timestamps strictly
  // increase from -1, relative offsets never decrease from 0.
  int64_t prev_timestamp = time_index::no_timestamp;
  int64_t prev_relative = 0;
  for (size_t i = 0; i < index.entries(); ++i) {
    const storage::timestamp_offset e = index.entry(i);
    if (list) rep.time_entry(file.path(), i, e.timestamp, e.offset);
    const int64_t relative = e.offset - base_offset;
    if (e.timestamp <= prev_timestamp || relative < prev_relative) {
      if (!first_bad) first_bad = i;
      std::string why;
      if (i == 0) {
        why = e.timestamp < 0 ? fmt::format("timestamp {} is negative", e.timestamp)
                              : fmt::format(
                                    "offset {} is below the base offset {} (relative "
                                    "offset {})",
                                    e.offset, base_offset, relative);
      } else {
        const storage::timestamp_offset p = index.entry(i - 1);
        why = fmt::format(
            "timestamp {} at offset {} does not follow entry {} (timestamp {} at "
            "offset {}): timestamps must increase and offsets must not decrease",
            e.timestamp, e.offset, i - 1, p.timestamp, p.offset);
      }
      rep.report({problem_kind::index_order,
                  file.path(),
                  i * time_index::entry_bytes,
                  i,
                  {},
                  std::move(why)});
    }
    prev_timestamp = e.timestamp;
    prev_relative = relative;
  }
  RINGLOG_ASSERT(first_bad == index.sanity_check(), "{}: first bad entry {} but sanity_check {}",
                 file.path(), first_bad.value_or(SIZE_MAX),
                 index.sanity_check().value_or(SIZE_MAX));
  if (auto st = check_unused_area(file, index.entries(), time_index::entry_bytes, rep); !st) {
    return st.error();
  }
  return opened;
}

// ------------------------------------------------------------ offset index

offset_index_check::offset_index_check(const storage::offset_index& index, uint64_t log_size,
                                       reporter& rep)
    : _path(index.path()), _log_size(log_size), _rep(rep) {
  _items.reserve(index.entries());
  for (size_t i = 0; i < index.entries(); ++i) {
    const storage::index_entry e = index.entry(i);
    _items.push_back({e.position, e.offset, i});
  }
  std::stable_sort(_items.begin(), _items.end(),
                   [](const item& a, const item& b) { return a.position < b.position; });
}

void offset_index_check::fail(problem_kind kind, const item& e, std::string message) {
  _rep.report({kind,
               _path,
               e.entry * storage::offset_index::entry_bytes,
               e.entry,
               {},
               fmt::format("offset {} at position {}: {}", e.offset, e.position, message)});
}

void offset_index_check::fail_pending(std::string why) {
  const pending p = *_pending;
  _pending.reset();
  fail(problem_kind::index_offset_mismatch, p.e,
       fmt::format("the batch there holds offsets {}..{}, not offset {}, {}", p.batch_base,
                   p.batch_last, p.e.offset, why));
}

void offset_index_check::on_batch(const batch_info& b, bool trusted) {
  if (_pending) {
    const bool next_entry_reached = _next < _items.size() && _items[_next].position <= b.position;
    if (next_entry_reached) {
      fail_pending(fmt::format("nor does any batch after it before the next entry's position {}",
                               _items[_next].position));
    } else if (trusted && b.base_offset <= _pending->e.offset &&
               _pending->e.offset <= b.last_offset()) {
      const pending p = *_pending;
      _pending.reset();
      _rep.note(_path, p.e.entry * storage::offset_index::entry_bytes,
                fmt::format("entry {}: offset {} at position {} lies in the batch at position {} "
                            "(offsets {}..{}), after the one at {} (offsets {}..{}): Kafka "
                            "indexes a multi-batch append this way, and lookups stay correct",
                            p.e.entry, p.e.offset, p.e.position, b.position, b.base_offset,
                            b.last_offset(), p.e.position, p.batch_base, p.batch_last));
    } else if (b.base_offset > _pending->e.offset) {
      fail_pending(fmt::format("nor does the next batch, at position {} (offsets from {})",
                               b.position, b.base_offset));
    }
  }
  const uint64_t end = b.position + b.size;
  while (_next < _items.size() && _items[_next].position < end) {
    const item e = _items[_next++];
    // Batches are walked contiguously from position 0, so an entry before
    // this batch was taken by an earlier one.
    RINGLOG_ASSERT(e.position >= b.position, "{}: entry {} at {} skipped before the batch at {}",
                   _path, e.entry, e.position, b.position);
    if (e.position != b.position) {
      fail(problem_kind::index_mid_batch, e,
           fmt::format("the position is inside the batch at position {} ({} bytes, offsets "
                       "{}..{}), not at its start",
                       b.position, b.size, b.base_offset, b.last_offset()));
      continue;
    }
    if (!trusted) continue;  // a batch start; its offsets are unreliable (CRC reported)
    if (e.offset < b.base_offset) {
      fail(problem_kind::index_offset_mismatch, e,
           fmt::format("the batch there holds offsets {}..{}: an entry below its base offset "
                       "makes lookups of offsets {}..{} start after them",
                       b.base_offset, b.last_offset(), e.offset, b.base_offset - 1));
    } else if (e.offset > b.last_offset()) {
      if (_pending) fail_pending("nor does any batch before the next entry");
      _pending = pending{e, b.base_offset, b.last_offset()};
    }
  }
}

void offset_index_check::finish(const walk_totals& totals) {
  if (_pending) {
    fail_pending(
        totals.last_offset
            ? fmt::format("and it is beyond the last offset of the log ({})", *totals.last_offset)
            : std::string("and the log holds no readable batch after it"));
  }
  for (; _next < _items.size(); ++_next) {
    const item& e = _items[_next];
    if (e.position >= _log_size) {
      fail(problem_kind::index_past_end, e,
           fmt::format("the position is at or past the end of the log (size {})", _log_size));
    } else {
      fail(problem_kind::index_unreadable_region, e,
           fmt::format("the position is past the last readable batch (the log cannot be read "
                       "from position {})",
                       totals.end));
    }
  }
}

// -------------------------------------------------------------- time index

time_index_check::time_index_check(const storage::time_index& index, uint64_t log_size,
                                   reporter& rep)
    : _path(index.path()), _log_size(log_size), _rep(rep) {
  _items.reserve(index.entries());
  for (size_t i = 0; i < index.entries(); ++i) {
    const storage::timestamp_offset e = index.entry(i);
    _items.push_back({e.offset, e.timestamp, i});
  }
  std::stable_sort(_items.begin(), _items.end(),
                   [](const item& a, const item& b) { return a.offset < b.offset; });
}

void time_index_check::fail(problem_kind kind, const item& e, std::string message) {
  _rep.report({kind,
               _path,
               e.entry * storage::time_index::entry_bytes,
               e.entry,
               {},
               fmt::format("timestamp {} at offset {}: {}", e.timestamp, e.offset, message)});
}

void time_index_check::check(const item& e) {
  if (!_max_timestamp) {
    fail(problem_kind::time_index_offset, e,
         _first_base ? fmt::format("the offset is before the first batch of the log (offset {})",
                                   *_first_base)
                     : std::string("the offset is before any readable batch of the log"));
  } else if (e.timestamp > *_max_timestamp) {
    fail(problem_kind::time_index_timestamp, e,
         fmt::format("the timestamp is above the largest batch max timestamp up to that offset "
                     "({})",
                     *_max_timestamp));
  }
}

void time_index_check::on_batch(const batch_info& b, bool trusted) {
  if (!_first_base) _first_base = b.base_offset;
  // Entries in a gap before this batch see only the batches before it.
  while (_next < _items.size() && _items[_next].offset < b.base_offset) check(_items[_next++]);
  if (!trusted) return;  // maxTimestamp and lastOffsetDelta are inside the bad CRC
  _max_timestamp =
      std::max(_max_timestamp.value_or(std::numeric_limits<int64_t>::min()), b.max_timestamp);
  while (_next < _items.size() && _items[_next].offset <= b.last_offset()) check(_items[_next++]);
}

void time_index_check::finish(const walk_totals& totals) {
  for (; _next < _items.size(); ++_next) {
    const item& e = _items[_next];
    if (!totals.last_offset) {
      fail(problem_kind::time_index_offset, e, "the log holds no readable batch");
    } else {
      fail(
          problem_kind::time_index_offset, e,
          fmt::format("the offset is beyond the last offset of the log ({}){}", *totals.last_offset,
                      totals.end < _log_size
                          ? fmt::format(", which cannot be read from position {}", totals.end)
                          : std::string()));
    }
  }
}

}  // namespace ringlog::dump
