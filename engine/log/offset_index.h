// offset_index: a segment's .index file, byte for byte Kafka's OffsetIndex
// (docs/formats/offset_index.md). A sparse map from offsets to byte positions
// in the segment's .log: the segment adds an entry every
// log.index.interval.bytes of appended data, and a read finds the entry at or
// before its target offset and scans batches forward from its position.
//
// Layout: 8-byte entries, big-endian, no header, no checksum:
//   int32 relative_offset   offset - base_offset
//   int32 position          byte position of a batch in the .log
// Invariant: relative offsets and positions strictly increase, from entry 0.
//
// Thread safety: none; owned by the shard that owns the partition. Lookups
// read the mapping with no syscall; open/trim/truncate/flush make synchronous
// syscalls (see index_file.h for why that is acceptable).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "engine/log/index_file.h"

namespace ringlog::storage {

struct index_entry {
  int64_t offset;
  uint32_t position;
  friend bool operator==(const index_entry&, const index_entry&) = default;
};

class offset_index {
 public:
  static constexpr size_t entry_bytes = 8;
  // Kafka's log.index.size.max.bytes default (10 MiB): 1,310,720 entries.
  static constexpr size_t default_max_bytes = 10 * 1024 * 1024;

  // Opens or creates `path` (see index_file::open for sizes and the entry
  // count of a crashed, untrimmed file). base_offset is the segment's, from
  // its file name. A size that is not a multiple of 8 is errc::corrupt_index.
  static result<offset_index> open(std::string path, int64_t base_offset, size_t max_bytes,
                                   index_access access);

  // Adds (offset, position). Preconditions (asserted): writable and open;
  // offset and position greater than the last entry's; 0 <= offset -
  // base_offset <= INT32_MAX (the segment rolls before that); position <=
  // INT32_MAX. Returns false, adding nothing, when the index is full.
  [[nodiscard]] bool append(int64_t offset, uint32_t position) noexcept;

  // The entry with the largest offset <= target, or {base_offset, 0} when
  // there is none (start scanning at the segment's beginning). Searches the
  // last 8 KiB of entries first, then the rest; no syscall (a page fault only
  // if the kernel evicted a cold page). Must be open.
  index_entry lookup(int64_t target) const noexcept;

  // Drops every entry with offset >= `offset` (log truncation); their slots
  // are zeroed. Must be writable and open.
  void truncate_to(int64_t offset) noexcept;

  // Shrinks the file to its entries (segment roll or close); full afterwards.
  status trim() { return _file.trim(); }
  // Durable entries (clean shutdown); msync.
  status flush() { return _file.flush(); }
  // index_file.h: appendable (entries in memory) or sealed (file mapped).
  bool appendable() const noexcept { return _file.appendable(); }
  status make_appendable(size_t max_bytes) { return _file.make_appendable(max_bytes); }
  status persist() { return _file.persist(); }
  // Lazy closing of a cold segment: frees the map and the fd, keeps the
  // entry count; reopen() maps it again without rescanning.
  void close() noexcept { _file.close(); }
  status reopen() { return _file.reopen(); }
  bool is_open() const noexcept { return _file.is_open(); }

  // The index of the first entry that breaks the invariant (relative offset
  // or position negative as int32, or not greater than its predecessor's), or
  // nullopt when sound. Recovery rebuilds an index that fails; ringlog-dump
  // prints the entry. Must be open.
  std::optional<size_t> sanity_check() const noexcept;
  // sanity_check as an error (errc::corrupt_index) naming file, entry, values.
  status verify() const;

  int64_t base_offset() const noexcept { return _base_offset; }
  size_t entries() const noexcept { return _file.entries(); }
  size_t max_entries() const noexcept { return _file.max_entries(); }
  bool is_full() const noexcept { return _file.is_full(); }
  // Bytes of entries (Kafka's sizeInBytes), not of the preallocated file.
  size_t size_bytes() const noexcept { return entries() * entry_bytes; }
  const std::string& path() const noexcept { return _file.path(); }
  // The file was renamed (the cleaner's swap); the descriptor and mapping stay.
  void set_path(std::string path) { _file.set_path(std::move(path)); }
  result<int> open_for_sync() const { return _file.open_for_sync(); }
  // Entry i < entries(), decoded. Must be open.
  index_entry entry(size_t i) const noexcept;
  // The last entry, or {base_offset, 0} when empty (as Kafka's lastEntry).
  index_entry last_entry() const noexcept;

 private:
  offset_index(index_file file, int64_t base_offset) noexcept
      : _file(std::move(file)), _base_offset(base_offset) {}
  void rebuild_summary();

  index_file _file;
  int64_t _base_offset;
  // The relative offset of the first entry of each 4 KiB page of the index
  // (every 512th entry): a cold lookup searches this small array (a full
  // 10 MiB index needs 2,560 keys, 10 KiB, cache-resident) and then one
  // page, instead of binary-searching 1.3M entries across 2,560 pages with
  // a cache and TLB miss at nearly every step (~800 ns -> see BENCHMARKS.md).
  std::vector<uint32_t> _page_keys;
};

}  // namespace ringlog::storage
