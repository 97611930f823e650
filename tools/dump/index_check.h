// ringlog-dump's index checks: an index on its own (open_offset_index,
// open_time_index) and an index against its log (the two observers, fed by
// walk_segment).
//
// On its own, an index is opened read-only through the engine (offset_index /
// time_index, which find the entry count of an untrimmed file), its entries
// are listed on request and each entry that does not follow its predecessor is
// reported (the rule of the engine's sanity_check, which is asserted to agree
// on the first such entry). The slots after the entries must be zeros: a
// preallocated, untrimmed index (an active segment, or a crash before the
// roll) is a note; non-zero bytes there are a problem, since the engine stops
// reading at the first zero slot and ignores them.
//
// Against the log (FORMATS.md §6):
//   offset index  each entry points exactly at the start of a batch and that
//                 batch holds the offset (Ringlog, like Kafka's recovery,
//                 indexes a batch's last offset at its start). An offset in a
//                 later batch before the next entry's position is only a note:
//                 Kafka indexes a multi-batch append (a follower's) that way,
//                 and lookups stay correct. Below the batch, past the end of
//                 the file, past the last readable batch, or mid-batch: a problem.
//   time index    each offset within the log, and each timestamp at most the
//                 largest max timestamp of the batches up to that offset.
// Problems name the index file, the entry and its byte in the index file.
//
// Thread safety: none. Lifetime: a check refers to its reporter; it copies the
// entries it needs (sorted by position or offset: 16-24 bytes per entry).
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "engine/log/offset_index.h"
#include "engine/log/time_index.h"
#include "tools/dump/file_reader.h"
#include "tools/dump/report.h"
#include "tools/dump/segment_walk.h"

namespace ringlog::dump {

// The largest base offset the engine's indexes accept (base + any int32
// relative offset must fit an int64); a name above it is a problem.
inline constexpr int64_t k_index_base_offset_max =
    std::numeric_limits<int64_t>::max() - std::numeric_limits<int32_t>::max();

// Opens the index in `file` (already open, for its size and the unused-area
// read) for a segment at base_offset <= k_index_base_offset_max, reports its
// own problems and, when `list`, each entry. nullopt: not usable (a size that
// is not whole entries, reported). Errors: I/O (open, mmap, read).
result<std::optional<storage::offset_index>> open_offset_index(const file_reader& file,
                                                               int64_t base_offset, reporter& rep,
                                                               bool list);
result<std::optional<storage::time_index>> open_time_index(const file_reader& file,
                                                           int64_t base_offset, reporter& rep,
                                                           bool list);

class offset_index_check final : public batch_observer {
 public:
  // `index` is read here and not kept; log_size is the .log's size.
  offset_index_check(const storage::offset_index& index, uint64_t log_size, reporter& rep);
  void on_batch(const batch_info& b, bool trusted) override;
  // After the walk: the entries it never reached.
  void finish(const walk_totals& totals);

 private:
  struct item {
    uint64_t position;
    int64_t offset;
    uint64_t entry;
  };
  // An entry whose offset is above the batch it points at, waiting for the
  // batches after it (a multi-batch append) or the next entry's position.
  struct pending {
    item e;
    int64_t batch_base;
    int64_t batch_last;
  };

  void fail(problem_kind kind, const item& e, std::string message);
  void fail_pending(std::string why);

  std::string _path;
  uint64_t _log_size;
  reporter& _rep;
  std::vector<item> _items;  // by position
  size_t _next = 0;
  std::optional<pending> _pending;
};

class time_index_check final : public batch_observer {
 public:
  time_index_check(const storage::time_index& index, uint64_t log_size, reporter& rep);
  void on_batch(const batch_info& b, bool trusted) override;
  void finish(const walk_totals& totals);

 private:
  struct item {
    int64_t offset;
    int64_t timestamp;
    uint64_t entry;
  };

  void check(const item& e);
  void fail(problem_kind kind, const item& e, std::string message);

  std::string _path;
  uint64_t _log_size;
  reporter& _rep;
  std::vector<item> _items;  // by offset
  size_t _next = 0;
  std::optional<int64_t> _first_base;
  std::optional<int64_t> _max_timestamp;  // over trusted batches walked so far
};

}  // namespace ringlog::dump
