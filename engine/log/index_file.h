// index_file: the fixed-size entries under both Kafka segment indexes
// (.index, 8-byte entries; .timeindex, 12-byte entries). It owns the memory
// the entries live in and knows how many leading slots hold entries; what an
// entry means is the business of offset_index and time_index. It keeps no
// file descriptor open (a mapping holds its file; writes open the file by
// path): with three per segment, 10,000 partitions would not fit in a
// common RLIMIT_NOFILE.
//
// Two states:
//   appendable (the active segment's indexes): the entries live in anonymous
//     memory with room for max_bytes, and reach the file only when persisted
//     (trim on roll and clean close, persist, flush). Writing them through a
//     shared file mapping instead dirtied one index page per partition per
//     flush round, and on ext4 those pages (block allocation in a sparse file,
//     data=ordered) rode along with every fdatasync and syncfs: 1,000
//     partitions of 16 KiB appends ran at 14 MiB/s instead of 33 with
//     per-file fdatasync, 20 instead of 67 with syncfs (BENCHMARKS.md).
//     Nothing is lost by holding them back: after a crash, recovery re-reads
//     the active segment (it holds the recovery point or lies past it) and
//     rebuilds its indexes from the .log.
//   sealed (every other segment, and tools): the file is mapped read-only at
//     its size, so the page cache holds the entries and may evict them.
//     make_appendable() copies a sealed index into memory again (the last
//     segment at start-up, a truncation, a rebuild).
//
// Entry count of a file. Old files, and files left by a crash of an older
// Ringlog, may be longer than their entries (preallocated, then zeros). Both
// index kinds have strictly increasing keys, so an all-zero entry can only be
// the first one: the entries are the slots before the first all-zero slot at
// index >= 1, found by binary search. An all-zero slot 0 followed by zeros is
// read as "no entries": it may have been a real (0, 0) entry, but dropping it
// changes no lookup (an empty index answers the segment start, which is what
// that entry says). Persisting cuts the file to exactly its entries.
//
// Syscalls here (open, fstat, pread, pwrite, ftruncate, mmap) are synchronous
// and run on the calling shard: they happen on segment open, roll, truncation
// and close, never per append or per lookup.
//
// Thread safety: none; an index_file belongs to the shard that owns its
// partition. Lifetime: move-only; the destructor frees the memory without
// persisting (a caller that wants the entries on disk trims, persists or
// flushes first).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "base/assert.h"
#include "base/result.h"

namespace ringlog::storage {

// read_only: tools; the file must exist. sealed: a segment's index, created
// empty if missing, mapped at its size. read_write: appendable from the start.
enum class index_access { read_only, sealed, read_write };

class index_file {
 public:
  // Opens the index at `path` (sealed and read_write create it if missing).
  //   read_only, sealed: the file is mapped at its size; max_bytes is ignored.
  //   read_write: the entries are read into memory with room for max_bytes
  //     rounded down to whole entries (or the file's size if larger; at least
  //     one entry); the file is not changed.
  // A size that is not a whole number of entries is errc::corrupt_index,
  // naming the path and the size.
  static result<index_file> open(std::string path, size_t entry_bytes, size_t max_bytes,
                                 index_access access);

  index_file(index_file&& other) noexcept;
  index_file& operator=(index_file&& other) noexcept;
  index_file(const index_file&) = delete;
  index_file& operator=(const index_file&) = delete;
  ~index_file();

  const std::string& path() const noexcept { return _path; }
  // The file was renamed under its open descriptor; reopen() uses the new path.
  void set_path(std::string path) noexcept { _path = std::move(path); }
  size_t entry_bytes() const noexcept { return _entry_bytes; }
  index_access access() const noexcept { return _access; }
  size_t entries() const noexcept { return _entries; }
  // Slots, used or not: the capacity when appendable, the file's otherwise.
  size_t max_entries() const noexcept { return _file_bytes / _entry_bytes; }
  bool is_full() const noexcept { return _entries >= max_entries(); }
  size_t file_bytes() const noexcept { return _file_bytes; }
  // Whether the entries are in memory or mapped (see close/reopen).
  bool is_open() const noexcept { return _open; }
  // Whether append and truncate_entries may be used (entries in memory).
  bool appendable() const noexcept { return _access == index_access::read_write; }
  // A new read-only descriptor of the file (the caller closes it), for an
  // asynchronous fdatasync after trim or persist.
  result<int> open_for_sync() const;

  // The bytes of slot i < max_entries(); the index must be open.
  const std::byte* slot(size_t i) const noexcept {
    RINGLOG_ASSERT(_data != nullptr && i < max_entries(), "{}: slot {} of {} (open: {})", _path, i,
                   max_entries(), is_open());
    return _data + i * _entry_bytes;
  }
  // The mapping without bounds checks, for the lookup loops (entries() slots).
  const std::byte* data() const noexcept { return _data; }

  // Copies `entry` (entry_bytes long) into the next slot; false when full.
  // Appendable indexes only.
  bool append(std::span<const std::byte> entry) noexcept;
  // Keeps the first n <= entries() entries (appendable indexes only).
  void truncate_entries(size_t n) noexcept;

  // Sealed -> appendable: copies the entries into memory with room for
  // max_bytes (as open(read_write) sizes it). A no-op when appendable.
  status make_appendable(size_t max_bytes);
  // Writes the entries to the file and cuts it to exactly them (no fdatasync).
  // Appendable indexes only; they stay appendable.
  status persist();
  // Persists an appendable index and maps the file read-only: the index is
  // sealed and full afterwards (roll, clean close). An index with no entries
  // becomes an empty, unmapped file. A no-op on a sealed index.
  status trim();
  // Makes the entries durable: persist + fdatasync when appendable, nothing
  // to do when sealed (its file already has them; fdatasync fd() for that).
  status flush();

  // Sealed indexes: unmaps but remembers path, size and entries: a cold
  // segment's index costs no map until reopen().
  // Idempotent.
  void close() noexcept;
  // Maps the file again after close(); no entry scan. The file must still have
  // the size it had (errc::corrupt_index otherwise). A no-op when open.
  status reopen();

 private:
  index_file(std::string path, size_t entry_bytes, index_access access) noexcept
      : _path(std::move(path)), _entry_bytes(entry_bytes), _access(access) {}

  // Opens the file (creating it if `create`), checks its size, maps it
  // read-only and closes the descriptor. Leaves _entries alone.
  status map_file(bool create);
  // Replaces the memory of the entries with `cap_bytes` of anonymous memory
  // holding the first `copy_bytes` of `from` (nullptr: read them from the file).
  status load_anon(size_t cap_bytes, const std::byte* from, size_t copy_bytes);
  void unmap() noexcept;
  // Entries in freshly loaded memory, by the trailing-zeros rule above.
  size_t count_entries() const noexcept;

  std::string _path;
  size_t _entry_bytes;
  index_access _access;  // read_write: _data is anonymous memory (appendable)
  std::byte* _data = nullptr;  // nullptr when closed or when a sealed file is empty
  size_t _file_bytes = 0;      // bytes of _data: the capacity, or the file's size
  size_t _entries = 0;
  bool _open = false;
};

// Kafka's warm section (AbstractIndex.warmEntries): lookups first search the
// last 8 KiB of entries. Recent reads (consumers at the tail, followers,
// the produce path) land there, and it is two pages that stay resident; a full
// binary search over a 10 MiB index touches ~20 pages, and on a mapping whose
// cold pages were evicted each one is a blocking page fault on the shard.
inline constexpr size_t index_warm_bytes = 8192;

// The first slot in [lo, lo + len) for which pred fails (lo + len if none),
// where pred holds on a prefix. Branch-free (the compiler emits a conditional
// move): for ranges already in cache, mispredicted branches would cost more
// than the loads.
template <class Pred>
size_t index_partition_point_branchless(size_t lo, size_t len, Pred pred) noexcept {
  if (len == 0) return lo;
  while (len > 1) {
    const size_t half = len / 2;
    lo = pred(lo + half - 1) ? lo + half : lo;
    len -= half;
  }
  return pred(lo) ? lo + 1 : lo;
}

// The number of leading slots in [0, n) for which pred(i) holds, where pred
// holds on a prefix (std::partition_point over indexes). Searches the warm
// tail, slots [n - warm_entries, n), first and without branches; the cold
// part with an ordinary binary search, whose speculated loads hide some of
// the cache and TLB misses that dominate there.
template <class Pred>
size_t index_partition_point(size_t n, size_t warm_entries, Pred pred) noexcept {
  if (n <= warm_entries) return index_partition_point_branchless(0, n, pred);
  const size_t first_hot = n - warm_entries;
  if (pred(first_hot))
    return index_partition_point_branchless(first_hot + 1, warm_entries - 1, pred);
  size_t lo = 0;
  size_t hi = first_hot;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (pred(mid)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

}  // namespace ringlog::storage
