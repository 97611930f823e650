// time_index: a segment's .timeindex file, byte for byte Kafka's TimeIndex
// (docs/formats/time_index.md). Each entry says "the largest timestamp seen so
// far in this segment is T, first reached in the batch ending at offset O".
// ListOffsets by timestamp and time-based retention start from it.
//
// Layout: 12-byte entries, big-endian, no header, no checksum:
//   int64 timestamp         ms since the epoch
//   int32 relative_offset   O - base_offset
// Invariant: timestamps strictly increase and are >= 0 (an entry is added only
// when the max timestamp grows past the previous entry's, starting from -1,
// Kafka's NO_TIMESTAMP); relative offsets are >= 0 and never decrease.
//
// Thread safety: none; owned by the shard that owns the partition. Lookups
// read the mapping with no syscall; open/trim/truncate/flush make synchronous
// syscalls (see index_file.h for why that is acceptable).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "base/result.h"
#include "engine/log/index_file.h"

namespace ringlog::storage {

// Kafka's TimestampOffset.
struct timestamp_offset {
  int64_t timestamp;
  int64_t offset;
  friend bool operator==(const timestamp_offset&, const timestamp_offset&) = default;
};

class time_index {
 public:
  static constexpr size_t entry_bytes = 12;
  // Kafka's RecordBatch.NO_TIMESTAMP: the timestamp of "no entry".
  static constexpr int64_t no_timestamp = -1;
  // Kafka's log.index.size.max.bytes default (10 MiB): 873,813 entries, a
  // 10,485,756-byte file.
  static constexpr size_t default_max_bytes = 10 * 1024 * 1024;

  enum class append_result {
    appended,
    // timestamp <= the last entry's (or < 0 on an empty index): nothing to
    // record, as Kafka does.
    not_newer,
    // No free slot (for maybe_append: none but the reserved last one).
    full,
  };

  // Opens or creates `path` (see index_file::open for sizes and the entry
  // count of a crashed, untrimmed file). A size that is not a multiple of 12
  // is errc::corrupt_index.
  static result<time_index> open(std::string path, int64_t base_offset, size_t max_bytes,
                                 index_access access);

  // Adds (timestamp, offset) if timestamp > last_entry().timestamp. Callers
  // pass the segment's max timestamp so far and the last offset of the batch
  // that first reached it. Preconditions (asserted): writable and open; offset
  // >= the last entry's offset and within int32 of base_offset. Leaves the
  // last slot free for append_final, as Kafka does, so the entry written when
  // the segment stops being active always fits.
  [[nodiscard]] append_result maybe_append(int64_t timestamp, int64_t offset) noexcept;
  // maybe_append that may use the reserved last slot: for the final entry on
  // roll or close (Kafka's maybeAppend with skipFullCheck).
  [[nodiscard]] append_result append_final(int64_t timestamp, int64_t offset) noexcept;

  // The entry with the largest timestamp <= target_timestamp, or
  // {no_timestamp, base_offset} when there is none (Kafka's TimeIndex.lookup).
  //
  // What ListOffsets needs is the first offset whose timestamp >= target. The
  // answer is never before the batch containing the returned offset: every
  // batch before it has a max timestamp below the entry's, hence below the
  // target. So the caller finds that batch's position through the offset
  // index (lookup(entry.offset)), scans forward batch by batch to the first
  // whose max timestamp >= target, and returns the first record in it with
  // timestamp >= target (Kafka's LogSegment.findOffsetByTimestamp).
  // Searches the last 8 KiB of entries first. Must be open.
  timestamp_offset lookup(int64_t target_timestamp) const noexcept;

  // Drops every entry with offset >= `offset` (log truncation); their slots
  // are zeroed. Must be writable and open.
  void truncate_to(int64_t offset) noexcept;

  status trim() { return _file.trim(); }
  status flush() { return _file.flush(); }
  // index_file.h: appendable (entries in memory) or sealed (file mapped).
  bool appendable() const noexcept { return _file.appendable(); }
  status make_appendable(size_t max_bytes) { return _file.make_appendable(max_bytes); }
  status persist() { return _file.persist(); }
  void close() noexcept { _file.close(); }
  status reopen() { return _file.reopen(); }
  bool is_open() const noexcept { return _file.is_open(); }

  // The index of the first entry that breaks the invariant (negative
  // timestamp or relative offset at entry 0, a timestamp not greater or a
  // relative offset smaller than its predecessor's), or nullopt when sound.
  std::optional<size_t> sanity_check() const noexcept;
  // sanity_check as an error (errc::corrupt_index) naming file, entry, values.
  status verify() const;

  int64_t base_offset() const noexcept { return _base_offset; }
  size_t entries() const noexcept { return _file.entries(); }
  size_t max_entries() const noexcept { return _file.max_entries(); }
  // Kafka's rule: full when only the reserved slot is left (or none).
  bool is_full() const noexcept { return entries() + 1 >= max_entries(); }
  size_t size_bytes() const noexcept { return entries() * entry_bytes; }
  const std::string& path() const noexcept { return _file.path(); }
  // The file was renamed (the cleaner's swap); the descriptor and mapping stay.
  void set_path(std::string path) { _file.set_path(std::move(path)); }
  result<int> open_for_sync() const { return _file.open_for_sync(); }
  // Entry i < entries(), decoded. Must be open.
  timestamp_offset entry(size_t i) const noexcept;
  // The last entry, or {no_timestamp, base_offset} when empty.
  timestamp_offset last_entry() const noexcept;

 private:
  time_index(index_file file, int64_t base_offset) noexcept
      : _file(std::move(file)), _base_offset(base_offset) {}

  append_result append_checked(int64_t timestamp, int64_t offset, bool use_reserved) noexcept;

  index_file _file;
  int64_t _base_offset;
};

}  // namespace ringlog::storage
